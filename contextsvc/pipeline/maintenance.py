"""Erasure and retention: transactions the writer runs alone (Writer.run_exclusive), so
they are serialised with ingest and see the writer's identity graph and profile states.

Both leave every remaining profile equal to a recomputation from the remaining calls:
touched people are rebuilt from the call log through ProfileWriter.apply."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import Connection, delete, insert, or_, select

from contextsvc.calls import decode_call
from contextsvc.ingest import forget_quarantined, stored_text
from contextsvc.pipeline.observers import BatchChanges, ReplacedCall
from contextsvc.pipeline.profiles import ProfileUpdate
from contextsvc.pipeline.retention import RetentionPolicy
from contextsvc.pipeline.transaction import BatchContext
from contextsvc.privacy import phones_in
from contextsvc.store import delete_in, json_text
from contextsvc.store import tables as t
from contextsvc.timeutil import micros

log = logging.getLogger(__name__)


class MaintenanceOutcome(msgspec.Struct):
    result: object
    published: dict[str, tuple[int, bytes]]  # profiles to publish to the read cache
    removed: set[str]  # individuals whose cached state must go
    changes: BatchChanges | None = None  # what the side branches were told (after_commit)
    # Rewrote more than can be published piece by piece (every profile, every counter): the
    # writer reloads its identity graph, profile working set, caches and side branches.
    reload: bool = False


def _tell_observers(
    conn: Connection,
    ctx: BatchContext,
    now: datetime,
    deleted: dict[str, ReplacedCall],
    update: ProfileUpdate | None,
    removed: set[str],
) -> BatchChanges | None:
    """Segments, insights and quality counters see deleted calls as replaced by nothing,
    so their counts and memberships stay equal to a recount over the remaining calls."""
    if not ctx.observers:
        return None
    changes = BatchChanges(
        version=ctx.version,
        now_us=micros(now),
        calls={},
        call_owner={},
        profiles=update.states if update is not None else {},
        removed=set(removed),
        results=[],
        quarantined=[],
        replaced=deleted,
    )
    for observer in ctx.observers:
        observer.in_transaction(conn, changes)
    return changes


Operation = Callable[[Connection, BatchContext, datetime], MaintenanceOutcome]


class ErasureReport(msgspec.Struct):
    individual_id: str
    erased_ids: list[str]  # the person and everyone merged into them
    calls: int
    identifiers: int
    merges: int
    quarantine: int
    audit_id: int


class RetentionReport(msgspec.Struct):
    calls: int
    profiles_rebuilt: int
    profiles_emptied: int


def erase(individual_id: str, requested_by: str, region: str) -> Operation:
    """Every trace of one person: calls, identifiers, merges, profile, quarantined bodies
    that name them, and their place in the identity graph; an audit row without PII."""

    def run(conn: Connection, ctx: BatchContext, now: datetime) -> MaintenanceOutcome:
        i = t.individuals.c
        members = sorted(
            r[0] for r in conn.execute(select(i.id).where(or_(i.id == individual_id, i.merged_into == individual_id)))
        )
        links = conn.execute(
            select(t.identifiers.c.kind, t.identifiers.c.value).where(t.identifiers.c.individual_id.in_(members))
        ).all()
        c = t.calls.c
        deleted = {
            call_id: ReplacedCall(decode_call(body), ingested_at, owner)
            for call_id, body, ingested_at, owner in conn.execute(
                select(c.call_id, c.body, c.ingested_at, c.individual_id).where(c.individual_id.in_(members))
            )
        }
        call_ids = set(deleted)
        quarantined = _quarantine_naming(conn, call_ids, links, region)
        counts = {
            "calls": delete_in(conn, t.calls.c.call_id, sorted(call_ids)),
            "identifiers": delete_in(conn, t.identifiers.c.individual_id, members),
            "merges": conn.execute(
                delete(t.merges).where(or_(t.merges.c.survivor_id.in_(members), t.merges.c.merged_id.in_(members)))
            ).rowcount,
            "quarantine": forget_quarantined(conn, quarantined),
        }
        delete_in(conn, t.individuals.c.id, members)
        ctx.profiles.apply(conn, {}, set(), set(members), micros(now), ctx.version)  # deletes the profile rows
        ctx.graph.forget(members)
        inserted = conn.execute(
            insert(t.erasures).values(
                erased_at=micros(now),
                individual_ids=json_text(members),
                requested_by=requested_by,
                counts=json_text(counts),
            )
        ).inserted_primary_key
        assert inserted is not None  # None only for an executemany; this inserts one row
        audit_id = inserted[0]
        report = ErasureReport(individual_id, members, audit_id=audit_id, **counts)
        changes = _tell_observers(conn, ctx, now, deleted, None, set(members))
        return MaintenanceOutcome(report, {}, set(members), changes)

    return run


def _quarantine_naming(conn: Connection, call_ids: set[str], links, region: str) -> list[int]:
    """Quarantined items of this person: one of their call ids, or a body that carries one
    of their emails, Salesforce ids or phone numbers (in any format)."""
    emails = [v for k, v in links if k == "email"]
    record_ids = [v[:15] for k, v in links if k == "salesforce_id"]  # a body may carry the 15-char form
    phones = {v for k, v in links if k == "phone"}
    found = []
    q = t.quarantine.c
    for row_id, call_id, stored, raw in conn.execute(select(q.id, q.call_id, q.body, q.body_bytes)):
        body = stored_text(stored, raw)
        lowered = body.lower()
        if (
            call_id in call_ids
            or any(e in lowered for e in emails)
            or any(r in body for r in record_ids)
            or (phones and phones & phones_in(body, region))
        ):
            found.append(row_id)
    return found


def purge_expired(policy: RetentionPolicy) -> Operation:
    """Delete calls older than the policy keeps them; rebuild the people they belonged to."""

    def run(conn: Connection, ctx: BatchContext, now: datetime) -> MaintenanceOutcome:
        horizon = micros(now - timedelta(days=policy.shortest_days))
        c = t.calls.c
        expired: dict[str, ReplacedCall] = {}
        touched: set[str] = set()
        for call_id, individual_id, started_at, body, ingested_at in conn.execute(
            select(c.call_id, c.individual_id, c.started_at, c.body, c.ingested_at).where(c.started_at < horizon)
        ):
            call = decode_call(body)
            days = policy.days_for(call)
            if days is not None and started_at < micros(now - timedelta(days=days)):
                expired[call_id] = ReplacedCall(call, ingested_at, individual_id)
                if individual_id:
                    touched.add(individual_id)
        deleted = delete_in(conn, c.call_id, list(expired))
        emptied: set[str] = set()
        update = ctx.profiles.apply(conn, {}, set(touched), emptied, micros(now), ctx.version)
        report = RetentionReport(deleted, len(update.published), len(emptied))
        changes = _tell_observers(conn, ctx, now, expired, update, emptied)
        return MaintenanceOutcome(report, update.published, emptied, changes)

    return run


def key_fingerprint(key: str) -> str:
    """Which key asked, for the audit trail, without storing the key."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


