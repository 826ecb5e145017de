"""/v1/admin: the operations that once needed the server stopped, run by the server itself
through its writer, in order with ingest. Scope admin; each answers what it did."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, get, post

from contextsvc.api.bodies import decode_body
from contextsvc.api.services import service_of
from contextsvc.errors import Conflict
from contextsvc.identity import parse_lookup
from contextsvc.pipeline import RebuildReport, RetentionReport
from contextsvc.salesforce import SyncState
from contextsvc.service import retention_policy


class RebuildRequest(msgspec.Struct, forbid_unknown_fields=True):
    # Any lookup GET /v1/context takes; absent: every profile.
    lookup: str | None = None


class Recounted(msgspec.Struct):
    calls: int  # calls the data-quality counters were recounted from


class AdminController(Controller):
    path = "/v1/admin"
    tags = ["admin"]

    @post(
        "/rebuild",
        opt={"scope": "admin", "errors": (409,)},
        status_code=200,
        summary="Recompute one person's profile, or everyone's, from the call log",
    )
    async def rebuild(self, request: Request) -> RebuildReport:
        """Body (optional): {"lookup": "<individual id, Contact/Lead id, phone or email>"}."""
        service = service_of(request)
        body = (
            await decode_body(request, RebuildRequest, "rebuild request") if await request.body() else RebuildRequest()
        )
        individual_id = None
        if body.lookup is not None:
            individual_id = await service.reads.resolve(parse_lookup(body.lookup, service.settings.default_region))
        return await service.rebuild(individual_id)

    @post(
        "/retention/run",
        opt={"scope": "admin", "errors": (409,)},
        status_code=200,
        summary="Purge the calls past the retention policy now",
    )
    async def run_retention(self, request: Request) -> RetentionReport:
        service = service_of(request)
        policy = retention_policy(service.settings)
        if not policy.active:
            raise Conflict(
                "no retention policy is set (CONTEXTSVC_RETENTION_DAYS, CONTEXTSVC_RETENTION_RULES)",
                code="retention_not_configured",
            )
        return await service.purge_expired(policy)

    @post(
        "/quality/recount",
        opt={"scope": "admin"},
        status_code=200,
        summary="Recount the data-quality counters from the call log",
    )
    async def recount_quality(self, request: Request) -> Recounted:
        return Recounted(await service_of(request).recount_quality())

    @post(
        "/salesforce/sync",
        opt={"scope": "admin", "errors": (409,)},
        status_code=200,
        summary="Run a Salesforce sync pass now (and write-back, if enabled)",
    )
    async def salesforce_sync(self, request: Request) -> SyncState:
        return await service_of(request).salesforce.run_pass()

    @get(
        "/salesforce",
        opt={"scope": "admin"},
        summary="The Salesforce sync's state: last pass, records, errors, next run",
    )
    async def salesforce_state(self, request: Request) -> SyncState:
        return service_of(request).salesforce.state
