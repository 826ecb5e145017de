"""Time as integers: UTC microseconds since the epoch, and UTC day numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_US = 86_400 * 1_000_000
_ONE_US = timedelta(microseconds=1)  # built once: micros() runs several times per call and read


def micros(value: datetime) -> int:
    return (value - EPOCH) // _ONE_US


@overload
def from_micros(value: int) -> datetime: ...
@overload
def from_micros(value: None) -> None: ...
@overload
def from_micros(value: int | None) -> datetime | None: ...
def from_micros(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + timedelta(microseconds=value)


def day_of(us: int) -> int:
    return us // DAY_US


def days_ago(days: int) -> str:
    return "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=4096)
def zone(name: str) -> ZoneInfo | None:
    """The IANA time zone of that name (exact spelling, e.g. America/Chicago), else None.
    Only names in the time-zone database count: not file paths, not "localtime"."""
    if name not in _zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # pragma: no cover - listed but unreadable
        return None


# Every datetime the service stores or computes with lies in this range (UTC): outside it
# a timezone conversion can leave the calendar (year 1 at +14:00) and nothing real happens.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def supported_utc(value: datetime) -> datetime | None:
    """The aware datetime in UTC, or None when it falls outside [EARLIEST, LATEST)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return None
    return utc if EARLIEST <= utc < LATEST else None
