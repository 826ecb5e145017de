"""One group-commit transaction: versioning, identity resolution and every write it implies.

Runs as plain synchronous SQLAlchemy Core on the writer's connection (via run_sync), so
the whole batch costs a handful of executemany statements, not a round trip per call.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import msgspec
from sqlalchemy import Connection, bindparam, or_, select, update

from contextsvc.calls import Call, decode_call
from contextsvc.identity import IdentityGraph, Resolution
from contextsvc.ingest import (
    CallWork,
    ItemResult,
    ItemStatus,
    QuarantineWork,
    RetractWork,
    Work,
    keep_quarantined,
    quarantine_rows,
)
from contextsvc.pipeline.observers import BatchChanges, BatchObserver, ReplacedCall
from contextsvc.pipeline.profiles import ProfileUpdate, ProfileWriter
from contextsvc.store import bulk_insert, delete_in, json_text, pause_for_readers, select_in
from contextsvc.store import tables as t
from contextsvc.timeutil import from_micros, micros

_encode = msgspec.json.Encoder().encode
PAUSE_EVERY = 8  # calls between pauses for readers: under a millisecond of resolution work


def content_hash(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


class _Stored(msgspec.Struct, gc=False):
    version: int  # micros
    digest: bytes
    individual_id: str | None


class _Pending:
    """Everything one batch will write, collected before any statement runs."""

    def __init__(self) -> None:
        self.new_individuals: dict[str, str] = {}  # id -> kind
        self.merges: list = []
        self.links: list = []
        self.inserts: dict[str, dict] = {}
        self.updates: dict[str, dict] = {}
        self.calls: dict[str, Call] = {}  # call_id -> the version being written
        self.retracted: set[str] = set()  # people who lost a call version (replaced or deleted)
        self.deletes: set[str] = set()  # call ids removed from the log
        self.quarantine: list[tuple[int, QuarantineWork]] = []
        self.shared_lines: list[dict] = []


class BatchContext(msgspec.Struct):
    """The writer's in-memory state that a batch reads and updates."""

    graph: IdentityGraph
    profiles: ProfileWriter
    version: int  # this batch's profile version: one more than any before it
    observers: tuple[BatchObserver, ...] = ()
    quarantine_budget_bytes: int = 256 * 1024 * 1024


class BatchOutcome(msgspec.Struct):
    results: list[ItemResult]
    published: dict[str, tuple[int, bytes]]  # profiles to publish to the read cache
    removed: set[str]  # individuals merged away, or left without calls, in this batch
    changes: BatchChanges | None = None  # for observers; None when nobody observes
    linked: list[tuple[str, str]] = []  # (kind, value) of every identifier newly linked


def apply_batch(conn: Connection, ctx: BatchContext, work: list[Work], now: datetime) -> BatchOutcome:
    graph = ctx.graph
    now_us = micros(now)
    stored = _stored_versions(
        conn,
        [w.call.call_id if isinstance(w, CallWork) else w.call_id for w in work if not isinstance(w, QuarantineWork)],
    )
    pending = _Pending()
    results: list[ItemResult] = []
    for position, item in enumerate(work, 1):
        if position % PAUSE_EVERY == 0:
            pause_for_readers()
        if isinstance(item, QuarantineWork):
            pending.quarantine.append((len(results), item))
            results.append(ItemResult("rejected", call_id=item.call_id, errors=item.errors, message="quarantined"))
        elif isinstance(item, RetractWork):
            results.append(_retract_call(graph, item.call_id, stored, pending))
        else:
            results.append(_ingest_call(graph, item.call, stored, pending, now_us))
    replaced = _replaced_calls(conn, pending) if ctx.observers else {}
    _flush(conn, graph, pending, results, now_us, ctx.quarantine_budget_bytes)
    update = _update_profiles(conn, ctx, pending, now_us)
    changes = None
    if ctx.observers:
        changes = _changes(ctx, pending, update, results, work, now_us)
        changes.replaced = replaced
        for observer in ctx.observers:
            observer.in_transaction(conn, changes)
    linked = [(link.kind, link.value) for link in pending.links]
    return BatchOutcome(results, update.published, update.removed, changes, linked)


