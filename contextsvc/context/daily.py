"""Calls and conversations per UTC day: the series a context's windows are sums of. Pure."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec

from contextsvc.profile import ProfileState

_DAY_ZERO = date(1970, 1, 1)


class DayCounts(msgspec.Struct):
    day: date  # UTC
    calls: int
    connects: int  # conversations: calls whose disposition says a human answered
    talk_seconds: int


def daily_counts(state: ProfileState, last_day: int, days: int) -> list[DayCounts]:
    """Every UTC day in (last_day − days, last_day], oldest first, zeros included: summed,
    they equal the context's window of the same length (`window()` in assemble.py)."""
    series = []
    for day in range(last_day - days + 1, last_day + 1):
        bucket = state.buckets.get(day)
        series.append(
            DayCounts(
                _DAY_ZERO + timedelta(days=day),
                bucket.calls if bucket else 0,
                bucket.connects if bucket else 0,
                bucket.talk_seconds if bucket else 0,
            )
        )
    return series
