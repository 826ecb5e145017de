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
from typing import Any

import msgspec
from sqlalchemy import Connection, Row, and_, bindparam, select, update

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


class _Row(msgspec.Struct, frozen=True):
    sobject: str
    record_id: str
    call_id: str | None
    link_key: str | None
    activity_id: str | None


def _live(conn: Connection, *conditions) -> list[_Row]:
    return [_Row(*row) for row in conn.execute(select(*_COLUMNS).where(r.is_deleted == 0, *conditions))]


def _component(
    conn: Connection, seeds: list[_Row], changing: set[str], tasks: set[str], activities: set[str], keys: set[str]
) -> dict[str, _Row]:
    """Live Task/VoiceCall rows connected to the seeds (the live changed records, in their
    new version) and to the changed records' old and new values, to a fixed point: Tasks
    named by an ActivityId, VoiceCalls naming a Task, records sharing a key. (The records
    of one call are always so connected: matching.py links by nothing else.) The stored
    versions of `changing` records are stale and left out."""
    found = {row.record_id: row for row in seeds}
    seen_tasks: set[str] = set()
    seen_activities: set[str] = set()
    seen_keys: set[str] = set()
    while tasks or activities or keys:
        rows: list[_Row] = []
        for chunk in chunks(activities - found.keys()):
            rows += _live(conn, r.sobject == "Task", r.record_id.in_(chunk))
        for chunk in chunks(tasks):
            rows += _live(conn, r.sobject == "VoiceCall", r.activity_id.in_(chunk))
        for chunk in chunks(keys):
            rows += _live(conn, r.sobject.in_(CALL_SOBJECTS), r.link_key.in_(chunk))
        seen_tasks |= tasks
        seen_activities |= activities
        seen_keys |= keys
        new = [row for row in rows if row.record_id not in found and row.record_id not in changing]
        for row in new:
            found[row.record_id] = row
        tasks = {row.record_id for row in new if row.sobject == "Task"} - seen_tasks
        activities = {row.activity_id for row in new if row.activity_id} - seen_activities
        keys = {row.link_key for row in new if row.link_key} - seen_keys
    return found


def regroup(conn: Connection, changed: Iterable[tuple[MirrorRow, Row[Any] | None]]) -> tuple[dict[str, str], set[str]]:
    """Before a page's records are stored: the call of each live changed record, and the
    calls to re-derive (each changed record's, old and new, and every call that gained or
    lost a record). Stored records that move to another call are moved here; the changed
    ones are written by the caller with the call given. `changed` pairs a record's new
    version with its stored row (activity_id, link_key, call_id), None when new."""
    changed = list(changed)
    # Whatever the changed records name or share, now or before (a deleted Task's
    # VoiceCalls, the old key's other holders, the old call's other record).
    tasks = {row.record_id for row, _ in changed if row.sobject == "Task"}
    activities = {row.activity_id for row, _ in changed if row.activity_id}
    keys = {row.link_key for row, _ in changed if row.link_key}
    calls: set[str] = set()
    seeds: dict[str, _Row] = {}
    for row, old in changed:
        if old is not None:
            activities.update(x for x in (old.activity_id,) if x)
            keys.update(x for x in (old.link_key,) if x)
            calls.update(x for x in (old.call_id,) if x)
        if not row.is_deleted:
            seeds[row.record_id] = _Row(row.sobject, row.record_id, None, row.link_key, row.activity_id)
        else:
            seeds.pop(row.record_id, None)
    pending = set(calls)
    changing = {row.record_id for row, _ in changed}
    component = _component(conn, list(seeds.values()), changing, tasks, activities, keys)
    assigned = assign_calls(
        CallLink(row.sobject, row.record_id, row.link_key, row.activity_id) for row in component.values()
    )
    moves = []
    for record_id, linked in component.items():
        call_id = assigned[record_id]
        if record_id in seeds:
            pending.add(call_id)
        elif linked.call_id != call_id:
            moves.append({"b_sobject": linked.sobject, "b_record_id": record_id, "b_call_id": call_id})
            pending.update(x for x in (linked.call_id, call_id) if x)
    if moves:
        conn.execute(_SET_CALL, moves)
    return {record_id: assigned[record_id] for record_id in seeds}, pending
