"""Requests a minute per API key (CONTEXTSVC_KEY_RATE_LIMITS): "KEY=N" for one key,
"*=N" for every key not named, comma-separated; nothing set, no limit.

    agent-key=600,loader-key=12000,*=3000

Keys are named as CONTEXTSVC_API_KEYS names them; the buckets are keyed by the caller's
fingerprint, so no key is ever written to Redis.
"""

from __future__ import annotations

from collections.abc import Callable

from contextsvc.ratelimit.buckets import RateLimiter

ANY_KEY = "*"


def parse_key_rates(spec: str) -> dict[str, int]:
    """'k1=60, *=600' -> {'k1': 60, '*': 600}; ValueError says which entry is wrong."""
    rates: dict[str, int] = {}
    # Errors name the entry by position: the entry holds an API key, which a start-up error
    # must not print.
    for number, entry in enumerate(filter(None, (part.strip() for part in spec.split(","))), 1):
        key, sep, value = entry.rpartition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"CONTEXTSVC_KEY_RATE_LIMITS: entry {number} is not KEY=N or *=N")
        try:
            per_minute = int(value)
        except ValueError:
            per_minute = -1
        if per_minute < 0:
            raise ValueError(f"CONTEXTSVC_KEY_RATE_LIMITS: entry {number}: the limit must be a whole number ≥ 0")
        if key in rates:
            raise ValueError(f"CONTEXTSVC_KEY_RATE_LIMITS: entry {number} names a key already named")
        rates[key] = per_minute
    return rates


class KeyRates:
    """The limiter that applies to each key: one per distinct rate (its buckets hold
    every key with that rate, one bucket per key), built by `make(per_minute)`."""

    def __init__(self, rates: dict[str, int], make: Callable[[int], RateLimiter]) -> None:
        self._by_rate: dict[int, RateLimiter] = {}
        self._of_key = {key: self._limiter(rate, make) for key, rate in rates.items() if key != ANY_KEY}
        default = rates.get(ANY_KEY, 0)
        self._default = self._limiter(default, make)

    def _limiter(self, per_minute: int, make: Callable[[int], RateLimiter]) -> RateLimiter | None:
        if per_minute <= 0:
            return None
        if per_minute not in self._by_rate:
            self._by_rate[per_minute] = make(per_minute)
        return self._by_rate[per_minute]

    @property
    def active(self) -> bool:
        return bool(self._by_rate)

    def for_key(self, key: str) -> RateLimiter | None:
        """None: this key is not limited."""
        return self._of_key.get(key, self._default)
