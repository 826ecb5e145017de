"""/v1/dnc: do-not-call lists (admin). Numbers in any format, as a JSON list or a CSV
upload; loading is idempotent; every change commits before it is answered and applies
to the next context read."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from typing import Annotated

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, QueryParameter

from contextsvc.api.bodies import decode_body
from contextsvc.api.services import service_of
from contextsvc.errors import FieldError, NotFound, ValidationFailed
from contextsvc.identity import InvalidIdentifier
from contextsvc.reachability import DncParseError, list_summaries, parse_number, parse_numbers
from contextsvc.timeutil import day_of, micros

ListName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[\w .:@()/-]+$")]
_LIST_NAME = re.compile(r"^[\w .:@()/-]{1,100}$")
MAX_INVALID_SHOWN = 100


class DncLoad(msgspec.Struct, forbid_unknown_fields=True):
    """POST /v1/dnc as JSON."""

    list_name: ListName = msgspec.field(name="list")
    numbers: Annotated[list[str], msgspec.Meta(min_length=1, max_length=5_000_000)]
    source: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    expires_on: date | None = None  # from this UTC day on, the listing no longer applies


class DncLoaded(msgspec.Struct):
    list_name: str = msgspec.field(name="list")
    added: int  # newly listed
    already_listed: int  # were on the list: source and expiry set by this load
    invalid: int
    invalid_examples: list[DncParseError]
    numbers_on_list: int


class DncRemoved(msgspec.Struct):
    list_name: str = msgspec.field(name="list")
    removed: int


def _now() -> int:
    return micros(datetime.now(UTC))


def _csv_numbers(text: str) -> tuple[list[str], int]:
    """The first column of every row, and the line the first value is on. A first row
    whose first cell has no digit is a header."""
    rows = [row[0] if row else "" for row in csv.reader(io.StringIO(text))]
    first = 1
    if rows and not any(ch.isdigit() for ch in rows[0]):
        rows, first = rows[1:], 2
    return rows, first


def _bad(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, [FieldError(field, code, message)])


async def _parse_request(request: Request, name: str | None, source: str | None, expires_on: date | None):
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("text/csv", "text/plain", "application/csv"):
        if not name or not _LIST_NAME.fullmatch(name):
            raise _bad(
                "list", "invalid_value", "give the list's name as ?list=NAME (letters, digits, space, . : @ ( ) / - _)"
            )
        try:
            text = (await request.body()).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _bad("body", "invalid_encoding", "the CSV must be UTF-8") from None
        raw, first = _csv_numbers(text)
        return name, source, expires_on, raw, first
    body = await decode_body(request, DncLoad, "do-not-call list")
    return body.list_name, body.source, body.expires_on, body.numbers, 1


class DncController(Controller):
    path = "/v1/dnc"
    tags = ["do-not-call"]

    @post(
        "/",
        opt={"scope": "admin", "also_accepts": ("text/csv", "text/plain", "application/csv")},
        status_code=200,
        summary="Load numbers onto a do-not-call list (JSON list or CSV upload; idempotent)",
    )
    async def load(
        self,
        request: Request,
        list_name: Annotated[str | None, QueryParameter(name="list", description="the list (CSV uploads)")] = None,
        source: Annotated[str | None, QueryParameter(description="where the list came from (CSV uploads)")] = None,
        expires_on: Annotated[
            date | None, QueryParameter(description="first UTC day it no longer applies (CSV uploads)")
        ] = None,
    ) -> DncLoaded:
        service = service_of(request)
        name, source, expires_on, raw, first = await _parse_request(request, list_name, source, expires_on)
        keys, errors = parse_numbers(raw, service.settings.default_region, first)
        if not keys:
            raise ValidationFailed(
                "no phone numbers in the upload",
                [FieldError("numbers", "no_valid_numbers", "no value is a phone number")],
                details={"invalid": len(errors), "invalid_examples": msgspec.to_builtins(errors[:MAX_INVALID_SHOWN])},
            )
        reachability = service.branches.reachability
        added, existing, on_list = await reachability.list_numbers(name, source, expires_on, keys, _now())
        return DncLoaded(name, added, existing, len(errors), errors[:MAX_INVALID_SHOWN], on_list)

    @get("/", opt={"scope": "admin"}, summary="Do-not-call lists: numbers, sources, expiry")
    async def lists(self, request: Request) -> list[dict]:
        today = day_of(_now())
        async with service_of(request).engine.connect() as conn:
            return await conn.run_sync(list_summaries, today)

    @delete("/{list_name:str}", opt={"scope": "admin"}, status_code=200, summary="Remove a whole do-not-call list")
    async def remove_list(self, request: Request, list_name: FromPath[str]) -> DncRemoved:
        removed = await service_of(request).branches.reachability.unlist_numbers(list_name, None, _now())
        if not removed:
            raise NotFound(f"no do-not-call list named {list_name!r}", details={"list": list_name})
        return DncRemoved(list_name, removed)

    @delete(
        "/{list_name:str}/numbers/{number:str}",
        opt={"scope": "admin", "errors": (422,)},
        status_code=200,
        summary="Remove one number from a do-not-call list",
    )
    async def remove_number(self, request: Request, list_name: FromPath[str], number: FromPath[str]) -> DncRemoved:
        service = service_of(request)
        try:
            key = parse_number(number, service.settings.default_region)
        except InvalidIdentifier as exc:
            raise _bad("number", exc.code, exc.message) from None
        removed = await service.branches.reachability.unlist_numbers(list_name, [key], _now())
        if not removed:
            raise NotFound(
                f"{number} is not on the do-not-call list {list_name!r}", details={"list": list_name, "number": number}
            )
        return DncRemoved(list_name, removed)
