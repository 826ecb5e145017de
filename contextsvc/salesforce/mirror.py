"""The Salesforce connector's tables: mirrored records, watermarks, pending calls, and
what was submitted or written back. Synchronous Core, run inside one transaction each."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from sqlalchemy import Connection, Row, and_, bindparam, delete, func, select, update

from contextsvc.salesforce import call_groups
from contextsvc.salesforce import tables as t
from contextsvc.salesforce.calls import CallRecords, Loaded
from contextsvc.salesforce.records import MirrorRow, mirror_row
from contextsvc.store import bulk_insert, chunks, delete_in, json_text
from contextsvc.store import tables as core
from contextsvc.timeutil import from_micros

r = t.salesforce_records.c
# A record's body and the written-back fields are always a JSON object (stored from a dict).
_decode_fields = msgspec.json.Decoder(dict[str, Any]).decode

_UPDATE_RECORD = (
    update(t.salesforce_records)
    .where(and_(r.sobject == bindparam("b_sobject"), r.record_id == bindparam("b_record_id")))
    .values(
        {
            name: bindparam("b_" + name)
            for name in (
                "system_modstamp",
                "is_deleted",
                "call_id",
                "who_id",
                "what_id",
                "started_at",
                "body",
                "link_key",
                "activity_id",
            )
        }
    )
)


def _chunks(values: Iterable[str | None]) -> Iterator[list[str]]:
    return chunks(v for v in values if v)


def watermark(conn: Connection, sobject: str):
    row = conn.execute(
        select(t.salesforce_watermarks.c.system_modstamp).where(t.salesforce_watermarks.c.sobject == sobject)
    ).first()
    return from_micros(row[0]) if row else None


class SyncStatus(msgspec.Struct, frozen=True):
    sobject: str
    synced_at: int  # µs: the last time a page of it was read and filed (an empty one too)
    watermark: int  # µs: SystemModstamp of the newest record filed


def sync_status(conn: Connection) -> list[SyncStatus]:
    """How fresh each sObject's mirror is, for /metrics: written by whichever process syncs."""
    w = t.salesforce_watermarks.c
    return [SyncStatus(*row) for row in conn.execute(select(w.sobject, w.synced_at, w.system_modstamp))]


def _row_values(row: MirrorRow) -> dict:
    return {
        "sobject": row.sobject,
        "record_id": row.record_id,
        "system_modstamp": row.system_modstamp,
        "is_deleted": int(row.is_deleted),
        "who_id": row.who_id,
        "what_id": row.what_id,
        "started_at": row.started_at,
        "body": row.body,
        "link_key": row.link_key,
        "activity_id": row.activity_id,
    }


def file_page(conn: Connection, sobject: str, rows: list[MirrorRow], now_us: int) -> int:
    """Store one page of records, mark every call they change as pending and advance the
    sObject's watermark to the page's last record — all in the caller's one transaction.
    Returns how many records were new or changed (a re-read record changes nothing). An
    empty page still records when the sObject was last read (its sync lag)."""
    if not rows:
        w = t.salesforce_watermarks.c
        conn.execute(update(t.salesforce_watermarks).where(w.sobject == sobject).values(synced_at=now_us))
        return 0
    stored: dict[str, Row[Any] | None] = {}
    for ids in _chunks(row.record_id for row in rows):
        for found in conn.execute(
            select(
                r.record_id, r.system_modstamp, r.is_deleted, r.call_id, r.who_id, r.what_id, r.link_key, r.activity_id
            ).where(r.sobject == sobject, r.record_id.in_(ids))
        ):
            stored[found.record_id] = found
    changed = []
    for row in rows:
        old = stored.get(row.record_id)
        if old is not None and (old.system_modstamp, bool(old.is_deleted)) >= (row.system_modstamp, row.is_deleted):
            continue  # already have this version (lookback or a replayed page)
        changed.append((row, old))
        stored.setdefault(row.record_id, None)  # a record twice in one page: the second is an update
    # Tasks and VoiceCalls: which call each belongs to depends on other records (matching.py).
    call_of, calls = call_groups.regroup(conn, changed) if sobject in call_groups.CALL_SOBJECTS else ({}, set())
    inserts, updates = {}, {}
    for row, old in changed:
        values = _row_values(row)
        values["call_id"] = call_of.get(row.record_id, old.call_id if old is not None else None)
        if stored[row.record_id] is None:
            inserts[row.record_id] = values
        else:
            updates[row.record_id] = {"b_" + k: v for k, v in values.items()}
    bulk_insert(conn, t.salesforce_records, list(inserts.values()))
    if updates:
        conn.execute(_UPDATE_RECORD, list(updates.values()))
    _mark_pending(conn, sobject, changed, calls)
    last = rows[-1]
    _set_watermark(conn, sobject, last.system_modstamp, last.record_id, now_us)
    return len(changed)


def _set_watermark(conn: Connection, sobject: str, stamp: int, record_id: str, now_us: int) -> None:
    w = t.salesforce_watermarks.c
    values = {"system_modstamp": stamp, "record_id": record_id, "synced_at": now_us}
    if conn.execute(update(t.salesforce_watermarks).where(w.sobject == sobject).values(**values)).rowcount == 0:
        conn.execute(t.salesforce_watermarks.insert().values(sobject=sobject, **values))