async def retention_loop(
    purge: Callable[[RetentionPolicy], Awaitable[RetentionReport]], policy: RetentionPolicy, interval_seconds: float
) -> None:
    """Purge on start-up, then every interval, for as long as the service runs."""
    while True:
        try:
            report = await purge(policy)
            if report.calls:
                log.info("retention purged %d calls; %d profiles rebuilt", report.calls, report.profiles_rebuilt)
        except Exception:  # a failed purge is retried next time; serving goes on
            log.exception("retention purge failed")
        await asyncio.sleep(interval_seconds)


class RebuildReport(msgspec.Struct, omit_defaults=True):
    profiles: int  # rebuilt from the call log
    emptied: int  # profile rows removed: their people have no calls left
    individual_id: str | None = None  # when one person was asked for


REBUILD_CHUNK = 2000
# A marker a migration sets when what it added must be learnt from the stored calls: the
# next process to open the database rebuilds everyone before it takes writes.
REBUILD_NEEDED = "rebuild_needed"


def _recount_side_branches(conn: Connection, ctx: BatchContext, now_us: int) -> None:
    """Every side branch recounts what it derives from the stored calls, from scratch."""
    for observer in ctx.observers:
        observer.reset_call_counts(conn)
    c = t.calls.c
    after = ""
    while True:
        rows = conn.execute(
            select(c.call_id, c.body, c.individual_id).where(c.call_id > after).order_by(c.call_id).limit(REBUILD_CHUNK)
        ).all()
        if not rows:
            return
        changes = BatchChanges(
            version=ctx.version,
            now_us=now_us,
            calls={r.call_id: decode_call(r.body) for r in rows},
            call_owner={r.call_id: r.individual_id for r in rows},
            profiles={},
            removed=set(),
            results=[],
            quarantined=[],
        )
        for observer in ctx.observers:
            observer.count_stored_calls(conn, changes)
        after = rows[-1].call_id


def rebuild_profiles(individual_id: str | None = None) -> Operation:
    """Recompute profiles from the call log: one person's, or everyone's (in chunks, all in
    one transaction). The side branches see every rebuilt state inside the transaction, so
    segment membership follows; for everyone, they also recount what they derive from the
    calls, and after the commit the writer reloads its caches."""

    def run(conn: Connection, ctx: BatchContext, now: datetime) -> MaintenanceOutcome:
        if individual_id is not None:
            ids = [ctx.graph.survivor(individual_id)]
        else:
            with_calls = select(t.calls.c.individual_id).where(t.calls.c.individual_id.is_not(None)).distinct()
            ids = sorted(
                {r[0] for r in conn.execute(with_calls)}
                | {r[0] for r in conn.execute(select(t.profiles.c.individual_id))}
            )
        rebuilt = emptied = 0
        published: dict[str, tuple[int, bytes]] = {}
        changes = None
        for start in range(0, len(ids), REBUILD_CHUNK):
            chunk_emptied: set[str] = set()
            update = ctx.profiles.apply(
                conn, {}, set(ids[start : start + REBUILD_CHUNK]), chunk_emptied, micros(now), ctx.version
            )
            rebuilt, emptied = rebuilt + len(update.published), emptied + len(chunk_emptied)
            changes = _tell_observers(conn, ctx, now, {}, update, chunk_emptied)
            if individual_id is not None:
                published = update.published
        report = RebuildReport(rebuilt, emptied, individual_id)
        if individual_id is None:
            _recount_side_branches(conn, ctx, micros(now))
            conn.execute(delete(t.markers).where(t.markers.c.name == REBUILD_NEEDED))
            return MaintenanceOutcome(report, {}, set(), reload=True)
        return MaintenanceOutcome(report, published, set(ids) if emptied else set(), changes)

    return run
