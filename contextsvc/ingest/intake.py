"""Turn raw request bytes into work for the writer: a valid Call, or a quarantine record.

Nothing a client sends is dropped: whatever cannot be ingested becomes QuarantineWork with
its original bytes (cut to the per-item cap, the original size recorded), so it is
committed (and listable) exactly like a good call. Every way a body can be bad — not
JSON, nested too deep, not UTF-8, a value out of range — ends here as a rejection that
names the field, never as an exception: one bad item never sinks a batch.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import msgspec

from contextsvc.errors import FieldError, ValidationFailed
from contextsvc.ingest.events import CallEvent
from contextsvc.ingest.normalise import Normaliser
from contextsvc.ingest.rawjson import MAX_DEPTH, TooComplex, deeper_than, split_array, utf8_problem
from contextsvc.ingest.results import CallWork, QuarantineWork, Work

log = logging.getLogger(__name__)
MAX_BATCH_ITEMS = 5000
# A CallEvent at every field's limit is under 500 KB, even with every character escaped:
# a bigger item is refused unread, so a 32 MB body is never decoded into 32 MB of text.
MAX_ITEM_BYTES = 1024 * 1024
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<name>[^`]+)`")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class IntakeLimits(msgspec.Struct, frozen=True):
    """What a body may be. quarantine_item_bytes: how much of a rejected body is kept.
    future_skew_s: how far past the receiving clock started_at, ended_at and updated_at
    may lie (None: unbounded, for sources whose versions are their own clock)."""

    quarantine_item_bytes: int = 64 * 1024
    max_depth: int = MAX_DEPTH
    future_skew_s: float | None = 86_400.0


class BatchBody(msgspec.Struct, forbid_unknown_fields=True):
    calls: list[msgspec.Raw]


class Oversized(msgspec.Struct, frozen=True):
    """A batch item over MAX_ITEM_BYTES: its first bytes (as much as the quarantine keeps)
    and its size; the rest was never copied out of the request body."""

    head: bytes
    size: int


class _CallIdOnly(msgspec.Struct):
    call_id: object = None


def field_error_from_msgspec(exc: msgspec.MsgspecError, prefix: str = "") -> FieldError:
    """'Expected `int`, got `str` - at `$.who.phone`' -> FieldError('who.phone', ...)."""
    match = _AT_PATH.match(str(exc))
    assert match is not None  # the pattern matches any text
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
        call_id = msgspec.json.decode(raw, type=_CallIdOnly).call_id
    except (msgspec.MsgspecError, RecursionError, UnicodeError):
        return None
    return _CONTROL.sub("", call_id)[:255] if isinstance(call_id, str) else None


def rejection(
    channel: str,
    errors: list[FieldError],
    raw: bytes,
    limits: IntakeLimits,
    call_id: str | None = None,
    size: int | None = None,
) -> QuarantineWork:
    """The rejection of `raw`, keeping at most the per-item cap of its bytes."""
    kept = raw[: max(0, limits.quarantine_item_bytes)]
    return QuarantineWork(channel, errors[0].code, errors, kept, call_id, len(raw) if size is None else size)


def _too_large(size: int) -> FieldError:
    return FieldError("body", "too_large", f"{size} bytes; a call event is at most {MAX_ITEM_BYTES} bytes")


def decode_problem(raw: bytes, limits: IntakeLimits) -> FieldError | None:
    """What stops a body from being decoded at all, checked before a decoder sees it."""
    too_deep = deeper_than(raw, limits.max_depth)
    if too_deep is not None:
        return FieldError(too_deep, "too_deep", f"JSON nested deeper than {limits.max_depth} levels")
    return None


def _utf8_error(raw: bytes) -> FieldError:
    field, offset = utf8_problem(raw) or ("body", 0)
    return FieldError(field, "invalid_utf8", f"not valid UTF-8 (byte {offset} of the body)")


def prepare(
    raw: bytes | Oversized,
    normaliser: Normaliser,
    *,
    strict: bool,
    channel: str,
    limits: IntakeLimits = IntakeLimits(),
    now: datetime | None = None,
) -> Work:
    if isinstance(raw, Oversized):
        return rejection(channel, [_too_large(raw.size)], raw.head, limits, size=raw.size)
    if len(raw) > MAX_ITEM_BYTES:
        return rejection(channel, [_too_large(len(raw))], raw, limits)
    problem = decode_problem(raw, limits)
    if problem is not None:
        return rejection(channel, [problem], raw, limits)
    try:
        event = msgspec.json.decode(raw, type=CallEvent)
    except msgspec.MsgspecError as exc:
        return rejection(channel, [field_error_from_msgspec(exc)], raw, limits, _call_id_hint(raw))
    except UnicodeDecodeError:
        return rejection(channel, [_utf8_error(raw)], raw, limits, _call_id_hint(raw))
    not_after = None
    if limits.future_skew_s is not None:
        not_after = (now or datetime.now(UTC)) + timedelta(seconds=limits.future_skew_s)
    # Control characters can reach a decoded string only through an escape or a raw DEL.
    escapes = b"\\" in raw or b"\x7f" in raw
    try:
        return CallWork(normaliser.normalise(event, strict=strict, not_after=not_after, scan_characters=escapes))
    except ValidationFailed as exc:
        return rejection(channel, exc.fields, raw, limits, _CONTROL.sub("", event.call_id)[:255])
    except (ValueError, OverflowError, UnicodeError) as exc:  # a check the normaliser lacks: still the item's own
        log.warning("ingest: %s could not be normalised (%s: %s); quarantined", channel, type(exc).__name__, exc)
        error = FieldError("body", "invalid_value", f"{type(exc).__name__}: {exc}")
        return rejection(channel, [error], raw, limits, _CONTROL.sub("", event.call_id)[:255])


def _item(view, keep_bytes: int) -> bytes | Oversized:
    size = len(view)
    if size > MAX_ITEM_BYTES:
        return Oversized(bytes(memoryview(view)[:keep_bytes]), size)
    return bytes(view)


def split_batch(raw: bytes, keep_bytes: int = 64 * 1024) -> list[bytes | Oversized]:
    """The items of a batch body; ValidationFailed if the body as a whole is not a batch.

    Items are not decoded here, only told apart: an item nested too deep for the decoder
    is found by a scan instead (rawjson.split_array), so it is rejected on its own. An
    item over MAX_ITEM_BYTES is not copied, only its first keep_bytes."""
    try:
        items = [_item(item, keep_bytes) for item in msgspec.json.decode(raw, type=BatchBody).calls]
    except RecursionError:
        try:
            found = split_array(raw, "calls")
        except TooComplex:
            found = None
        if found is None:
            raise ValidationFailed(
                'the body must be {"calls": [CallEvent, ...]}',
                [FieldError("calls", "too_deep", f"JSON nested too deep to tell the items apart (most: {MAX_DEPTH})")],
            ) from None
        items = [_item(view, keep_bytes) for view in found]
    except msgspec.MsgspecError as exc:
        error = field_error_from_msgspec(exc)
        raise ValidationFailed('the body must be {"calls": [CallEvent, ...]}', [error]) from None
    if len(items) > MAX_BATCH_ITEMS:
        raise ValidationFailed(
            f"a batch holds at most {MAX_BATCH_ITEMS} calls",
            [FieldError("calls", "too_many_items", f"{len(items)} items; split the batch")],
            code="batch_too_large",
        )
    return items
