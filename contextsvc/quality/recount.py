"""Recount the quality counters from what the store keeps: the call log, the quarantine,
merges, shared lines and profiles (`contextsvc quality rebuild`, and the tests' oracle for
the incremental counters)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import Connection, delete, func, select

from contextsvc.calls import decode_call
from contextsvc.errors import FieldError
from contextsvc.pipeline import BatchContext, MaintenanceOutcome, Operation
from contextsvc.profile import decode_state
from contextsvc.quality import tables as t
from contextsvc.quality.metrics import IMPLAUSIBLE, Plausibility, Tally, call_flags, dimension_values, month_of
from contextsvc.quality.monitor import (
    ROLLED,
    WATERMARK,
    quarantine_cell,
    roll_up_months,
    set_state,
    state_value,
    write_tally,
)
from contextsvc.store import add_counts
from contextsvc.store import tables as core
from contextsvc.timeutil import day_of

_decode_errors = msgspec.json.Decoder(list[FieldError]).decode


def recount(conn: Connection, limits: Plausibility, chunk: int = 5000) -> int:
    """Recompute every counter from the call log, the quarantine and the identity tables
    (`contextsvc quality rebuild`, and the tests' oracle). Conflicting replays are stored
    nowhere else, so their counts are kept; a person's "came to carry several Salesforce
    ids" day becomes the day their profile last changed. Returns the calls counted."""
    c = t.quality_counts.c
    kept = conn.execute(select(c.day, c.dimension, c.value, c.direction, c.conflicts).where(c.conflicts != 0)).all()
    for table in (t.quality_counts, t.quality_monthly, t.quality_rejects, t.quality_identity, t.quality_multi_record):
        conn.execute(delete(table))
    tally = Tally()
    counted, newest = 0, None
    calls = core.calls.c
    rows = _keyset(conn, select(calls.body, calls.ingested_at, calls.individual_id), calls.call_id, chunk)
    for body, ingested_at, individual_id, _ in rows:
        call = decode_call(body)
        day, flags = call_flags(call, ingested_at, individual_id is not None, limits)
        tally.add((day, call.source or "", call.rep_id or "", call.queue or "", call.direction, flags))
        if not flags & IMPLAUSIBLE and (newest is None or day > newest):
            newest = day
        counted += 1
    q = core.quarantine.c
    for received_at, reason, errors, body, raw in conn.execute(
        select(q.received_at, q.reason, q.errors, q.body, q.body_bytes)
    ):
        cell = quarantine_cell(day_of(received_at), raw if raw is not None else body, _decode_errors(errors))
        tally.add(cell)
        tally.add_reason(cell[0], dimension_values(*cell[1:4]), reason)
    write_tally(conn, tally, None, kept_conflicts=kept)
    _recount_identity(conn)
    # Days already evaluated stay evaluated: no alert is raised twice for one day.
    known = [day for day in (state_value(conn, WATERMARK), newest) if day is not None]
    watermark = max(known) if known else None
    set_state(conn, WATERMARK, watermark)
    set_state(conn, ROLLED, None)
    if watermark is not None:
        roll_up_months(conn, None, month_of(watermark) - 1)
    return counted


def _keyset(conn: Connection, query, key, chunk: int):
    """Rows of `query` in pages ordered by the unique `key` (appended as the last column):
    flat memory on any driver, where server-side cursors are not."""
    last = None
    while True:
        page = query.add_columns(key).order_by(key).limit(chunk)
        rows = conn.execute(page if last is None else page.where(key > last)).all()
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1][-1]


def _recount_identity(conn: Connection) -> None:
    by_day: dict[int, dict[str, int]] = {}

    def count(day: int, name: str, n: int = 1) -> None:
        row = by_day.setdefault(day, {"merges": 0, "shared_lines": 0, "several_salesforce_ids": 0})
        row[name] += n

    for merged_at, n in conn.execute(select(core.merges.c.merged_at, func.count()).group_by(core.merges.c.merged_at)):
        count(day_of(merged_at), "merges", n)
    for (detected_at,) in conn.execute(select(core.shared_lines.c.detected_at)):
        count(day_of(detected_at), "shared_lines")
    several = []
    p = core.profiles.c
    for state, updated_at, individual_id in _keyset(conn, select(p.state, p.updated_at), p.individual_id, 2000):
        if len(decode_state(state).person.salesforce_ids) > 1:
            several.append({"individual_id": individual_id, "since": updated_at})
            count(day_of(updated_at), "several_salesforce_ids")
    if several:
        conn.execute(t.quality_multi_record.insert(), several)
    add_counts(conn, t.quality_identity, ("day",), [{"day": day, **row} for day, row in by_day.items()])


def recount_operation(limits: Plausibility) -> Operation:
    """The recount as a writer operation, in order with ingest (POST /v1/admin/quality/recount,
    `contextsvc quality rebuild`): the monitor reloads its state from the new counters."""

    def run(conn: Connection, _ctx: BatchContext, _now: datetime) -> MaintenanceOutcome:
        return MaintenanceOutcome(recount(conn, limits), {}, set(), reload=True)

    return run
