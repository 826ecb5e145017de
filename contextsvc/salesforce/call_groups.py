"""Keep the mirror's Task/VoiceCall -> call assignment equal to matching.py's answer for
the whole org, one filed page at a time (inside the page's transaction).

A changed record can move other records between calls: a VoiceCall read after its Task
joins it (and the Task-only call it was retracts); a second Task with the same CallObject
makes that value ambiguous for the first; a deleted Task frees its VoiceCall. So the
records reachable from a changed one, through its old and new values, by shared Id /
ActivityId, key or current call, are regrouped together: matching.py's rules only ever
look at records so connected, which makes the regrouped answer the whole org's answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, and_, bindparam, select, update

from contextsvc.salesforce import tables as t
from contextsvc.salesforce.matching import CallLink, assign_calls
from contextsvc.salesforce.records import MirrorRow
from contextsvc.store import chunks

r = t.salesforce_records.c
CALL_SOBJECTS = ("Task", "VoiceCall")
_COLUMNS = (r.sobject, r.record_id, r.call_id, r.link_key, r.activity_id)
_SET_CALL = (
    update(t.salesforce_records)
    .where(and_(r.sobject == bindparam("b_sobject"), r.record_id == bindparam("b_record_id")))
    .values(call_id=bindparam("b_call_id"))
)


def _live(conn: Connection, *conditions) -> list:
    return list(conn.execute(select(*_COLUMNS).where(r.is_deleted == 0, *conditions)))


def _component(conn: Connection, ids: set[str], keys: set[str], calls: set[str]) -> dict[str, object]:
    """Live Task/VoiceCall rows connected to the seeds, to a fixed point."""
    found: dict[str, object] = {}
    seen_ids: set[str] = set()
    seen_keys: set[str] = set()
    seen_calls: set[str] = set()
    while ids or keys or calls:
        rows = []
        for chunk in chunks(ids):
            rows += _live(conn, r.sobject.in_(CALL_SOBJECTS), r.record_id.in_(chunk))
            rows += _live(conn, r.sobject == "VoiceCall", r.activity_id.in_(chunk))
        for chunk in chunks(keys):
            rows += _live(conn, r.sobject.in_(CALL_SOBJECTS), r.link_key.in_(chunk))
        for chunk in chunks(calls):
            rows += _live(conn, r.sobject.in_(CALL_SOBJECTS), r.call_id.in_(chunk))
        seen_ids |= ids
        seen_keys |= keys
        seen_calls |= calls
        new = [row for row in rows if row.record_id not in found]
        for row in new:
            found[row.record_id] = row
        ids = {x for row in new for x in (row.record_id, row.activity_id) if x} - seen_ids
        keys = {row.link_key for row in new if row.link_key} - seen_keys
        calls = {row.call_id for row in new if row.call_id} - seen_calls
    return found


def regroup(conn: Connection, changed: Iterable[tuple[MirrorRow, object | None]]) -> set[str]:
    """Reassign every record the changed ones can affect; returns the calls to re-derive:
    each changed record's call (old and new) and every call that gained or lost a record."""
    changed = list(changed)
    ids: set[str] = set()
    keys: set[str] = set()
    calls: set[str] = set()
    pending: set[str] = set()
    for row, old in changed:
        ids.update(x for x in (row.record_id, row.activity_id) if x)
        keys.update(x for x in (row.link_key,) if x)
        if old is not None:
            ids.update(x for x in (old.activity_id,) if x)
            keys.update(x for x in (old.link_key,) if x)
            calls.update(x for x in (old.call_id,) if x)
            pending.update(x for x in (old.call_id,) if x)
    component = _component(conn, ids, keys, calls)
    assigned = assign_calls(CallLink(row.sobject, row.record_id, row.link_key, row.activity_id)
                            for row in component.values())
    moves = []
    for record_id, row in component.items():
        call_id = assigned[record_id]
        if row.call_id != call_id:
            moves.append({"b_sobject": row.sobject, "b_record_id": record_id, "b_call_id": call_id})
            pending.update(x for x in (row.call_id, call_id) if x)
    if moves:
        conn.execute(_SET_CALL, moves)
    pending.update(assigned[row.record_id] for row, _ in changed if row.record_id in assigned)
    return pending
