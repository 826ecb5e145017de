"""Turn raw request bytes into work for the writer: a valid Call, or a quarantine record.

Nothing a client sends is dropped: whatever cannot be ingested becomes QuarantineWork with
its original body, so it is committed (and listable) exactly like a good call.
"""

from __future__ import annotations

import re

import msgspec

from contextsvc.errors import FieldError, ValidationFailed
from contextsvc.ingest.events import CallEvent
from contextsvc.ingest.normalise import Normaliser
from contextsvc.ingest.results import CallWork, QuarantineWork, Work

MAX_BATCH_ITEMS = 5000
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<name>[^`]+)`")


class BatchBody(msgspec.Struct, forbid_unknown_fields=True):
    calls: list[msgspec.Raw]


def field_error_from_msgspec(exc: msgspec.MsgspecError, prefix: str = "") -> FieldError:
    """'Expected `int`, got `str` - at `$.who.phone`' -> FieldError('who.phone', ...)."""
    match = _AT_PATH.match(str(exc))
    message, path = match["message"], (match["path"] or "").lstrip(".")
    unknown = _UNKNOWN_FIELD.search(message)
    if unknown:
        path = ".".join(filter(None, [path, unknown["name"]]))
        code = "unknown_field"
    elif not isinstance(exc, msgspec.ValidationError):  # ValidationError subclasses DecodeError
        code = "malformed_json"
    elif "required field" in message:
        code = "missing_field"
        required = re.search(r"required field `([^`]+)`", message)
        path = ".".join(filter(None, [path, required[1] if required else ""]))
    else:
        code = "invalid_value"
    return FieldError(".".join(filter(None, [prefix, path])) or "body", code, message)


def _call_id_hint(raw: bytes) -> str | None:
    """Best effort: the call_id of a body that failed validation, for quarantine listings."""
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    call_id = data.get("call_id") if isinstance(data, dict) else None
    return call_id[:255] if isinstance(call_id, str) else None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def prepare(raw: bytes, normaliser: Normaliser, *, strict: bool, channel: str) -> Work:
    try:
        event = msgspec.json.decode(raw, type=CallEvent)
    except msgspec.MsgspecError as exc:
        error = field_error_from_msgspec(exc)
        return QuarantineWork(channel, error.code, [error], _text(raw), _call_id_hint(raw))
    try:
        return CallWork(normaliser.normalise(event, strict=strict))
    except ValidationFailed as exc:
        return QuarantineWork(channel, exc.fields[0].code, exc.fields, _text(raw), event.call_id)


def split_batch(raw: bytes) -> list[bytes]:
    """The items of a batch body; ValidationFailed if the body as a whole is unusable."""
    try:
        body = msgspec.json.decode(raw, type=BatchBody)
    except msgspec.MsgspecError as exc:
        error = field_error_from_msgspec(exc)
        raise ValidationFailed('the body must be {"calls": [CallEvent, ...]}', [error]) from None
    if len(body.calls) > MAX_BATCH_ITEMS:
        raise ValidationFailed(
            f"a batch holds at most {MAX_BATCH_ITEMS} calls",
            [FieldError("calls", "too_many_items", f"{len(body.calls)} items; split the batch")],
            code="batch_too_large",
        )
    return [bytes(item) for item in body.calls]
