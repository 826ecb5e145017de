"""/v1/activations: rules, their deliveries and dead letters; /v1/events/stream (SSE)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, Parameter
from litestar.response import ServerSentEvent

from contextsvc.activation.model import (
    CALL_FLAGS,
    CallFlagTrigger,
    RuleSpec,
    SegmentTrigger,
    ThresholdTrigger,
    WebhookTarget,
)
from contextsvc.api.bodies import decode_body
from contextsvc.errors import Conflict, FieldError, NotFound, ValidationFailed
from contextsvc.segments.model import SegmentSpec
from contextsvc.store import outbox
from contextsvc.store.activation import Activation, Rule, new_rule
from contextsvc.store.segments import Segments
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
    url: str
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
    ids: list[int] | None = None  # default: every dead letter


class Redriven(msgspec.Struct):
    redriven: int


def _now_us() -> int:
    return micros(datetime.now(timezone.utc))


def _out(rule: Rule, show_secret: bool = False) -> RuleOut:
    target = msgspec.to_builtins(rule.target)
    if not show_secret:
        target.pop("secret", None)
    return RuleOut(rule.id, rule.name, msgspec.to_builtins(rule.trigger), target, from_micros(rule.created_at))


def _check(spec: RuleSpec, segments: Segments) -> None:
    trigger = spec.trigger
    if isinstance(trigger, CallFlagTrigger):
        unknown = sorted(set(trigger.flags) - set(CALL_FLAGS)) or ([] if trigger.flags else ["(none)"])
        if unknown:
            raise ValidationFailed("unknown call flags", [FieldError(
                "trigger.flags", "invalid_value", f"unknown flag(s) {unknown}; valid: {list(CALL_FLAGS)}")])
    if isinstance(trigger, SegmentTrigger):
        segment = segments.view.segments.get(trigger.segment_id)
        if segment is None or segment.rule_id is not None:
            raise ValidationFailed("no such segment", [FieldError(
                "trigger.segment_id", "invalid_value", f"no segment {trigger.segment_id}")])


def _threshold_segment(spec: RuleSpec, segments: Segments, rule_id: str, now_us: int):
    trigger = spec.trigger
    condition = {"attribute": trigger.attribute, "op": trigger.op, "value": trigger.value}
    try:
        return segments.prepare(SegmentSpec(f"threshold: {spec.name}", condition, trigger.subject), now_us, rule_id)
    except ValidationFailed as exc:
        fields = [FieldError(f.field.replace("condition", "trigger", 1), f.code, f.message) for f in exc.fields]
        raise ValidationFailed("the threshold is invalid", fields, details=exc.details) from None


class ActivationsController(Controller):
    path = "/v1/activations"
    tags = ["activation"]

    @post("/", opt={"scope": "segments:write"}, summary="Add a rule: a trigger and a webhook or stream target")
    async def create_rule(self, request: Request) -> Response[RuleOut]:
        """Body: RuleSpec. A webhook without a secret gets one, shown only in this answer."""
        state = request.app.state
        segments: Segments = state.segments
        activation: Activation = state.activation
        spec = await decode_body(request, RuleSpec, "activation rule")
        _check(spec, segments)
        now_us = _now_us()
        rule = new_rule(spec, now_us, None)
        hidden = None
        if isinstance(spec.trigger, ThresholdTrigger):
            hidden = _threshold_segment(spec, segments, rule.id, now_us)
            rule.segment_id = hidden.id

        def add(conn) -> None:
            if hidden is not None:
                segments.create(conn, hidden)
            activation.add_rule(conn, rule)

        await state.writer.run(add)
        segments.publish()
        return Response(_out(rule, show_secret=True), status_code=201)

    @get("/", opt={"scope": "segments:write"}, summary="Every rule (secrets withheld)")
    async def list_rules(self, request: Request) -> RuleList:
        return RuleList([_out(r) for r in request.app.state.activation.rules.values()])

    @get("/deliveries", opt={"scope": "segments:write"}, summary="Webhook deliveries, newest first")
    async def list_deliveries(
        self,
        request: Request,
        status: Literal["pending", "delivered", "dead"] | None = Parameter(default=None),
        rule_id: str | None = Parameter(default=None),
        cursor: int | None = Parameter(default=None, description="next_cursor of the previous page"),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> DeliveryPage:
        return await _deliveries(request, status, rule_id, cursor, limit)

    @get("/dead-letters", opt={"scope": "segments:write"}, summary="Deliveries that ran out of attempts")
    async def dead_letters(
        self,
        request: Request,
        cursor: int | None = Parameter(default=None),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> DeliveryPage:
        return await _deliveries(request, "dead", None, cursor, limit)

    @post("/dead-letters/redrive", opt={"scope": "segments:write"}, status_code=200,
          summary="Put dead letters (all, or these ids) back in the outbox")
    async def redrive(self, request: Request) -> Redriven:
        state = request.app.state
        body = await decode_body(request, RedriveBody, "redrive request") if await request.body() else RedriveBody()
        live = set(state.activation.rules)
        count = await state.writer.run(lambda conn: outbox.redrive(conn, body.ids, live, _now_us()))
        state.dispatcher.wake.set()
        return Redriven(count)

    @get("/{rule_id:str}", opt={"scope": "segments:write"}, summary="One rule")
    async def get_rule(self, request: Request, rule_id: FromPath[str]) -> RuleOut:
        return _out(_rule(request, rule_id))

    @delete("/{rule_id:str}", opt={"scope": "segments:write"},
            summary="Delete a rule; its undelivered events become dead letters")
    async def delete_rule(self, request: Request, rule_id: FromPath[str]) -> None:
        state = request.app.state
        rule = _rule(request, rule_id)
        segments: Segments = state.segments

        def remove(conn) -> None:
            state.activation.delete_rule(conn, rule.id)
            outbox.abandon_rule(conn, rule.id, _now_us())
            if rule.segment_id:
                segments.delete(conn, rule.segment_id)

        await state.writer.run(remove)
        segments.publish()


def _rule(request: Request, rule_id: str) -> Rule:
    rule = request.app.state.activation.rules.get(rule_id)
    if rule is None:
        raise NotFound(f"no activation rule {rule_id}", details={"rule_id": rule_id})
    return rule


async def _deliveries(request: Request, status, rule_id, cursor, limit) -> DeliveryPage:
    async with request.app.state.reader.engine.connect() as conn:
        rows = await conn.run_sync(outbox.deliveries, status, rule_id, cursor, limit)
        totals = await conn.run_sync(outbox.counts)
    return DeliveryPage(
        {s: totals.get(s, 0) for s in ("pending", "delivered", "dead")},
        [DeliveryOut(d.id, d.event_uuid, d.rule_id, d.event_type, d.url, d.status, d.attempts,
                     from_micros(d.next_attempt_at) if d.status == "pending" else None, d.last_error,
                     from_micros(d.created_at), from_micros(d.delivered_at)) for d in rows],
        rows[-1].id if len(rows) == limit else None,
    )


def guard_segment_rules(activation: Activation):
    """A segment a rule triggers on cannot be deleted from under it."""

    def check(segment_id: str) -> None:
        users = activation.rules_using(segment_id)
        if users:
            raise Conflict(f"segment {segment_id} is used by activation rule(s) {users}; delete them first",
                           code="segment_in_use", details={"rules": users})

    return check


@get("/v1/events/stream", opt={"scope": "context:read"}, tags=["activation"],
     summary="Server-sent events of every stream-target rule, live")
async def event_stream(request: Request) -> ServerSentEvent:
    """Each event: `id` = event uuid, `event` = event type, `data` = the ChangeEvent JSON.
    Reconnect with Last-Event-ID to replay what was missed (the last 1,000 are kept)."""
    return ServerSentEvent(request.app.state.hub.subscribe(request.headers.get("last-event-id")))