def _mark_pending(
    conn: Connection, sobject: str, changed: list[tuple[MirrorRow, Row[Any] | None]], calls: set[str]
) -> None:
    """Which calls a changed record can alter: its own calls (Task, VoiceCall: `calls`,
    from the regrouping), every call naming the person (Contact, Lead, and the Contact a
    Lead became), every call of an Account's Contacts (their company), every call about an
    Opportunity (its stage)."""
    people: set[str] = set()
    related: set[str] = set()
    for row, old in changed:
        if sobject in ("Contact", "Lead"):
            people.update(
                p
                for p in (
                    row.record_id,
                    row.who_id if sobject == "Lead" else None,
                    old and sobject == "Lead" and old.who_id,
                )
                if p
            )
        elif sobject == "Account" or sobject == "Opportunity":
            related.add(row.record_id)
    if sobject == "Account":
        for ids in _chunks(related):
            people.update(
                x for (x,) in conn.execute(select(r.record_id).where(r.sobject == "Contact", r.what_id.in_(ids)))
            )
    calls_of = r.sobject.in_(("Task", "VoiceCall"))
    for column, keys in ((r.who_id, people), (r.what_id, related)):
        for ids in _chunks(keys):
            calls.update(c for (c,) in conn.execute(select(r.call_id).where(calls_of, column.in_(ids))))
    p = t.salesforce_pending.c
    for ids in _chunks(calls):
        known = {c for (c,) in conn.execute(select(p.call_id).where(p.call_id.in_(ids)))}
        bulk_insert(conn, t.salesforce_pending, [{"call_id": c} for c in ids if c not in known])


def pending_calls(conn: Connection) -> list[str]:
    """Calls waiting for the writer, oldest call first (the order a live feed sends them)."""
    p = t.salesforce_pending.c
    started = func.coalesce(func.min(r.started_at), 0)
    query = (
        select(p.call_id, started)
        .select_from(
            t.salesforce_pending.outerjoin(t.salesforce_records, and_(r.call_id == p.call_id, r.is_deleted == 0))
        )
        .group_by(p.call_id)
        .order_by(started, p.call_id)
    )
    return [call_id for call_id, _ in conn.execute(query)]


def _live(conn: Connection, condition) -> list[tuple[Row[Any], Loaded]]:
    found = []
    for row in conn.execute(select(t.salesforce_records).where(condition, r.is_deleted == 0)):
        fields = _decode_fields(row.body)
        found.append((row, Loaded(row.sobject, row.record_id, row.system_modstamp, fields)))
    return found


def _by_id(conn: Connection, sobjects: tuple[str, ...], ids: Iterable[str | None]) -> dict[str, Loaded]:
    found: dict[str, Loaded] = {}
    for chunk in _chunks(ids):
        for _, loaded in _live(conn, and_(r.sobject.in_(sobjects), r.record_id.in_(chunk))):
            found[loaded.record_id] = loaded
    return found


def load_calls(conn: Connection, call_ids: list[str]) -> dict[str, CallRecords]:
    """Each call's live records; a call with neither a Task nor a VoiceCall left is absent
    (deleted in Salesforce: to be retracted)."""
    calls: dict[str, CallRecords] = {}
    who_of: dict[str, str] = {}
    what_of: dict[str, str] = {}
    for chunk in _chunks(call_ids):
        rows = _live(conn, and_(r.sobject.in_(("Task", "VoiceCall")), r.call_id.in_(chunk)))
        for row, loaded in sorted(rows, key=lambda pair: pair[1].record_id):
            records = calls.setdefault(row.call_id, CallRecords(row.call_id))
            if row.sobject == "Task" and records.task is None:
                records.task = loaded
            elif row.sobject == "VoiceCall" and records.voice is None:
                records.voice = loaded
    for call_id, records in calls.items():
        task = records.task.fields if records.task else {}
        voice = records.voice.fields if records.voice else {}
        who = task.get("WhoId") or voice.get("RelatedRecordId")
        what = task.get("WhatId") or voice.get("RelatedRecordId")
        if who:
            who_of[call_id] = who
        if what:
            what_of[call_id] = what
    people = _by_id(conn, ("Contact", "Lead"), who_of.values())
    contacts = [p.record_id for p in people.values() if p.sobject == "Contact"]
    converted: dict[str, Loaded] = {}
    for chunk in _chunks(contacts):
        for row, lead in sorted(
            _live(conn, and_(r.sobject == "Lead", r.who_id.in_(chunk))), key=lambda x: x[1].record_id
        ):
            converted.setdefault(row.who_id, lead)
    accounts = _by_id(
        conn, ("Account",), (p.fields.get("AccountId") for p in people.values() if p.sobject == "Contact")
    )
    whats = _by_id(conn, ("Opportunity", "Account"), what_of.values())
    for call_id, records in calls.items():
        person = people.get(who_of.get(call_id, ""))
        records.who = person
        if person is not None and person.sobject == "Contact":
            records.converted_from = converted.get(person.record_id)
            records.account = accounts.get(person.fields.get("AccountId") or "")
        records.what = whats.get(what_of.get(call_id, ""))
    return calls


