"""The data-quality monitor on the ingest path: counters, identity health, alerts.

A BatchObserver: inside each ingest transaction it adds the batch's aggregated counter
deltas (a handful of upserts per batch, whatever its size) and, when the batch's calls
move into a new UTC day, evaluates the days that completed. Counters are exact: a call
version that replaces an older one first takes the older one's contribution back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import msgspec
from sqlalchemy import Connection, delete, func, select

from contextsvc.errors import FieldError
from contextsvc.ingest import CallWork
from contextsvc.pipeline import BatchChanges, BatchObserver
from contextsvc.quality import tables as t
from contextsvc.quality.alerts import AlertRule, AlertSink, QualityAlert, StoredOnly, evaluate_day, flagged_rates
from contextsvc.quality.metrics import (
    DIMENSIONS,
    IMPLAUSIBLE,
    METRICS,
    WIDTH,
    Cell,
    Plausibility,
    Tally,
    bit,
    call_flags,
    dimension_values,
    month_first_day,
    month_of,
    monthly,
    vector_of,
)
from contextsvc.store import add_counts, json_text
from contextsvc.timeutil import day_of, micros

log = logging.getLogger(__name__)

SAMPLES_KEPT = 5
WATERMARK = "evaluated_through"  # the newest call day seen: days before it are complete
ROLLED = "rolled_through_month"  # the newest month in the monthly roll-up
CONFLICT, QUARANTINED, MISSING_DIRECTION = bit("conflicts"), bit("quarantined"), bit("missing_direction")


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split())[:255] or None


class _Dimensions(msgspec.Struct):
    source: object = None
    rep_id: object = None
    queue: object = None


def quarantine_cell(day: int, body: bytes | str, errors: list[FieldError]) -> Cell:
    """A rejected item's cell: the source, rep and queue its body named, if it could be
    read as a JSON object (a body cut to the quarantine's cap may not be); no direction."""
    try:
        data = msgspec.json.decode(body, type=_Dimensions)
    except (msgspec.MsgspecError, RecursionError, UnicodeError):
        data = _Dimensions()
    flags = QUARANTINED
    if any(e.field == "direction" and e.code == "missing_field" for e in errors):
        flags |= MISSING_DIRECTION
    return (day, _text(data.source) or "", _text(data.rep_id) or "", _text(data.queue) or "", "", flags)


class QualityObserver(BatchObserver):
    def __init__(
        self,
        limits: Plausibility = Plausibility(),
        rule: AlertRule = AlertRule(),
        sinks: Sequence[AlertSink] = (StoredOnly(),),
        publish: Callable[[Connection, list[QualityAlert]], None] | None = None,
    ) -> None:
        self.limits = limits
        self.rule = rule
        self.sinks = list(sinks)
        # In the transaction that stores new alerts: hand them to activation (webhook outbox,
        # SSE), so a delivery is committed with its alert or not at all.
        self.publish = publish
        self._watermark: int | None = None
        self._rolled: int | None = None
        self._multi_record: set[str] = set()
        # cell -> its first few call ids, for the days not yet evaluated (evidence in alerts).
        self._samples: dict[Cell, list[str]] = {}
        self._raised: list[QualityAlert] = []

    # --- BatchObserver ---------------------------------------------------------------

    def load(self, conn: Connection) -> None:
        self._watermark = state_value(conn, WATERMARK)
        self._rolled = state_value(conn, ROLLED)
        self._multi_record = {row[0] for row in conn.execute(select(t.quality_multi_record.c.individual_id))}
        self._samples.clear()
        self._raised = []

    def reset_call_counts(self, conn: Connection) -> None:
        from contextsvc.quality.recount import recount  # recount builds on this module

        recount(conn, self.limits)  # the whole recount: it reads the calls itself

    def in_transaction(self, conn: Connection, changes: BatchChanges) -> None:
        tally = Tally()
        newest = self._count_calls(tally, changes)
        today = day_of(changes.now_us)
        for item, result in zip(changes.work, changes.results, strict=True):
            if result.status == "conflict" and isinstance(item, CallWork):
                call = item.call
                day, _ = call_flags(call, changes.now_us, True, self.limits)
                tally.add((day, call.source or "", call.rep_id or "", call.queue or "", call.direction, CONFLICT))
        for item in changes.quarantined:
            cell = quarantine_cell(today, item.body, item.errors)
            tally.add(cell)
            tally.add_reason(today, dimension_values(*cell[1:4]), item.reason)
            self._sample(cell, item.call_id)
        write_tally(conn, tally, self._rolled)
        self._identity(conn, changes, today)
        if newest is not None:
            self._advance(conn, newest, changes.now_us)

    def after_commit(self, changes: BatchChanges) -> None:
        raised, self._raised = self._raised, []
        if raised:
            for alert in raised:
                log.warning(
                    "data-quality alert: %s of %s %r rose from %.1f%% to %.1f%% on %s",
                    alert.metric,
                    alert.dimension,
                    alert.value,
                    alert.rate_before * 100,
                    alert.rate_now * 100,
                    alert.day,
                )
            for sink in self.sinks:
                sink.emit(raised)

    # --- counting --------------------------------------------------------------------

    def _count_calls(self, tally: Tally, changes: BatchChanges) -> int | None:
        """Adds every written call version (less the versions replaced or deleted); returns the
        newest plausible call day of the batch."""
        newest = None
        limits, now_us, owners, replaced_versions = self.limits, changes.now_us, changes.call_owner, changes.replaced
        for replaced in replaced_versions.values():  # overwritten by `calls`, or deleted
            old = replaced.call
            day, flags = call_flags(old, replaced.ingested_at, replaced.individual_id is not None, limits)
            tally.add((day, old.source or "", old.rep_id or "", old.queue or "", old.direction, flags), -1)
        for call_id, call in changes.calls.items():
            day, flags = call_flags(call, now_us, owners.get(call_id) is not None, limits)
            cell = (day, call.source or "", call.rep_id or "", call.queue or "", call.direction, flags)
            tally.add(cell)
            self._sample(cell, call_id)
            if not flags & IMPLAUSIBLE and (newest is None or day > newest):
                newest = day
        return newest

    def _sample(self, cell: Cell, call_id: str | None) -> None:
        """Keeps the first few call ids of each cell of the days not yet evaluated."""
        if call_id is None or (self._watermark is not None and cell[0] < self._watermark):
            return
        kept = self._samples.get(cell)
        if kept is None:
            self._samples[cell] = [call_id]
        elif len(kept) < SAMPLES_KEPT:
            kept.append(call_id)

    def _identity(self, conn: Connection, changes: BatchChanges, today: int) -> None:
        became = []
        for individual_id, state in changes.profiles.items():
            several = len(state.person.salesforce_ids) > 1
            if several and individual_id not in self._multi_record:
                became.append(individual_id)
            elif not several and individual_id in self._multi_record:
                self._forget_multi(conn, individual_id)
        for individual_id in changes.removed & self._multi_record:
            self._forget_multi(conn, individual_id)
        if became:
            conn.execute(
                t.quality_multi_record.insert(), [{"individual_id": i, "since": changes.now_us} for i in became]
            )
            self._multi_record.update(became)
        if became or changes.merges or changes.shared_lines:
            add_counts(
                conn,
                t.quality_identity,
                ("day",),
                [
                    {
                        "day": today,
                        "merges": len(changes.merges),
                        "shared_lines": len(changes.shared_lines),
                        "several_salesforce_ids": len(became),
                    }
                ],
            )

    def _forget_multi(self, conn: Connection, individual_id: str) -> None:
        conn.execute(delete(t.quality_multi_record).where(t.quality_multi_record.c.individual_id == individual_id))
        self._multi_record.discard(individual_id)

    # --- alerts ----------------------------------------------------------------------

    def _advance(self, conn: Connection, newest: int, now_us: int) -> None:
        """Days before the newest call day are complete: evaluate those not yet evaluated."""
        previous = self._watermark
        if previous is not None and newest <= previous:
            return
        if previous is not None:
            first = max(previous, newest - self.rule.baseline_days)
            raised_at = datetime.fromtimestamp(now_us / 1e6, UTC)
            alerts = evaluate_days(conn, range(first, newest), self.rule, self._samples, raised_at)
            if alerts and self.publish is not None:
                self.publish(conn, alerts)
            self._raised.extend(alerts)
        set_state(conn, WATERMARK, newest)
        self._watermark = newest
        ended = month_of(newest) - 1
        if self._rolled is None or ended > self._rolled:
            self._rolled = roll_up_months(conn, self._rolled, ended)
        for key in [key for key in self._samples if key[0] < newest]:
            del self._samples[key]


def state_value(conn: Connection, name: str) -> int | None:
    return conn.execute(select(t.quality_state.c.value).where(t.quality_state.c.name == name)).scalar()


def set_state(conn: Connection, name: str, value: int | None) -> None:
    conn.execute(delete(t.quality_state).where(t.quality_state.c.name == name))
    if value is not None:
        conn.execute(t.quality_state.insert().values(name=name, value=value))


def write_tally(conn: Connection, tally: Tally, rolled_through: int | None, kept_conflicts=()) -> None:
    """Adds a batch's deltas to the daily rows, and to the monthly roll-up for months it
    already holds (late data); newer months are rolled up when they end."""
    rows = tally.rows()
    for day, dimension, value, direction, conflicts in kept_conflicts:  # a recount keeps what it cannot recompute
        rows.setdefault((day, dimension, value, direction), [0] * WIDTH)[METRICS.index("conflicts")] += conflicts
    add_counts(
        conn,
        t.quality_counts,
        ("dimension", "day", "value", "direction"),
        [
            {
                "dimension": dimension,
                "day": day,
                "value": value,
                "direction": direction,
                **dict(zip(METRICS, row, strict=True)),
            }
            for (day, dimension, value, direction), row in rows.items()
        ],
    )
    if rolled_through is not None:
        late = {key: row for key, row in rows.items() if key[0] < month_first_day(rolled_through + 1)}
        _add_monthly(conn, monthly(late))
    add_counts(
        conn,
        t.quality_rejects,
        ("dimension", "day", "value", "reason"),
        [
            {"dimension": dimension, "day": day, "value": value, "reason": reason, "rejected": n}
            for (day, dimension, value, reason), n in tally.reasons.items()
        ],
    )


def _add_monthly(conn: Connection, months: dict[tuple[int, str, str], list[int]]) -> None:
    add_counts(
        conn,
        t.quality_monthly,
        ("dimension", "month", "value"),
        [
            {"dimension": dimension, "month": month, "value": value, **dict(zip(METRICS, row, strict=True))}
            for (month, dimension, value), row in months.items()
        ],
    )


def roll_up_months(conn: Connection, rolled_through: int | None, through: int) -> int:
    """Rolls the daily rows of each month after `rolled_through` up to `through` into the
    monthly table (once per month, as the calls move past its end); returns `through`."""
    c = t.quality_counts.c
    if rolled_through is None:
        first_day = conn.execute(select(func.min(c.day)).where(c.dimension == "all")).scalar()
        start = through + 1 if first_day is None else month_of(first_day)
    else:
        start = rolled_through + 1
    sums = [func.sum(c[name]) for name in METRICS]
    for month in range(start, through + 1):
        rows = conn.execute(
            select(c.dimension, c.value, *sums)
            .where(c.dimension.in_(DIMENSIONS), c.day.between(month_first_day(month), month_first_day(month + 1) - 1))
            .group_by(c.dimension, c.value)
        )
        _add_monthly(conn, {(month, dimension, value): [int(n) for n in counts] for dimension, value, *counts in rows})
    set_state(conn, ROLLED, through)
    return through


def _vectors(conn: Connection, first_day: int, last_day: int) -> dict[int, dict[tuple[str, str], dict[str, list[int]]]]:
    c = t.quality_counts.c
    rows = conn.execute(
        select(c.day, c.dimension, c.value, c.direction, *(c[name] for name in METRICS)).where(
            c.dimension.in_(DIMENSIONS), c.day.between(first_day, last_day)
        )
    )
    by_day: dict[int, dict[tuple[str, str], dict[str, list[int]]]] = {}
    for day, dimension, value, direction, *vector in rows:
        by_day.setdefault(day, {}).setdefault((dimension, value), {})[direction] = vector
    return by_day


def _sum_days(by_day, days) -> dict[tuple[str, str], dict[str, list[int]]]:
    total: dict[tuple[str, str], dict[str, list[int]]] = {}
    for day in days:
        for key, directions in by_day.get(day, {}).items():
            into = total.setdefault(key, {})
            for direction, vector in directions.items():
                row = into.setdefault(direction, [0] * WIDTH)
                for i, n in enumerate(vector):
                    row[i] += n
    return total


def samples_by_rate(samples: dict[Cell, list[str]], day: int) -> dict[tuple[str, str, str], list[str]]:
    """(dimension, value, rate) -> up to SAMPLES_KEPT call ids of that day counting against the rate."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for (cell_day, source, rep, queue, _, flags), ids in samples.items():
        if cell_day != day:
            continue
        for rate in flagged_rates(vector_of(flags)):
            for dimension, value in dimension_values(source, rep, queue):
                kept = found.setdefault((dimension, value, rate), [])
                kept.extend(ids[: SAMPLES_KEPT - len(kept)])
    return found


def evaluate_days(conn: Connection, days: range, rule: AlertRule, samples, raised_at: datetime) -> list[QualityAlert]:
    """Evaluates each completed day against its trailing baseline; stores and returns the alerts."""
    if not days:
        return []
    window = rule.baseline_days
    by_day = _vectors(conn, days.start - window, days.stop - 1)
    a = t.quality_alerts.c
    recent = conn.execute(select(a.day, a.dimension, a.value, a.metric).where(a.day >= days.start - window)).all()
    raised: list[QualityAlert] = []
    for day in days:
        skip = {
            (dimension, value, metric) for alerted, dimension, value, metric in recent if day - window <= alerted < day
        }
        skip.update((x.dimension, x.value, x.metric) for x in raised)
        skip.update((dimension, value, metric) for alerted, dimension, value, metric in recent if alerted == day)
        day_samples = samples_by_rate(samples, day)
        alerts = evaluate_day(
            day,
            by_day.get(day, {}),
            _sum_days(by_day, range(day - window, day)),
            rule,
            skip=skip,
            samples=day_samples,
            raised_at=raised_at,
        )
        for alert in alerts:
            inserted = conn.execute(
                t.quality_alerts.insert().values(
                    day=day,
                    dimension=alert.dimension,
                    value=alert.value,
                    metric=alert.metric,
                    raised_at=micros(raised_at),
                    evidence=json_text(alert),
                )
            ).inserted_primary_key
            assert inserted is not None  # None only for an executemany; this inserts one row
            alert.id = inserted[0]
        raised.extend(alerts)
    return raised