def _changes(ctx: BatchContext, pending: _Pending, update: ProfileUpdate, results, work, now_us: int) -> BatchChanges:
    rows = (*pending.inserts.items(), *pending.updates.items())
    owners = {call_id: row["individual_id"] for call_id, row in rows}
    return BatchChanges(
        version=ctx.version,
        now_us=now_us,
        calls={call_id: pending.calls[call_id] for call_id in owners},
        call_owner=owners,
        profiles=update.states,
        removed=update.removed,
        results=results,
        quarantined=[item for item in work if isinstance(item, QuarantineWork)],
        work=work,
        merges=pending.merges,
        shared_lines=[row["phone"] for row in pending.shared_lines],
        call_rules={call_id: row["resolution_rule"] for call_id, row in rows},
    )


def _update_profiles(conn: Connection, ctx: BatchContext, pending: _Pending, now_us: int) -> ProfileUpdate:
    survivor = ctx.graph.survivor
    adds: dict[str, list[Call]] = {}
    for call_id, row in pending.inserts.items():
        if row["individual_id"]:
            adds.setdefault(row["individual_id"], []).append(pending.calls[call_id])
    rebuild = {survivor(i) for i in pending.retracted}
    rebuild.update(row["individual_id"] for row in pending.updates.values() if row["individual_id"])
    rebuild.update(survivor(m.survivor_id) for m in pending.merges)
    removed = {m.merged_id for m in pending.merges}
    return ctx.profiles.apply(conn, adds, rebuild, removed, now_us, ctx.version)


def _replaced_calls(conn: Connection, pending: _Pending) -> dict[str, ReplacedCall]:
    """The stored versions the batch is about to overwrite or retract (observers subtract them)."""
    ids = [*pending.updates, *pending.deletes]
    c = t.calls.c
    rows = select_in(conn, select(c.call_id, c.body, c.ingested_at, c.individual_id), c.call_id, ids)
    return {
        call_id: ReplacedCall(decode_call(body), ingested_at, individual_id)
        for call_id, body, ingested_at, individual_id in rows
    }


def _stored_versions(conn: Connection, call_ids: list[str]) -> dict[str, _Stored]:
    c = t.calls.c
    rows = select_in(conn, select(c.call_id, c.version, c.content_hash, c.individual_id), c.call_id, call_ids)
    return {call_id: _Stored(version, digest, individual_id) for call_id, version, digest, individual_id in rows}


def _ingest_call(
    graph: IdentityGraph, call: Call, stored: dict[str, _Stored], pending: _Pending, now_us: int
) -> ItemResult:
    body = _encode(call)
    digest = content_hash(body)
    version = micros(call.version)
    version_text = call.version.isoformat()
    previous = stored.get(call.call_id)
    if previous is not None:
        person = previous.individual_id and graph.survivor(previous.individual_id)
        if version < previous.version:
            newer = from_micros(previous.version).isoformat()
            return ItemResult(
                "stale", call.call_id, person, version_text, f"ignored: a newer version ({newer}) is already stored"
            )
        if version == previous.version:
            if digest == previous.digest:
                return ItemResult("duplicate", call.call_id, person, version_text)
            return ItemResult(
                "conflict",
                call.call_id,
                person,
                version_text,
                "ignored: this version was already stored with different content; "
                "send a newer updated_at to change a call",
            )
    resolution = graph.resolve(call.call_id, call.who)
    _collect_identity(resolution, pending, now_us)
    started = micros(call.started_at)
    row = {
        "call_id": call.call_id,
        "individual_id": resolution.individual_id,
        "version": version,
        "content_hash": digest,
        "started_at": started,
        "body": body,
        "resolution_rule": resolution.rule,
        "ingested_at": now_us,
    }
    stored[call.call_id] = _Stored(version, digest, resolution.individual_id)
    pending.calls[call.call_id] = call
    if previous is not None and previous.individual_id:
        pending.retracted.add(previous.individual_id)
    status: ItemStatus
    if call.call_id in pending.inserts:  # inserted earlier in this same batch
        pending.inserts[call.call_id] = row
        status = "updated"
    elif previous is None:
        pending.inserts[call.call_id] = row
        status = "accepted"
    else:
        pending.updates[call.call_id] = row
        status = "updated"
    return ItemResult(status, call.call_id, resolution.individual_id, version_text)


