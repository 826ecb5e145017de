"""Activation on the write path: rules matched inside the transaction, outbox rows
written with the change, stream events published after commit.

Producers:
- calls: every new call (or new version) -> call_logged; one whose disposition gains a
  flag -> call_flagged
- segments (store/segments.py listener): enter/leave -> segment_entered / segment_left;
  a threshold rule owns a hidden segment, whose enters are threshold_crossed
- anyone else: `activation.emit(conn, Occurrence(...))` inside a writer transaction
  (an observer's in_transaction, or a Writer.run function). E.g. data-quality alerts.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import msgspec
from sqlalchemy import Connection, delete, select

from contextsvc.activation import outbox, templates
from contextsvc.activation import tables as t
from contextsvc.activation.model import (
    CALL_FLAGS,
    CallFlagTrigger,
    CallTrigger,
    ChangeEvent,
    Occurrence,
    RuleSpec,
    SalesforceTarget,
    SegmentTrigger,
    Target,
    ThresholdTrigger,
    Trigger,
    WebhookTarget,
    matches,
    target_type,
)
from contextsvc.activation.targets import OutboundPolicy
from contextsvc.activation.templates import PersonRef
from contextsvc.calls import Call
from contextsvc.errors import Conflict, FieldError, ValidationFailed
from contextsvc.ingest import Picklist
from contextsvc.pipeline import BatchChanges, BatchObserver, Writer
from contextsvc.profile import ProfileState, decode_state
from contextsvc.segments import LiveSegment, Segments, SegmentSpec, Transition
from contextsvc.store import bulk_insert, json_text
from contextsvc.store import tables as core
from contextsvc.timeutil import from_micros

_encode = msgspec.json.Encoder().encode
_decode_trigger = msgspec.json.Decoder(Trigger).decode
_decode_target = msgspec.json.Decoder(Target).decode
# How to make a target type deliverable on a server that has no deliverer for it.
_TO_CONFIGURE = {"salesforce": 'set the CONTEXTSVC_SALESFORCE_* credentials (README, "Salesforce")'}


class Rule(msgspec.Struct):
    id: str
    name: str
    trigger: Trigger
    target: Target
    segment_id: str | None  # threshold rules: their hidden segment
    created_at: int


class Activation(BatchObserver):
    def __init__(
        self, picklist: Picklist, writer: Writer, segments: Segments, outbound: OutboundPolicy | None = None
    ) -> None:
        self.picklist = picklist
        self.outbound = outbound or OutboundPolicy()
        self.writer = writer
        self.segments = segments
        self.rules: dict[str, Rule] = {}
        self._pending: list[ChangeEvent] = []  # stream events of the open transaction
        self._wrote_outbox = False
        self.stream_listeners: list[Callable[[ChangeEvent], None]] = []  # the SSE hub
        self.outbox_listeners: list[Callable[[], None]] = []  # the dispatcher's wake-up
        # Target types this server delivers; the dispatcher adds the others it is given (salesforce).
        self.deliverable: set[str] = {"webhook", "stream"}
        self._batch_profiles: dict[str, ProfileState] = {}
        segments.listeners.append(self.on_transitions)
        segments.on_publish.append(self.flush)
        segments.delete_guards.append(self._refuse_if_used)

    # --- the producer API ----------------------------------------------------------------

    def emit(self, conn: Connection, occurrence: Occurrence) -> list[ChangeEvent]:
        """Inside a writer transaction: match every rule, write webhook and Salesforce events
        to the outbox (committed with the caller's change, or not at all), queue stream
        events for after the commit. Returns the events created."""
        events = []
        rows = []
        people: list[PersonRef | None] = []  # who the occurrence is about, looked up once if needed
        for rule in self.rules.values():
            if not matches(rule.trigger, occurrence, rule.segment_id):
                continue
            if not self._in_segment(rule.trigger, occurrence):
                continue
            event = ChangeEvent(
                str(uuid.uuid4()),
                rule.name,
                "threshold_crossed" if isinstance(rule.trigger, ThresholdTrigger) else occurrence.event_type,
                from_micros(occurrence.at_us),
                occurrence.source_object,
                occurrence.source_id,
                occurrence.current_value,
                occurrence.previous_value,
                rule.id,
            )
            events.append(event)
            if isinstance(rule.target, WebhookTarget):
                rows.append(_outbox_row(event, rule.target.url, _encode(event), occurrence.at_us))
            elif isinstance(rule.target, SalesforceTarget):  # the record itself, as every attempt sends it
                if not people:
                    people.append(_person(conn, occurrence, self._batch_profiles))
                record = templates.render(rule.target, event, people[0])
                url = templates.resource(rule.target, event.event_uuid)
                rows.append(_outbox_row(event, url, _encode(record), occurrence.at_us))
            else:
                self._pending.append(event)
        bulk_insert(conn, t.outbox, rows)
        self._wrote_outbox = self._wrote_outbox or bool(rows)
        return events

    def _in_segment(self, trigger: Trigger, occurrence: Occurrence) -> bool:
        """A call_flag trigger with a segment: the person is a member after this batch (the
        writer's working copy of membership, which the segments observer has just updated)."""
        if not isinstance(trigger, CallFlagTrigger) or trigger.segment_id is None:
            return True
        segment = self.segments.segments.get(trigger.segment_id)
        return segment is not None and occurrence.source_id in segment.members

    # --- observer ----------------------------------------------------------------------

    def load(self, conn: Connection) -> None:
        self.rules = {}
        for row in conn.execute(select(t.activation_rules)).mappings():
            self.rules[row["id"]] = Rule(
                row["id"],
                row["name"],
                _decode_trigger(row["trigger"]),
                _decode_target(row["target"]),
                row["segment_id"],
                row["created_at"],
            )
        self._pending.clear()

    def in_transaction(self, conn: Connection, changes: BatchChanges) -> None:
        self._batch_profiles = changes.profiles  # call events' people, decoded already (templates' person.*)
        try:
            self._call_events(conn, changes)
        finally:
            self._batch_profiles = {}

    def _call_events(self, conn: Connection, changes: BatchChanges) -> None:
        if any(isinstance(r.trigger, CallTrigger) for r in self.rules.values()):
            for call_id, call in changes.calls.items():
                self.emit(conn, call_logged(call_id, call, changes, self.picklist))
        if not any(isinstance(r.trigger, CallFlagTrigger) for r in self.rules.values()):
            return
        meaning = self.picklist.meaning
        for call_id, call in changes.calls.items():
            flags = meaning(call.disposition).flags + (("connect",) if meaning(call.disposition).connect else ())
            if not flags:
                continue
            before = changes.replaced.get(call_id)
            if before is not None:  # a new version fires only for flags it adds
                old = meaning(before.call.disposition)
                flags = tuple(f for f in flags if f not in old.flags and not (f == "connect" and old.connect))
            owner = changes.call_owner.get(call_id)
            if not flags or owner is None:
                continue
            self.emit(
                conn,
                Occurrence(
                    "call_flagged",
                    "individual",
                    owner,
                    changes.now_us,
                    {
                        "call_id": call_id,
                        "disposition": call.disposition,
                        "flags": list(flags),
                        "started_at": call.started_at.isoformat(),
                        "direction": call.direction,
                        "rep_id": call.rep_id,
                    },
                    {"disposition": before.call.disposition} if before is not None else None,
                    flags=flags,
                ),
            )

    def on_transitions(self, conn: Connection, transitions: list[Transition]) -> None:
        """The segments listener: every enter/leave, in the transaction that caused it."""
        if not self.rules:
            return
        for tr in transitions:
            member = {"segment_id": tr.segment_id, "member": tr.entered, "cause": tr.cause}
            self.emit(
                conn,
                Occurrence(
                    "segment_entered" if tr.entered else "segment_left",
                    tr.subject,
                    tr.member_id,
                    tr.at_us,
                    member,
                    {**member, "member": not tr.entered},
                    segment_id=tr.segment_id,
                ),
            )

    def after_commit(self, changes: BatchChanges) -> None:
        self.flush()

    def flush(self) -> None:
        """After a commit: publish the stream events, wake the webhook dispatcher."""
        pending, self._pending = self._pending, []
        for event in pending:
            for listener in self.stream_listeners:
                listener(event)
        if self._wrote_outbox:
            self._wrote_outbox = False
            for wake in self.outbox_listeners:
                wake()

    # --- use cases -------------------------------------------------------------------

    async def create(self, spec: RuleSpec, now_us: int) -> Rule:
        """Validate and store a rule (a threshold rule with its hidden segment, evaluated at
        once), in one writer transaction. A webhook without a secret gets one."""
        _check(spec, self.segments)
        kind = target_type(spec.target)
        if kind not in self.deliverable:
            how = _TO_CONFIGURE.get(kind, "it is not configured")
            raise Conflict(f"this server cannot deliver to a {kind} target: {how}", code=f"{kind}_not_configured")
        if isinstance(spec.target, WebhookTarget):
            await self.outbound.check_registration(spec.target.url)
        rule = new_rule(spec, now_us, None)
        hidden = None
        if isinstance(spec.trigger, ThresholdTrigger):
            hidden = _threshold_segment(spec, spec.trigger, self.segments, rule.id, now_us)
            rule.segment_id = hidden.id

        def add(conn: Connection) -> None:
            if hidden is not None:
                self.segments.create(conn, hidden)
            self.add_rule(conn, rule)

        await self.writer.run(add)
        self.segments.publish()
        return rule

    async def remove(self, rule: Rule, now_us: int) -> None:
        """Delete a rule; its undelivered events become dead letters."""

        def remove(conn: Connection) -> None:
            self.delete_rule(conn, rule.id)
            outbox.abandon_rule(conn, rule.id, now_us)
            if rule.segment_id:
                self.segments.delete(conn, rule.segment_id)

        await self.writer.run(remove)
        self.segments.publish()

    async def redrive(self, ids: list[int] | None, now_us: int) -> int:
        """Put dead letters (these, or all) back in the outbox and wake the dispatcher."""
        live = set(self.rules)
        count: int = await self.writer.run(lambda conn: outbox.redrive(conn, ids, live, now_us))
        for wake in self.outbox_listeners:
            wake()
        return count

    def _refuse_if_used(self, segment_id: str) -> None:
        """A segment a rule triggers on cannot be deleted from under it."""
        users = self.rules_using(segment_id)
        if users:
            raise Conflict(
                f"segment {segment_id} is used by activation rule(s) {users}; delete them first",
                code="segment_in_use",
                details={"rules": users},
            )

    # --- rules (Writer.run functions) -----------------------------------------------------

    def add_rule(self, conn: Connection, rule: Rule) -> None:
        conn.execute(
            t.activation_rules.insert().values(
                id=rule.id,
                name=rule.name,
                trigger=json_text(rule.trigger),
                target=json_text(rule.target),
                segment_id=rule.segment_id,
                created_at=rule.created_at,
            )
        )
        self.rules[rule.id] = rule

    def delete_rule(self, conn: Connection, rule_id: str) -> None:
        conn.execute(delete(t.activation_rules).where(t.activation_rules.c.id == rule_id))
        self.rules.pop(rule_id, None)

    def rules_using(self, segment_id: str) -> list[str]:
        return [
            r.id
            for r in self.rules.values()
            if isinstance(r.trigger, SegmentTrigger | CallFlagTrigger) and r.trigger.segment_id == segment_id
        ]


def new_rule(spec: RuleSpec, now_us: int, segment_id: str | None) -> Rule:
    target = spec.target
    if isinstance(target, WebhookTarget) and target.secret is None:
        target = WebhookTarget(target.url, "whsec_" + secrets.token_urlsafe(24))
    return Rule("act_" + secrets.token_hex(8), spec.name, spec.trigger, target, segment_id, now_us)


def _check(spec: RuleSpec, segments: Segments) -> None:
    trigger = spec.trigger
    if isinstance(trigger, CallFlagTrigger):
        unknown = sorted(set(trigger.flags) - set(CALL_FLAGS)) or ([] if trigger.flags else ["(none)"])
        if unknown:
            raise ValidationFailed(
                "unknown call flags",
                [FieldError("trigger.flags", "invalid_value", f"unknown flag(s) {unknown}; valid: {list(CALL_FLAGS)}")],
            )
    if isinstance(trigger, SegmentTrigger | CallFlagTrigger) and trigger.segment_id is not None:
        segment = segments.view.segments.get(trigger.segment_id)
        if segment is None or segment.rule_id is not None:
            raise ValidationFailed(
                "no such segment",
                [FieldError("trigger.segment_id", "invalid_value", f"no segment {trigger.segment_id}")],
            )
        if isinstance(trigger, CallFlagTrigger) and segment.subject != "individual":
            raise ValidationFailed(
                "a call's person is an individual",
                [FieldError("trigger.segment_id", "invalid_value", f"{trigger.segment_id} is a segment of accounts")],
            )
    if isinstance(spec.target, SalesforceTarget):
        problems = templates.check(spec.target)
        if problems:
            raise ValidationFailed("the Salesforce record template is invalid", problems)


def _threshold_segment(
    spec: RuleSpec, trigger: ThresholdTrigger, segments: Segments, rule_id: str, now_us: int
) -> LiveSegment:
    condition = {"attribute": trigger.attribute, "op": trigger.op, "value": trigger.value}
    try:
        return segments.prepare(SegmentSpec(f"threshold: {spec.name}", condition, trigger.subject), now_us, rule_id)
    except ValidationFailed as exc:
        fields = [FieldError(f.field.replace("condition", "trigger", 1), f.code, f.message) for f in exc.fields]
        raise ValidationFailed("the threshold is invalid", fields, details=exc.details) from None


def _outbox_row(event: ChangeEvent, url: str, payload: bytes, at_us: int) -> dict:
    return {
        "event_uuid": event.event_uuid,
        "rule_id": event.rule_id,
        "event_type": event.event_type,
        "url": url,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at_us,
        "last_error": None,
        "created_at": at_us,
        "delivered_at": None,
    }


def _person(conn: Connection, occurrence: Occurrence, batch: dict[str, ProfileState]) -> PersonRef | None:
    """Who an event is about, as their profile knows them after this transaction: from the
    batch's states when it changed them (call events), else as written (segment events)."""
    individual_id = occurrence.source_id if occurrence.source_object == "individual" else None
    individual_id = individual_id or occurrence.current_value.get("individual_id")
    if not individual_id:
        return None
    state = batch.get(individual_id)
    if state is None:
        c = core.profiles.c
        blob = conn.execute(select(c.state).where(c.individual_id == individual_id)).scalar()
        if blob is None:
            return PersonRef(individual_id)
        state = decode_state(blob)
    ids = state.person.salesforce_ids  # sorted
    contact = next((i for i in ids if i.startswith("003")), None)
    return PersonRef(individual_id, contact, next((i for i in ids if i.startswith("00Q")), None))


def call_logged(call_id: str, call: Call, changes: BatchChanges, picklist: Picklist) -> Occurrence:
    """A call as it landed: what happened, who it resolved to, and how (the identity rule,
    and whoever this call merged into that person). Like every event, no personal data:
    ids, picklist codes and times; a receiver that shows the person asks for them with a
    key whose scopes allow it (GET /v1/individuals/{individual_id})."""
    owner = changes.call_owner.get(call_id)
    merged = [
        {"merged_id": m.merged_id, "rule": m.rule} for m in changes.merges if m.evidence.get("call_id") == call_id
    ]
    before = changes.replaced.get(call_id)
    return Occurrence(
        "call_logged",
        "call",
        call_id,
        changes.now_us,
        {
            "call_id": call_id,
            "direction": call.direction,
            "started_at": call.started_at.isoformat(),
            "disposition": call.disposition,
            "connect": picklist.meaning(call.disposition).connect,
            "talk_seconds": call.talk_seconds,
            "rep_id": call.rep_id,
            "queue": call.queue,
            "individual_id": owner,
            "resolution": {"rule": changes.call_rules.get(call_id), "merged": merged},
        },
        {"disposition": before.call.disposition} if before is not None else None,
    )
