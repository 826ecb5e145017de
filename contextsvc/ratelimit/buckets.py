"""The rate-limiter interface, and the in-process token buckets behind it (one process:
nothing to share; several workers share theirs through Redis, ratelimit/shared.py)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class RateLimiter(Protocol):
    async def acquire(self, bucket: str) -> float | None:
        """Take one request from the bucket: None if allowed, else seconds until it would be."""
        ...


class TokenBuckets:
    """`per_minute` requests a minute per bucket, in bursts of up to as many; at most
    `max_buckets` buckets are remembered (the least recently used is forgotten, which can
    only let a forgotten caller start with a full bucket again). 0 turns the limit off."""

    def __init__(
        self, per_minute: int, *, max_buckets: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_buckets = max_buckets
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # bucket -> (tokens, at)

    async def acquire(self, bucket: str) -> float | None:
        if self.capacity <= 0:
            return None
        now = self.clock()
        tokens, at = self._buckets.pop(bucket, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[bucket] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / self.rate