def _retract_call(graph: IdentityGraph, call_id: str, stored: dict[str, _Stored], pending: _Pending) -> ItemResult:
    """The call leaves the log and its person is rebuilt from the calls that remain. What
    it taught identity resolution stays: the graph never unlearns (as for replaced versions)."""
    previous = stored.pop(call_id, None)
    if previous is None:
        return ItemResult("duplicate", call_id, message="no such call is stored")
    pending.inserts.pop(call_id, None)
    pending.updates.pop(call_id, None)
    pending.calls.pop(call_id, None)
    pending.deletes.add(call_id)
    person = previous.individual_id and graph.survivor(previous.individual_id)
    if previous.individual_id:
        pending.retracted.add(previous.individual_id)
    return ItemResult("retracted", call_id, person)


def _collect_identity(resolution: Resolution, pending: _Pending, now_us: int) -> None:
    for phone in resolution.shared_lines:
        pending.shared_lines.append({"phone": phone, "detected_at": now_us, "evidence": json_text(resolution.evidence)})
    if resolution.created:
        assert resolution.individual_id is not None  # what was created is what the call resolved to
        pending.new_individuals[resolution.individual_id] = resolution.created
    pending.merges.extend(resolution.merges)
    pending.links.extend(resolution.links)


_UPDATE_CALL = (
    update(t.calls)
    .where(t.calls.c.call_id == bindparam("b_call_id"))
    .values(
        {
            **{
                name: bindparam("b_" + name)
                for name in (
                    "individual_id",
                    "version",
                    "content_hash",
                    "started_at",
                    "body",
                    "resolution_rule",
                    "ingested_at",
                )
            },
            "revisions": t.calls.c.revisions + 1,
        }
    )
)


def _flush(
    conn: Connection,
    graph: IdentityGraph,
    pending: _Pending,
    results: list[ItemResult],
    now_us: int,
    quarantine_budget_bytes: int,
) -> None:
    survivor = graph.survivor
    if pending.new_individuals:
        rows = []
        for individual_id, kind in pending.new_individuals.items():
            final = survivor(individual_id)
            merged = final != individual_id
            rows.append(
                {
                    "id": individual_id,
                    "kind": kind,
                    "created_at": now_us,
                    "merged_into": final if merged else None,
                    "merged_at": now_us if merged else None,
                }
            )
        bulk_insert(conn, t.individuals, rows)
    for merge in pending.merges:
        if merge.merged_id not in pending.new_individuals:
            final = survivor(merge.merged_id)
            conn.execute(
                update(t.individuals)
                .where(or_(t.individuals.c.id == merge.merged_id, t.individuals.c.merged_into == merge.merged_id))
                .values(merged_into=final, merged_at=now_us)
            )
            conn.execute(update(t.calls).where(t.calls.c.individual_id == merge.merged_id).values(individual_id=final))
    if pending.merges:
        bulk_insert(
            conn,
            t.merges,
            [
                {
                    "survivor_id": m.survivor_id,
                    "merged_id": m.merged_id,
                    "rule": m.rule,
                    "evidence": json_text(m.evidence),
                    "merged_at": now_us,
                }
                for m in pending.merges
            ],
        )
    if pending.links:
        bulk_insert(
            conn,
            t.identifiers,
            [
                {
                    "individual_id": link.individual_id,
                    "kind": link.kind,
                    "value": link.value,
                    "display": link.display,
                    "rule": link.rule,
                    "evidence": json_text(link.evidence),
                    "linked_at": now_us,
                }
                for link in pending.links
            ],
        )
    for row in (*pending.inserts.values(), *pending.updates.values()):
        if row["individual_id"]:
            row["individual_id"] = survivor(row["individual_id"])
    delete_in(conn, t.calls.c.call_id, pending.deletes)
    bulk_insert(conn, t.calls, list(pending.inserts.values()))
    bulk_insert(conn, t.shared_lines, pending.shared_lines)
    if pending.updates:
        conn.execute(_UPDATE_CALL, [{"b_" + k: v for k, v in row.items()} for row in pending.updates.values()])
    if pending.quarantine:
        rows = quarantine_rows([item for _, item in pending.quarantine], now_us)
        for (index, _), row_id in zip(
            pending.quarantine, keep_quarantined(conn, rows, quarantine_budget_bytes, now_us), strict=True
        ):
            results[index].quarantine_id = row_id
    for result in results:
        if result.individual_id:
            result.individual_id = survivor(result.individual_id)
