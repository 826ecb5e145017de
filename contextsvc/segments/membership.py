"""Segment membership, exact at all times, written in the transaction that changes it.

Every as_of dependency of a context counts whole UTC days, so a person's membership can
change only when their profile changes (ingest) or when the UTC day turns. Hence:

- On ingest (observer, inside the batch's transaction) each changed person is evaluated
  against every individual segment, on a LazyContext that computes only the attributes
  the conditions read; each account named by a new or replaced call, against every
  account segment. Membership rows change in the same transaction.
- Membership is stored for one UTC day (`markers.segment_day`). When the day turns, the
  first writer transaction of the new day — a batch, a segment read, or the midnight
  timer, whichever comes first — re-evaluates the time-dependent segments over everyone
  before anything else, so no read or batch ever sees a previous day's membership.

Listeners (activation) receive every enter/leave inside the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

import msgspec
from sqlalchemy import Connection, bindparam, delete, select

from contextsvc.calls import Call
from contextsvc.context import CallContext, SegmentRef
from contextsvc.ingest import Picklist
from contextsvc.pipeline import BatchChanges, BatchObserver, Writer
from contextsvc.profile import CallCounts, ProfileState, decode_state
from contextsvc.reachability import NO_INPUTS, Inputs
from contextsvc.segments import tables as t
from contextsvc.segments.attributes import INPUT_PREFIXES
from contextsvc.segments.conditions import attributes_of
from contextsvc.segments.model import Catalogs, LiveSegment, SegmentSpec
from contextsvc.segments.views import ACCOUNT_WINDOWS, AccountState, LazyContext, account_context
from contextsvc.store import add_deltas, bulk_insert, json_text
from contextsvc.store import tables as core
from contextsvc.timeutil import DAY_US, day_of, micros

log = logging.getLogger(__name__)
ACCOUNT_HORIZON_DAYS = 2 * max(ACCOUNT_WINDOWS) + 1  # account days older than this are never read
_DAY_MARKER = "segment_day"
_decode_json = msgspec.json.decode


class Transition(msgspec.Struct, frozen=True):
    segment_id: str
    subject: str
    member_id: str
    entered: bool
    at_us: int
    cause: str  # ingest | time | merge | inputs (a DNC list or account attributes changed)


class SegmentView(msgspec.Struct, frozen=True):
    """What readers see: replaced as a whole after each commit, never mutated."""

    version: int  # rises with every change of definitions (context memo keys carry it)
    day: int | None  # the UTC day membership is evaluated for
    segments: dict[str, LiveSegment]
    counts: dict[str, int]

    def labels(self, context: CallContext) -> list[SegmentRef]:
        return [
            SegmentRef(s.id, s.name)
            for s in self.segments.values()
            if s.subject == "individual" and s.rule_id is None and s.predicate(context)
        ]


def _counts_of(call: Call, picklist: Picklist) -> CallCounts:
    return CallCounts(
        1,
        call.direction == "outbound",
        call.direction == "inbound",
        picklist.meaning(call.disposition).connect,
        call.talk_seconds or 0,
    )


class Segments(BatchObserver):
    def __init__(self, picklist: Picklist, writer: Writer) -> None:
        self.picklist = picklist
        self.writer = writer
        self.catalogs = Catalogs(picklist.codes)
        self.reach: Inputs = NO_INPUTS  # DNC lists and account regions (store/reachability.py)
        self.segments: dict[str, LiveSegment] = {}  # the writer's working copy
        self.accounts: dict[str, AccountState] = {}
        self.day: int | None = None
        self.version = 0
        self.view = SegmentView(0, None, {}, {})
        # Called inside the transaction with every enter/leave (activation writes its outbox).
        self.listeners: list[Callable[[Connection, list[Transition]], None]] = []
        # Called after publish (activation flushes its in-memory stream).
        self.on_publish: list[Callable[[], None]] = []
        # Called before a segment is deleted; raise to refuse (activation: a rule uses it).
        self.delete_guards: list[Callable[[str], None]] = []

    # --- observer --------------------------------------------------------------------

    def load(self, conn: Connection) -> None:
        self.segments = {}
        for row in conn.execute(select(t.segments)).mappings():
            self.segments[row["id"]] = LiveSegment.build(
                self.catalogs,
                row["id"],
                row["name"],
                row["subject"],
                row["description"],
                _decode_json(row["condition"]),
                row["created_at"],
                row["rule_id"],
            )
        for segment_id, member_id in conn.execute(
            select(t.segment_members.c.segment_id, t.segment_members.c.member_id)
        ):
            if segment_id in self.segments:
                self.segments[segment_id].members.add(member_id)
        self.day = conn.execute(select(core.markers.c.value).where(core.markers.c.name == _DAY_MARKER)).scalar()
        self.accounts = {}
        query = select(t.account_days)
        if self.day is not None:
            query = query.where(t.account_days.c.day > self.day - ACCOUNT_HORIZON_DAYS)
        for row in conn.execute(query).mappings():
            self.accounts.setdefault(row["account_id"], AccountState(buckets={})).add(
                row["day"],
                CallCounts(row["calls"], row["outbound"], row["inbound"], row["connects"], row["talk_seconds"]),
                1,
            )
        self.version += 1
        self.publish()

    def in_transaction(self, conn: Connection, changes: BatchChanges) -> None:
        transitions: list[Transition] = []
        touched_accounts = self._count_account_calls(conn, changes)
        today = day_of(changes.now_us)
        if self.day != today:
            self._roll(conn, today, transitions)
        at = changes.now_us
        people = [s for s in self.segments.values() if s.subject == "individual"]
        if people:
            for individual_id, state in changes.profiles.items():
                context = LazyContext(state, today * DAY_US, self.reach)
                for segment in people:
                    self._set(segment, individual_id, segment.predicate(context), at, "ingest", transitions)
            for individual_id in changes.removed:
                for segment in people:
                    self._set(segment, individual_id, False, at, "merge", transitions)
        accounts = [s for s in self.segments.values() if s.subject == "account"]
        for account_id in touched_accounts if accounts else ():
            self._evaluate_account(account_id, accounts, today, at, "ingest", transitions)
        self._write(conn, transitions)

    def after_commit(self, changes: BatchChanges) -> None:
        self.publish()

    def reset_call_counts(self, conn: Connection) -> None:
        conn.execute(t.account_days.delete())

    def count_stored_calls(self, conn: Connection, changes: BatchChanges) -> None:
        self._count_account_calls(conn, changes)

    def publish(self) -> None:
        self.view = SegmentView(
            self.version, self.day, dict(self.segments), {i: len(s.members) for i, s in self.segments.items()}
        )
        for callback in self.on_publish:
            callback()

    # --- use cases ---------------------------------------------------------------------

    async def define(self, segment: LiveSegment) -> None:
        """Store a prepared segment and compute its members, in one writer transaction."""
        await self.writer.run(lambda conn: self.create(conn, segment))
        self.publish()

    async def remove(self, segment_id: str) -> None:
        for refuse in self.delete_guards:
            refuse(segment_id)
        await self.writer.run(lambda conn: self.delete(conn, segment_id))
        self.publish()

    async def current(self, now_us: int) -> SegmentView:
        """The view for now: if the UTC day turned since membership was last evaluated, roll
        it forward in a writer transaction first, so a read never sees a previous day's members."""
        if self.view.day != day_of(now_us):
            await self.writer.run(lambda conn: self.roll(conn, now_us))
            self.publish()
        return self.view

    # --- writer transactions (Writer.run) ---------------------------------------------

    def roll(self, conn: Connection, now_us: int) -> None:
        """Bring membership to now_us's UTC day (a no-op if it is there already)."""
        transitions: list[Transition] = []
        if self.day != day_of(now_us):
            self._roll(conn, day_of(now_us), transitions)
        self._write(conn, transitions)

    def reevaluate_inputs(self, conn: Connection, now_us: int) -> None:
        """Inside the transaction that changed a DNC list or account attributes: everyone,
        against the segments that read those inputs (a Reachability.on_inputs_changed hook)."""
        transitions: list[Transition] = []
        if self.day != day_of(now_us):
            self._roll(conn, day_of(now_us), transitions)
        reading = [
            s
            for s in self.segments.values()
            if s.subject == "individual" and any(a.startswith(INPUT_PREFIXES) for a in attributes_of(s.condition))
        ]
        if reading:
            at = day_of(now_us) * DAY_US
            for individual_id, state in self._everyone(conn):
                context = LazyContext(state, at, self.reach)
                for segment in reading:
                    self._set(segment, individual_id, segment.predicate(context), now_us, "inputs", transitions)
        self._write(conn, transitions)

    def prepare(self, spec: SegmentSpec, now_us: int, rule_id: str | None = None) -> LiveSegment:
        """Validate a definition (ValidationFailed listing valid attributes) before it goes
        to the writer."""
        return LiveSegment.build(
            self.catalogs,
            "seg_" + secrets.token_hex(8),
            spec.name,
            spec.subject,
            spec.description,
            spec.condition,
            now_us,
            rule_id,
        )

    def create(self, conn: Connection, segment: LiveSegment) -> LiveSegment:
        """Add a prepared segment with its membership as of now (no enter events: it is new)."""
        now_us, rule_id = segment.created_at, segment.rule_id
        self.roll(conn, now_us)
        conn.execute(
            t.segments.insert().values(
                id=segment.id,
                name=segment.name,
                subject=segment.subject,
                description=segment.description,
                condition=json_text(segment.condition),
                created_at=now_us,
                rule_id=rule_id,
            )
        )
        self.segments[segment.id] = segment
        today = day_of(now_us)
        if segment.subject == "individual":
            for individual_id, profile in self._everyone(conn):
                if segment.predicate(LazyContext(profile, today * DAY_US, self.reach)):
                    segment.members.add(individual_id)
        else:
            for account_id, state in self.accounts.items():
                if segment.predicate(account_context(account_id, state, today)):
                    segment.members.add(account_id)
        bulk_insert(
            conn,
            t.segment_members,
            [{"segment_id": segment.id, "member_id": m, "entered_at": now_us} for m in segment.members],
        )
        self.version += 1
        return segment

    def delete(self, conn: Connection, segment_id: str) -> None:
        if segment_id not in self.segments:
            return  # deleted by a concurrent request
        conn.execute(delete(t.segment_members).where(t.segment_members.c.segment_id == segment_id))
        conn.execute(delete(t.segments).where(t.segments.c.id == segment_id))
        del self.segments[segment_id]
        self.version += 1

    # --- internals ---------------------------------------------------------------------

    def _set(
        self, segment: LiveSegment, member_id: str, is_member: bool, at: int, cause: str, transitions: list[Transition]
    ) -> None:
        if is_member == (member_id in segment.members):
            return
        if is_member:
            segment.members.add(member_id)
        else:
            segment.members.discard(member_id)
        transitions.append(Transition(segment.id, segment.subject, member_id, is_member, at, cause))

    def _evaluate_account(
        self, account_id: str, segments: list[LiveSegment], day: int, at: int, cause: str, transitions: list[Transition]
    ) -> None:
        state = self.accounts.get(account_id)
        context = account_context(account_id, state, day) if state is not None else None
        for segment in segments:
            self._set(segment, account_id, context is not None and segment.predicate(context), at, cause, transitions)

    def _roll(self, conn: Connection, day: int, transitions: list[Transition]) -> None:
        at = day * DAY_US
        people = [s for s in self.segments.values() if s.subject == "individual" and s.time_dependent]
        if people:
            seen = set()
            for individual_id, profile in self._everyone(conn):
                seen.add(individual_id)
                context = LazyContext(profile, at, self.reach)
                for segment in people:
                    self._set(segment, individual_id, segment.predicate(context), at, "time", transitions)
            for segment in people:
                for gone in segment.members - seen:
                    self._set(segment, gone, False, at, "time", transitions)
        for account_id, state in list(self.accounts.items()):
            for old in [d for d in state.buckets if d <= day - ACCOUNT_HORIZON_DAYS]:
                del state.buckets[old]
            if not state.buckets:
                del self.accounts[account_id]
        accounts = [s for s in self.segments.values() if s.subject == "account" and s.time_dependent]
        for account_id in set(self.accounts).union(*(s.members for s in accounts)) if accounts else ():
            self._evaluate_account(account_id, accounts, day, at, "time", transitions)
        if self.day is None:
            conn.execute(core.markers.insert().values(name=_DAY_MARKER, value=day))
        else:
            conn.execute(core.markers.update().where(core.markers.c.name == _DAY_MARKER).values(value=day))
        self.day = day

    def _everyone(self, conn: Connection) -> Iterator[tuple[str, ProfileState]]:
        for individual_id, blob in conn.execute(select(core.profiles.c.individual_id, core.profiles.c.state)):
            yield individual_id, decode_state(blob)

    def _count_account_calls(self, conn: Connection, changes: BatchChanges) -> set[str]:
        deltas: dict[tuple[str, int], dict[str, int]] = {}
        for calls, sign in ((changes.calls.values(), 1), ([r.call for r in changes.replaced.values()], -1)):
            for call in calls:
                account_id = call.related.account_id
                if not account_id:
                    continue
                day = day_of(micros(call.started_at))
                counts = _counts_of(call, self.picklist)
                delta = deltas.setdefault((account_id, day), dict.fromkeys(("calls", *_COUNTERS[1:]), 0))
                for name in _COUNTERS:
                    delta[name] += sign * getattr(counts, name)
        add_deltas(conn, t.account_days, ("account_id", "day"), deltas)
        horizon = (self.day if self.day is not None else day_of(changes.now_us)) - ACCOUNT_HORIZON_DAYS
        for (account_id, day), delta in deltas.items():
            if day > horizon:
                state = self.accounts.setdefault(account_id, AccountState(buckets={}))
                counts = CallCounts(
                    calls=delta["calls"],
                    outbound=delta["outbound"],
                    inbound=delta["inbound"],
                    connects=delta["connects"],
                    talk_seconds=delta["talk_seconds"],
                )  # the _COUNTERS, spelt out: a dict[str, int] would also fill `dispositions`
                state.add(day, counts, 1)
                if not state.buckets:
                    del self.accounts[account_id]
        return {account_id for account_id, _ in deltas}

    def _write(self, conn: Connection, transitions: Iterable[Transition]) -> None:
        transitions = list(transitions)
        if not transitions:
            return
        final: dict[tuple[str, str], int] = {}
        for tr in transitions:
            final[(tr.segment_id, tr.member_id)] = tr.at_us
        conn.execute(
            delete(t.segment_members).where(
                t.segment_members.c.segment_id == bindparam("s"), t.segment_members.c.member_id == bindparam("m")
            ),
            [{"s": s, "m": m} for s, m in final],
        )
        bulk_insert(
            conn,
            t.segment_members,
            [
                {"segment_id": s, "member_id": m, "entered_at": at}
                for (s, m), at in final.items()
                if m in self.segments[s].members
            ],
        )
        for listener in self.listeners:
            listener(conn, transitions)


_COUNTERS = ("calls", "outbound", "inbound", "connects", "talk_seconds")


def members_page(conn: Connection, segment_id: str, after: str | None, limit: int) -> list[tuple[str, int]]:
    c = t.segment_members.c
    query = select(c.member_id, c.entered_at).where(c.segment_id == segment_id)
    if after is not None:
        query = query.where(c.member_id > after)
    return [tuple(row) for row in conn.execute(query.order_by(c.member_id).limit(limit))]


async def midnight_rolls(segments: Segments) -> None:
    """Roll membership forward just after each UTC midnight, so time-based enters and
    leaves (and the activation events they fire) happen then, not at the next read."""
    while True:
        now_us = micros(datetime.now(UTC))
        await asyncio.sleep(((day_of(now_us) + 1) * DAY_US - now_us) / 1e6 + 0.5)
        try:
            await segments.current(micros(datetime.now(UTC)))
        except Exception:  # the next read or batch rolls instead
            log.exception("midnight segment roll failed")
