"""/v1/activations: rules, their deliveries and dead letters; /v1/events/stream (SSE)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, Parameter
from litestar.response import ServerSentEvent

from contextsvc.activation import Rule, RuleSpec, outbox
from contextsvc.api.bodies import decode_body
from contextsvc.api.params import MAX_ID
from contextsvc.api.services import events_of, service_of
from contextsvc.errors import NotFound
from contextsvc.timeutil import from_micros, micros


class RuleOut(msgspec.Struct, omit_defaults=True):
    id: str
    name: str
    trigger: dict[str, Any]
    target: dict[str, Any]  # a webhook's secret only in the creation response
    created_at: datetime


class RuleList(msgspec.Struct):
    rules: list[RuleOut]


class DeliveryOut(msgspec.Struct):
    id: int
    event_uuid: str  # = the Idempotency-Key header of every attempt
    rule_id: str
    event_type: str
    url: str  # a webhook's URL, or salesforce:<sObject>[/<uuid field>/<event uuid>]
    status: str  # pending | delivered | dead
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(msgspec.Struct):
    counts: dict[str, int]  # every delivery by status
    deliveries: list[DeliveryOut]
    next_cursor: int | None


class RedriveBody(msgspec.Struct, forbid_unknown_fields=True):
    # default: every dead letter
    ids: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]], msgspec.Meta(max_length=10_000)] | None = None


class Redriven(msgspec.Struct):
    redriven: int


def _now_us() -> int:
    return micros(datetime.now(UTC))


def _out(rule: Rule, show_secret: bool = False) -> RuleOut:
    target = msgspec.to_builtins(rule.target)
    if not show_secret:
        target.pop("secret", None)
    return RuleOut(rule.id, rule.name, msgspec.to_builtins(rule.trigger), target, from_micros(rule.created_at))


class ActivationsController(Controller):
    path = "/v1/activations"
    tags = ["activation"]

    @post(
        "/",
        opt={"scope": "segments:write", "errors": (409,)},
        summary="Add a rule: a trigger, a webhook/stream/salesforce target",
    )
    async def create_rule(self, request: Request) -> Response[RuleOut]:
        """Body: RuleSpec. A webhook without a secret gets one, shown only in this answer. A
        salesforce target needs Salesforce credentials on the server (else 409)."""
        spec = await decode_body(request, RuleSpec, "activation rule")
        rule = await service_of(request).branches.activation.create(spec, _now_us())
        return Response(_out(rule, show_secret=True), status_code=201)

    @get("/", opt={"scope": "segments:write"}, summary="Every rule (secrets withheld)")
    async def list_rules(self, request: Request) -> RuleList:
        return RuleList([_out(r) for r in service_of(request).branches.activation.rules.values()])

    @get("/deliveries", opt={"scope": "segments:write"}, summary="Deliveries (webhook, Salesforce), newest first")
    async def list_deliveries(
        self,
        request: Request,
        status: Literal["pending", "delivered", "dead"] | None = Parameter(default=None),
        rule_id: str | None = Parameter(default=None),
        cursor: int | None = Parameter(default=None, ge=1, le=MAX_ID, description="next_cursor of the previous page"),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> DeliveryPage:
        return await _deliveries(request, status, rule_id, cursor, limit)

    @get("/dead-letters", opt={"scope": "segments:write"}, summary="Deliveries that ran out of attempts")
    async def dead_letters(
        self,
        request: Request,
        cursor: int | None = Parameter(default=None, ge=1, le=MAX_ID, description="next_cursor of the previous page"),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> DeliveryPage:
        return await _deliveries(request, "dead", None, cursor, limit)

    @post(
        "/dead-letters/redrive",
        opt={"scope": "segments:write"},
        status_code=200,
        summary="Put dead letters (all, or these ids) back in the outbox",
    )
    async def redrive(self, request: Request) -> Redriven:
        body = await decode_body(request, RedriveBody, "redrive request") if await request.body() else RedriveBody()
        return Redriven(await service_of(request).branches.activation.redrive(body.ids, _now_us()))

    @get("/{rule_id:str}", opt={"scope": "segments:write"}, summary="One rule")
    async def get_rule(self, request: Request, rule_id: FromPath[str]) -> RuleOut:
        return _out(_rule(request, rule_id))

    @delete(
        "/{rule_id:str}",
        opt={"scope": "segments:write"},
        summary="Delete a rule; its undelivered events become dead letters",
    )
    async def delete_rule(self, request: Request, rule_id: FromPath[str]) -> None:
        await service_of(request).branches.activation.remove(_rule(request, rule_id), _now_us())


def _rule(request: Request, rule_id: str) -> Rule:
    rule = service_of(request).branches.activation.rules.get(rule_id)
    if rule is None:
        raise NotFound(f"no activation rule {rule_id}", details={"rule_id": rule_id})
    return rule


async def _deliveries(request: Request, status, rule_id, cursor, limit) -> DeliveryPage:
    async with service_of(request).engine.connect() as conn:
        rows = await conn.run_sync(outbox.deliveries, status, rule_id, cursor, limit)
        totals = await conn.run_sync(outbox.counts)
    return DeliveryPage(
        {s: totals.get(s, 0) for s in ("pending", "delivered", "dead")},
        [
            DeliveryOut(
                d.id,
                d.event_uuid,
                d.rule_id,
                d.event_type,
                d.url,
                d.status,
                d.attempts,
                from_micros(d.next_attempt_at) if d.status == "pending" else None,
                d.last_error,
                from_micros(d.created_at),
                from_micros(d.delivered_at),
            )
            for d in rows
        ],
        rows[-1].id if len(rows) == limit else None,
    )


@get(
    "/v1/events/stream",
    opt={"scope": "context:read"},
    tags=["activation"],
    summary="Server-sent events of every stream-target rule, live",
)
async def event_stream(request: Request) -> ServerSentEvent:
    """Each event: `id` = event uuid, `event` = event type, `data` = the ChangeEvent JSON.
    Reconnect with Last-Event-ID to replay what was missed (the last 1,000 are kept)."""
    return ServerSentEvent(events_of(request).subscribe(request.headers.get("last-event-id")))
