"""How values are stored: timestamps as integer microseconds since the epoch (UTC), JSON
as text encoded by msgspec. Both bind as plain ints/strings on every backend, so bulk
inserts skip SQLAlchemy's per-value type processing, and time windows are integer ranges."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_encode_json = msgspec.json.Encoder().encode


def micros(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


def from_micros(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + timedelta(microseconds=value)


def json_text(value: object) -> str:
    return _encode_json(value).decode()


def from_json_text(value: str) -> object:
    return msgspec.json.decode(value)
