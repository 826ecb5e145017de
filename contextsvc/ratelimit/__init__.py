"""Rate limits per caller: the interface, the in-process token buckets, the same buckets
shared by every worker through Redis, and the per-key request limits built on either."""

from contextsvc.ratelimit.buckets import RateLimiter, TokenBuckets
from contextsvc.ratelimit.keys import KeyRates, parse_key_rates
from contextsvc.ratelimit.shared import RedisTokenBuckets

__all__ = ["KeyRates", "RateLimiter", "RedisTokenBuckets", "TokenBuckets", "parse_key_rates"]
