"""How values are stored: timestamps as integer microseconds since the epoch (UTC, see
timeutil.py), JSON as text encoded by msgspec. Both bind as plain ints/strings on every
backend, so bulk inserts skip SQLAlchemy's per-value type processing, and time windows
are integer ranges."""

from __future__ import annotations

import msgspec

_encode_json = msgspec.json.Encoder().encode


def json_text(value: object) -> str:
    return _encode_json(value).decode()


def from_json_text(value: str) -> object:
    return msgspec.json.decode(value)
