"""One group-commit transaction: versioning, identity resolution and every write it implies.

Runs as plain synchronous SQLAlchemy Core on the writer's connection (via run_sync), so
the whole batch costs a handful of statements, not a round trip per call.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import msgspec
from sqlalchemy import Connection, bindparam, func, or_, select, update

from contextsvc.identity.graph import IdentityGraph, Resolution
from contextsvc.ingest.normalise import Call
from contextsvc.ingest.results import CallWork, ItemResult, QuarantineWork, Work
from contextsvc.store import tables as t

_encode = msgspec.json.Encoder().encode
_IN_CHUNK = 500  # keeps IN (...) lists under every backend's parameter limit


def content_hash(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


class _Pending:
    """Everything one batch will write, collected before any statement runs."""

    def __init__(self) -> None:
        self.new_individuals: dict[str, str] = {}  # id -> kind
        self.merges: list = []
        self.links: list = []
        self.inserts: dict[str, dict] = {}
        self.updates: dict[str, dict] = {}
        self.quarantine: list[tuple[int, dict]] = []
        self.attributes: dict[str, tuple[datetime, Call]] = {}


def apply_batch(conn: Connection, graph: IdentityGraph, work: list[Work], now: datetime) -> list[ItemResult]:
    stored = _stored_versions(conn, [w.call.call_id for w in work if isinstance(w, CallWork)])
    pending = _Pending()
    results: list[ItemResult] = []
    for item in work:
        if isinstance(item, QuarantineWork):
            pending.quarantine.append((len(results), _quarantine_row(item, now)))
            results.append(ItemResult("rejected", call_id=item.call_id, errors=item.errors, message="quarantined"))
        else:
            results.append(_ingest_call(graph, item.call, stored, pending, now))
    _flush(conn, graph, pending, results, now)
    return results


def _stored_versions(conn: Connection, call_ids: list[str]) -> dict[str, tuple[datetime, bytes, str | None]]:
    unique = list(dict.fromkeys(call_ids))
    found: dict[str, tuple[datetime, bytes, str | None]] = {}
    for start in range(0, len(unique), _IN_CHUNK):
        rows = conn.execute(
            select(t.calls.c.call_id, t.calls.c.version, t.calls.c.content_hash, t.calls.c.individual_id).where(
                t.calls.c.call_id.in_(unique[start : start + _IN_CHUNK])
            )
        )
        for call_id, version, digest, individual_id in rows:
            found[call_id] = (_aware(version), digest, individual_id)
    return found


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _ingest_call(graph: IdentityGraph, call: Call, stored: dict, pending: _Pending, now: datetime) -> ItemResult:
    body = _encode(call)
    digest = content_hash(body)
    version = call.version.isoformat()
    previous = stored.get(call.call_id)
    if previous is not None:
        prev_version, prev_digest, prev_individual = previous
        if call.version < prev_version:
            return ItemResult(
                "stale",
                call.call_id,
                prev_individual and graph.survivor(prev_individual),
                version,
                f"ignored: a newer version ({prev_version.isoformat()}) is already stored",
            )
        if call.version == prev_version:
            if digest == prev_digest:
                return ItemResult("duplicate", call.call_id, prev_individual and graph.survivor(prev_individual), version)
            return ItemResult(
                "conflict",
                call.call_id,
                prev_individual and graph.survivor(prev_individual),
                version,
                "ignored: this version was already stored with different content; "
                "send a newer updated_at to change a call",
            )
    resolution = graph.resolve(call.call_id, call.who)
    _collect_identity(resolution, pending)
    if resolution.individual_id and (call.who.first_name or call.who.last_name or call.who.company or call.who.title):
        latest = pending.attributes.get(resolution.individual_id)
        if latest is None or latest[0] <= call.started_at:
            pending.attributes[resolution.individual_id] = (call.started_at, call)
    row = {
        "call_id": call.call_id,
        "individual_id": resolution.individual_id,
        "version": call.version,
        "content_hash": digest,
        "started_at": call.started_at,
        "body": body,
        "resolution_rule": resolution.rule,
        "ingested_at": now,
    }
    stored[call.call_id] = (call.version, digest, resolution.individual_id)
    if previous is None and call.call_id not in pending.inserts:
        pending.inserts[call.call_id] = row
        status = "accepted"
    else:
        if call.call_id in pending.inserts:
            pending.inserts[call.call_id] = row
        else:
            pending.updates[call.call_id] = row
        status = "updated"
    return ItemResult(status, call.call_id, resolution.individual_id, version)


def _collect_identity(resolution: Resolution, pending: _Pending) -> None:
    if resolution.created:
        pending.new_individuals[resolution.individual_id] = resolution.created
    pending.merges.extend(resolution.merges)
    pending.links.extend(resolution.links)


def _quarantine_row(item: QuarantineWork, now: datetime) -> dict:
    return {
        "received_at": now,
        "channel": item.channel,
        "call_id": item.call_id,
        "reason": item.reason,
        "errors": msgspec.to_builtins(item.errors),
        "body": item.body,
    }


def _flush(conn: Connection, graph: IdentityGraph, pending: _Pending, results: list[ItemResult], now: datetime) -> None:
    survivor = graph.survivor
    if pending.new_individuals:
        conn.execute(
            t.individuals.insert(),
            [
                {
                    "id": individual_id,
                    "kind": kind,
                    "created_at": now,
                    "merged_into": None if survivor(individual_id) == individual_id else survivor(individual_id),
                    "merged_at": None if survivor(individual_id) == individual_id else now,
                }
                for individual_id, kind in pending.new_individuals.items()
            ],
        )
    for merge in pending.merges:
        final = survivor(merge.merged_id)
        if merge.merged_id not in pending.new_individuals:
            conn.execute(
                update(t.individuals)
                .where(or_(t.individuals.c.id == merge.merged_id, t.individuals.c.merged_into == merge.merged_id))
                .values(merged_into=final, merged_at=now)
            )
            conn.execute(update(t.calls).where(t.calls.c.individual_id == merge.merged_id).values(individual_id=final))
    if pending.merges:
        conn.execute(
            t.merges.insert(),
            [
                {"survivor_id": m.survivor_id, "merged_id": m.merged_id, "rule": m.rule, "evidence": m.evidence, "merged_at": now}
                for m in pending.merges
            ],
        )
    if pending.links:
        conn.execute(
            t.identifiers.insert(),
            [
                {
                    "individual_id": link.individual_id,
                    "kind": link.kind,
                    "value": link.value,
                    "display": link.display,
                    "rule": link.rule,
                    "evidence": link.evidence,
                    "linked_at": now,
                }
                for link in pending.links
            ],
        )
    for row in (*pending.inserts.values(), *pending.updates.values()):
        if row["individual_id"]:
            row["individual_id"] = survivor(row["individual_id"])
    if pending.inserts:
        conn.execute(t.calls.insert(), list(pending.inserts.values()))
    if pending.updates:
        conn.execute(_UPDATE_CALL, [{"b_" + k: v for k, v in row.items()} for row in pending.updates.values()])
    _write_attributes(conn, survivor, pending.attributes)
    for index, row in pending.quarantine:
        results[index].quarantine_id = conn.execute(t.quarantine.insert().values(**row)).inserted_primary_key[0]
    for result in results:
        if result.individual_id:
            result.individual_id = survivor(result.individual_id)


_UPDATE_CALL = (
    update(t.calls)
    .where(t.calls.c.call_id == bindparam("b_call_id"))
    .values(
        {
            **{c: bindparam("b_" + c) for c in ("individual_id", "version", "content_hash", "started_at", "body", "resolution_rule", "ingested_at")},
            "revisions": t.calls.c.revisions + 1,
        }
    )
)

_ATTRIBUTES = ("first_name", "last_name", "company", "title")
_UPDATE_ATTRIBUTES = (
    update(t.individuals)
    .where(t.individuals.c.id == bindparam("b_id"))
    .where(or_(t.individuals.c.attributes_at.is_(None), t.individuals.c.attributes_at <= bindparam("b_at")))
    .values(
        {
            **{name: func.coalesce(bindparam("b_" + name), t.individuals.c[name]) for name in _ATTRIBUTES},
            "attributes_at": bindparam("b_at"),
        }
    )
)


def _write_attributes(conn: Connection, survivor, attributes: dict[str, tuple[datetime, Call]]) -> None:
    """Display name, company, title: the most recent call that carried them wins."""
    if not attributes:
        return
    rows = [
        {"b_id": survivor(individual_id), "b_at": at, **{"b_" + n: getattr(call.who, n) for n in _ATTRIBUTES}}
        for individual_id, (at, call) in attributes.items()
    ]
    conn.execute(_UPDATE_ATTRIBUTES, rows)