def submitted(conn: Connection, call_ids: list[str]) -> dict[str, tuple[int, bytes]]:
    s = t.salesforce_submitted.c
    found = {}
    for chunk in _chunks(call_ids):
        for call_id, version, digest in conn.execute(
            select(s.call_id, s.version, s.digest).where(s.call_id.in_(chunk))
        ):
            found[call_id] = (version, digest)
    return found


def settle(conn: Connection, done: dict[str, tuple[int, bytes] | None], call_ids: list[str]) -> None:
    """After the writer committed: remember what was submitted (None: retracted) and
    clear these calls from the pending list."""
    delete_in(conn, t.salesforce_submitted.c.call_id, done)
    bulk_insert(
        conn,
        t.salesforce_submitted,
        [{"call_id": c, "version": v[0], "digest": v[1]} for c, v in done.items() if v is not None],
    )
    delete_in(conn, t.salesforce_pending.c.call_id, call_ids)


def written_fields(conn: Connection) -> dict[str, dict]:
    w = t.salesforce_written.c
    return {record_id: _decode_fields(fields) for record_id, fields in conn.execute(select(w.record_id, w.fields))}


def remember_written(conn: Connection, sobject_of: dict[str, str], fields_of: dict[str, dict], now_us: int) -> None:
    delete_in(conn, t.salesforce_written.c.record_id, fields_of)
    bulk_insert(
        conn,
        t.salesforce_written,
        [
            {"record_id": i, "sobject": sobject_of[i], "fields": json_text(f), "written_at": now_us}
            for i, f in fields_of.items()
        ],
    )


def converted_leads(conn: Connection) -> set[str]:
    """Leads Salesforce will refuse to update (converted); known from the mirror."""
    rows = conn.execute(
        select(r.record_id, r.body).where(r.sobject == "Lead", r.who_id.is_not(None), r.is_deleted == 0)
    )
    return {record_id for record_id, body in rows if _decode_fields(body).get("IsConverted")}


REFILE_NEEDED = "salesforce_refile_needed"  # a marker migration 0004 leaves


def refile_if_needed(conn: Connection) -> int:
    """After an upgrade that changed how Tasks and VoiceCalls group into calls (migration
    0004): every stored one is filed again as if just read, so each belongs to its call by
    today's rules, and every call whose records moved is pending (one left with no record
    is retracted). Runs once, in one transaction, before the next sync pass reads."""
    markers = core.markers.c
    if conn.execute(select(markers.value).where(markers.name == REFILE_NEEDED)).first() is None:
        return 0
    stored = conn.execute(
        select(
            r.sobject,
            r.record_id,
            r.system_modstamp,
            r.is_deleted,
            r.call_id,
            r.who_id,
            r.what_id,
            r.link_key,
            r.activity_id,
            r.body,
        ).where(r.sobject.in_(call_groups.CALL_SOBJECTS))
    ).all()
    changed: dict[str, list[tuple[MirrorRow, Any]]] = {sobject: [] for sobject in call_groups.CALL_SOBJECTS}
    keys = []
    for row in stored:
        record = {
            **msgspec.json.decode(row.body),
            "Id": row.record_id,
            "IsDeleted": bool(row.is_deleted),
            "SystemModstamp": "1970-01-01T00:00:00.000+0000",
        }
        refiled = msgspec.structs.replace(mirror_row(row.sobject, record), system_modstamp=row.system_modstamp)
        changed[row.sobject].append((refiled, row))
        keys.append(
            {
                "b_sobject": row.sobject,
                "b_record_id": row.record_id,
                "b_link_key": refiled.link_key,
                "b_activity_id": refiled.activity_id,
            }
        )
    if keys:  # the keys first: regrouping reads the stored records' keys
        conn.execute(
            update(t.salesforce_records)
            .where(and_(r.sobject == bindparam("b_sobject"), r.record_id == bindparam("b_record_id")))
            .values(link_key=bindparam("b_link_key"), activity_id=bindparam("b_activity_id")),
            keys,
        )
    everything = [pair for pairs in changed.values() for pair in pairs]
    call_of, calls = call_groups.regroup(conn, everything)
    moved = [
        {"b_sobject": row.sobject, "b_record_id": row.record_id, "b_call_id": call_of[row.record_id]}
        for row, old in everything
        if row.record_id in call_of and call_of[row.record_id] != old.call_id
    ]
    if moved:
        conn.execute(
            update(t.salesforce_records)
            .where(and_(r.sobject == bindparam("b_sobject"), r.record_id == bindparam("b_record_id")))
            .values(call_id=bindparam("b_call_id")),
            moved,
        )
    for sobject, pairs in changed.items():
        _mark_pending(conn, sobject, pairs, calls if sobject == "Task" else set())
    conn.execute(delete(core.markers).where(markers.name == REFILE_NEEDED))
    return len(stored)
