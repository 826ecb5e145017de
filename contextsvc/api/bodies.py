"""Request bodies decoded with msgspec: a bad body is a 422 naming the field, like calls;
nesting past MAX_DEPTH and bytes that are not UTF-8 are named too, never a 500."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from litestar import Request

from contextsvc.errors import FieldError, ValidationFailed
from contextsvc.ingest import MAX_DEPTH, deeper_than, field_error_from_msgspec

T = TypeVar("T")


async def decode_body(request: Request, type_: type[T], what: str) -> T:
    raw = await request.body()
    too_deep = deeper_than(raw, MAX_DEPTH)
    if too_deep is not None:
        error = FieldError(too_deep, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
        raise ValidationFailed(f"the body is not a valid {what}", [error])
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.MsgspecError as exc:
        raise ValidationFailed(f"the body is not a valid {what}", [field_error_from_msgspec(exc)]) from None
    except UnicodeDecodeError as exc:
        error = FieldError("body", "invalid_utf8", f"not valid UTF-8 (byte {exc.start} of the body)")
        raise ValidationFailed(f"the body is not a valid {what}", [error]) from None
