"""Token buckets every worker shares, kept in Redis: the same arithmetic as TokenBuckets,
run atomically in one Lua script per request on Redis's own clock (workers' clocks need
not agree; TIME in a script needs Redis 5 or later), one small hash per bucket that
expires once it would be full again.

When Redis does not answer, each process counts in its own buckets of the same rate
(looser by the number of workers, never absent: the masked-lookup limit guards personal
data) and leaves Redis alone for `pause_s` before trying it again, so an outage costs
one timeout, not one per request.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import ConnectionError, RedisError, TimeoutError

from contextsvc.ratelimit.buckets import TokenBuckets

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

    def __init__(
        self,
        client: Redis,
        prefix: str,
        per_minute: int,
        *,
        pause_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.prefix = prefix
        self._take = client.register_script(_TAKE)
        self._local = TokenBuckets(per_minute, clock=clock)
        self._pause_s = pause_s
        self._clock = clock
        self._paused_until = -math.inf
        self.unavailable = 0  # requests counted locally because Redis did not answer

    async def acquire(self, bucket: str) -> float | None:
        if self.capacity <= 0:
            return None
        if self._clock() < self._paused_until:
            self.unavailable += 1
            return await self._local.acquire(bucket)
        try:
            wait = await self._take(keys=[f"{self.prefix}:{bucket}"], args=[self.capacity, self.rate])
        except (ConnectionError, TimeoutError, OSError) as exc:
            self._pause(logging.WARNING, f"Redis is unreachable ({type(exc).__name__})")
            return await self._local.acquire(bucket)
        except RedisError as exc:  # it answered, and refused: a misconfiguration to fix
            self._pause(logging.ERROR, f"Redis refused the rate-limit script ({type(exc).__name__}: {exc})")
            return await self._local.acquire(bucket)
        return float(wait) if wait else None

    def _pause(self, level: int, why: str) -> None:
        self.unavailable += 1
        self._paused_until = self._clock() + self._pause_s
        log.log(level, "%s: rate limits counted per process for the next %.0f s", why, self._pause_s)
