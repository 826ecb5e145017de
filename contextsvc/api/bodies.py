"""Request bodies decoded with msgspec: a bad body is a 422 naming the field, like calls."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from litestar import Request

from contextsvc.errors import ValidationFailed
from contextsvc.ingest import field_error_from_msgspec

T = TypeVar("T")


async def decode_body(request: Request, type_: type[T], what: str) -> T:
    try:
        return msgspec.json.decode(await request.body(), type=type_)
    except msgspec.MsgspecError as exc:
        raise ValidationFailed(f"the body is not a valid {what}", [field_error_from_msgspec(exc)]) from None
