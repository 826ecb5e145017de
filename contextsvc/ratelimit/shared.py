"""Token buckets every worker shares, kept in Redis: the same arithmetic as TokenBuckets,
run atomically in one Lua script per request on Redis's own clock (workers' clocks
need not agree), one small hash per bucket that expires once it would be full again.

When Redis cannot be reached the limiter lets requests through and logs it (at most every
`warn_every_s`): a rate limit that failed closed would turn a Redis outage into an outage
of the whole API, and what it protects (search and lookup budgets, per-key fairness)
tolerates a few seconds without it.
"""

from __future__ import annotations

import logging
import math
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# KEYS[1] the bucket; ARGV capacity, refill per second. Returns "" when allowed, else the
# seconds until one token is back, as a string (Lua numbers reach the client as integers).
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or capacity
local at = tonumber(held[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = tokens >= 1
if allowed then tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
if allowed then return '' end
return tostring((1 - tokens) / rate)
"""


class RedisTokenBuckets:
    """`per_minute` requests a minute per bucket, in bursts of up to as many, counted in
    Redis under `prefix`; 0 turns the limit off (no round trip)."""

    def __init__(self, client: Redis, prefix: str, per_minute: int, *, warn_every_s: float = 30.0) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.prefix = prefix
        self._take = client.register_script(_TAKE)
        self._warn_every_s = warn_every_s
        self._warned_at = -math.inf
        self.unavailable = 0  # requests let through because Redis did not answer

    async def acquire(self, bucket: str) -> float | None:
        if self.capacity <= 0:
            return None
        try:
            wait = await self._take(keys=[f"{self.prefix}:{bucket}"], args=[self.capacity, self.rate])
        except (RedisError, OSError) as exc:
            self.unavailable += 1
            now = time.monotonic()
            if now - self._warned_at >= self._warn_every_s:
                self._warned_at = now
                log.warning("rate limits not enforced: Redis is unreachable (%s)", type(exc).__name__)
            return None
        return float(wait) if wait else None
