"""POST /v1/calls and /v1/calls/batch, GET /v1/quarantine."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import JSONBody, Parameter

from contextsvc.api.auth import api_key_of
from contextsvc.api.services import service_of
from contextsvc.errors import Conflict, ValidationFailed
from contextsvc.ingest import CallEvent
from contextsvc.ingest import MAX_BATCH_ITEMS, prepare, split_batch
from contextsvc.ingest import ItemResult, QuarantineWork
from contextsvc.ingest import quarantined

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
        opt={"scope": "calls:write"},
        status_code=201,
        summary="Ingest one call event",
        dependencies={"documented_body": Provide(_documents_call_event)},
    )
    async def ingest_one(self, request: Request) -> Response[ItemResult]:
        service = service_of(request)
        work = prepare(await request.body(), service.normaliser, strict=not _trusted(request), channel="POST /v1/calls")
        [result] = await service.ingest([work])
        if result.status == "rejected":
            assert isinstance(work, QuarantineWork)
            raise ValidationFailed(
                "the call event is invalid; it was kept in quarantine",
                work.errors,
                details={"quarantine_id": result.quarantine_id, "call_id": result.call_id},
            )
        if result.status == "conflict":
            raise Conflict(result.message or "conflicting replay", code="conflicting_replay", details=msgspec.to_builtins(result))
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
            items = split_batch(raw)
        except ValidationFailed as exc:
            [kept] = await service.ingest(
                [QuarantineWork("POST /v1/calls/batch", exc.fields[0].code, exc.fields, raw.decode("utf-8", "replace"))]
            )
            exc.details["quarantine_id"] = kept.quarantine_id
            raise
        strict = not _trusted(request)
        work = []
        for index, item in enumerate(items):
            if index and index % _PAUSE_EVERY == 0:
                await asyncio.sleep(0)  # a 5,000-call body is ~90 ms of parsing: let reads in
            work.append(prepare(item, service.normaliser, strict=strict, channel=f"POST /v1/calls/batch[{index}]"))
        results = await service.ingest(work) if work else []
        for index, result in enumerate(results):
            result.index = index
        return BatchResult(dict(Counter(r.status for r in results)), results)

    @get("/quarantine", opt={"scope": "calls:write"}, summary="List rejected items with their original bodies")
    async def list_quarantine(
        self,
        request: Request,
        after: int = Parameter(default=0, ge=0, description="return items with an id greater than this (cursor)"),
        limit: int = Parameter(default=100, ge=1, le=1000),
        reason: str | None = Parameter(default=None, description="only items rejected for this reason code"),
    ) -> dict:
        items = await quarantined(service_of(request).engine, after_id=after, limit=limit, reason=reason)
        return {"items": items, "next_after": items[-1].id if len(items) == limit else None}
