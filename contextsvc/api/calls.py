"""POST /v1/calls and /v1/calls/batch, GET /v1/quarantine."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter

from contextsvc.api.auth import api_key_of
from contextsvc.api.params import MAX_ID
from contextsvc.api.services import service_of
from contextsvc.api.serving import disclosure_of
from contextsvc.errors import Conflict, FieldError, ValidationFailed
from contextsvc.ingest import (
    MAX_BATCH_ITEMS,
    CallEvent,
    ItemResult,
    QuarantinePage,
    QuarantineWork,
    prepare,
    quarantined,
    rejection,
    split_batch,
)
from contextsvc.privacy import Disclosure

_PAUSE_EVERY = 128
_STATUS_CODE = {"accepted": 201, "updated": 200, "duplicate": 200, "stale": 200}


class BatchResult(msgspec.Struct):
    summary: dict[str, int]
    results: list[ItemResult]


class CallBatch(msgspec.Struct):
    """The batch body as documented; the handler reads the raw bytes (see below)."""

    calls: Annotated[list[CallEvent], msgspec.Meta(max_length=MAX_BATCH_ITEMS)]


# The ingest handlers read the raw body so that a rejected item is quarantined verbatim;
# Litestar documents a request body only for a `data` parameter, which it would validate
# before the handler runs. A dependency the handler never asks for carries the schema:
# Litestar documents it and never resolves it.
async def _documents_call_event(data: JSONBody[CallEvent]) -> None:  # pragma: no cover - never resolved
    raise AssertionError("documentation only")


async def _documents_call_batch(data: JSONBody[CallBatch]) -> None:  # pragma: no cover - never resolved
    raise AssertionError("documentation only")


def _trusted(request: Request) -> bool:
    """Admin keys are trusted sources: unknown dispositions and odd phones are kept and flagged."""
    return "admin" in api_key_of(request).scopes


class CallsController(Controller):
    path = "/v1"
    tags = ["calls"]

    @post(
        "/calls",
        opt={"scope": "calls:write", "errors": (409,)},
        status_code=201,
        summary="Ingest one call event",
        dependencies={"documented_body": Provide(_documents_call_event)},
        responses={
            200: ResponseSpec(
                ItemResult,
                description="updated, duplicate or stale: a version of the call was already stored",
                generate_examples=False,
            )
        },
    )
    async def ingest_one(self, request: Request) -> Response[ItemResult]:
        service = service_of(request)
        work = prepare(
            await request.body(),
            service.normaliser,
            strict=not _trusted(request),
            channel="POST /v1/calls",
            limits=service.intake,
        )
        [result] = await service.ingest([work])
        if result.status == "rejected":
            assert isinstance(work, QuarantineWork)
            raise ValidationFailed(
                "the call event is invalid; it was kept in quarantine",
                work.errors,
                details={"quarantine_id": result.quarantine_id, "call_id": result.call_id},
            )
        if result.status == "conflict":
            raise Conflict(
                result.message or "conflicting replay", code="conflicting_replay", details=msgspec.to_builtins(result)
            )
        return Response(result, status_code=_STATUS_CODE[result.status])

    @post(
        "/calls/batch",
        opt={"scope": "calls:write"},
        status_code=200,
        summary="Ingest up to 5,000 call events",
        dependencies={"documented_body": Provide(_documents_call_batch)},
    )
    async def ingest_batch(self, request: Request) -> BatchResult:
        service = service_of(request)
        raw = await request.body()
        try:
            items = split_batch(raw, service.intake.quarantine_item_bytes)
        except ValidationFailed as exc:
            [kept] = await service.ingest([rejection("POST /v1/calls/batch", exc.fields, raw, service.intake)])
            exc.details["quarantine_id"] = kept.quarantine_id
            raise
        del raw  # the items are slices of it; a 32 MB body is not kept twice
        strict = not _trusted(request)
        work = []
        now = datetime.now(UTC)  # the batch arrived once: one clock for its items
        for index, item in enumerate(items):
            if index and index % _PAUSE_EVERY == 0:
                await asyncio.sleep(0)  # a 5,000-call body is ~90 ms of parsing: let reads in
            work.append(
                prepare(
                    item,
                    service.normaliser,
                    strict=strict,
                    channel=f"POST /v1/calls/batch[{index}]",
                    limits=service.intake,
                    now=now,
                )
            )
        del items
        results = await service.ingest(work) if work else []
        disclosure = disclosure_of(request)
        for index, result in enumerate(results):
            result.index = index
            if result.errors and not disclosure.pii:
                result.errors = _masked(result.errors, disclosure)
        return BatchResult(dict(Counter(r.status for r in results)), results)

    @get("/quarantine", opt={"scope": "calls:write"}, summary="List rejected items (bodies with pii:read or admin)")
    async def list_quarantine(
        self,
        request: Request,
        after: int = Parameter(
            default=0, ge=0, le=MAX_ID, description="return items with an id greater than this (cursor)"
        ),
        limit: int = Parameter(default=100, ge=1, le=1000, description="most items in the page"),
        max_bytes: int = Parameter(
            default=1024 * 1024,
            ge=1,
            le=16 * 1024 * 1024,
            description="most bytes of bodies in the page (at least one item is always returned)",
        ),
        reason: str | None = Parameter(
            default=None, max_length=64, description="only items rejected for this reason code"
        ),
    ) -> QuarantinePage:
        """Rejected items, oldest first, with the errors that rejected them and the size
        each had. Bodies (cut to CONTEXTSVC_QUARANTINE_ITEM_BYTES) are personal data: only
        keys with pii:read or admin get them; others see ids, reasons and field errors,
        phones and emails masked. `budget` reports the total kept and what eviction removed."""
        service = service_of(request)
        return await quarantined(
            service.engine,
            disclosure_of(request),
            budget_bytes=service.settings.quarantine_budget_bytes,
            after_id=after,
            limit=limit,
            max_bytes=max_bytes,
            reason=reason,
        )


def _masked(errors: list[FieldError], disclosure: Disclosure) -> list[FieldError]:
    return [FieldError(e.field, e.code, disclosure.text(e.message) or "") for e in errors]
