"""Read side of the quality monitor: sums of counter rows, never the call log.

A report over any range reads at most (days x groups x directions) counter rows through
the primary key (dimension, day, ...), so its cost does not grow with the number of calls.
"""

from __future__ import annotations

from datetime import date

import msgspec
from sqlalchemy import Connection, func, select

from contextsvc.quality import tables as t
from contextsvc.quality.alerts import QualityAlert
from contextsvc.quality.metrics import METRICS, day_date, day_number, month_first_day, month_of
from contextsvc.quality.monitor import ROLLED, state_value
from contextsvc.quality.report import GroupBy, IdentityDay, IdentityHealth, QualityReport, quality_row

_decode_alert = msgspec.json.Decoder(QualityAlert).decode


def alerts_by_metric(conn: Connection) -> dict[str, int]:
    """How many alerts have been raised for each rate, ever (one grouped count: alerts are few)."""
    a = t.quality_alerts.c
    return dict(conn.execute(select(a.metric, func.count()).group_by(a.metric)).tuples().all())


def quality_report(conn: Connection, first: date, last: date, group_by: GroupBy) -> QualityReport:
    lo, hi = day_number(first), day_number(last)
    r = t.quality_rejects.c
    totals = _sums_by_value(conn, "all", lo, hi).get("", [0] * len(METRICS))
    total_reasons = _reasons(conn, "all", r.dimension, lo, hi).get("all", {})
    if group_by in ("day", "direction"):
        c = t.quality_counts.c
        key = c.day if group_by == "day" else c.direction
        rows = conn.execute(
            select(key, *(func.sum(c[name]) for name in METRICS))
            .where(c.dimension == "all", c.day.between(lo, hi))
            .group_by(key)
            .order_by(key)
        )
        sums = {group: _ints(counts) for group, *counts in rows}
        # Quarantined items have no direction: they form the "" group.
        reasons = _reasons(conn, "all", r.day, lo, hi) if group_by == "day" else {"": total_reasons}
    else:
        sums = dict(sorted(_sums_by_value(conn, group_by, lo, hi).items()))
        reasons = _reasons(conn, group_by, r.value, lo, hi)
    groups = [
        quality_row(day_date(group).isoformat() if group_by == "day" else group, counts, reasons.get(group, {}))
        for group, counts in sums.items()
    ]
    return QualityReport(
        from_=first,
        to=last,
        group_by=group_by,
        totals=quality_row("all", totals, total_reasons),
        groups=groups,
        identity=_identity(conn, lo, hi),
    )


def _sums_by_value(conn: Connection, dimension: str, lo: int, hi: int) -> dict[str, list[int]]:
    """Per value of a dimension, counters summed over days lo..hi: whole months from the
    monthly roll-up, the days before and after them from the daily rows."""
    first_month, last_month = month_of(lo), month_of(hi)
    if month_first_day(first_month) != lo:
        first_month += 1
    if month_first_day(last_month + 1) - 1 != hi:
        last_month -= 1
    rolled = state_value(conn, ROLLED)
    last_month = min(last_month, -1 if rolled is None else rolled)  # newer months: daily rows only
    d, m = t.quality_counts.c, t.quality_monthly.c
    if first_month > last_month:
        parts = [d.day.between(lo, hi)]
    else:
        parts = [m.month.between(first_month, last_month)]
        if lo < month_first_day(first_month):
            parts.append(d.day.between(lo, month_first_day(first_month) - 1))
        if month_first_day(last_month + 1) <= hi:
            parts.append(d.day.between(month_first_day(last_month + 1), hi))
    sums: dict[str, list[int]] = {}
    for part in parts:
        c = m if part.left.table is t.quality_monthly else d
        rows = conn.execute(
            select(c.value, *(func.sum(c[name]) for name in METRICS))
            .where(c.dimension == dimension, part)
            .group_by(c.value)
        )
        for value, *counts in rows:
            into = sums.setdefault(value, [0] * len(METRICS))
            for i, n in enumerate(counts):
                into[i] += int(n or 0)
    return sums


def _ints(values) -> list[int]:
    return [int(n or 0) for n in values]


def _reasons(conn: Connection, dimension: str, key, lo: int, hi: int) -> dict[object, dict[str, int]]:
    r = t.quality_rejects.c
    rows = conn.execute(
        select(key, r.reason, func.sum(r.rejected))
        .where(r.dimension == dimension, r.day.between(lo, hi))
        .group_by(key, r.reason)
    )
    found: dict[object, dict[str, int]] = {}
    for group, reason, n in rows:
        found.setdefault(group, {})[reason] = int(n)
    return found


def _identity(conn: Connection, lo: int, hi: int) -> IdentityHealth:
    i = t.quality_identity.c
    days = [
        IdentityDay(day_date(day), merges, shared, several)
        for day, merges, shared, several in conn.execute(
            select(i.day, i.merges, i.shared_lines, i.several_salesforce_ids)
            .where(i.day.between(lo, hi))
            .order_by(i.day)
        )
    ]
    now = conn.execute(select(func.count()).select_from(t.quality_multi_record)).scalar() or 0
    return IdentityHealth(
        merges=sum(d.merges for d in days),
        shared_lines_detected=sum(d.shared_lines for d in days),
        people_newly_with_several_salesforce_ids=sum(d.several_salesforce_ids for d in days),
        people_with_several_salesforce_ids_now=now,
        days=days,
    )


def quality_alerts(
    conn: Connection, since: date | None, limit: int, dimension: str | None = None
) -> list[QualityAlert]:
    """Newest first."""
    a = t.quality_alerts.c
    query = select(a.id, a.evidence).order_by(a.id.desc()).limit(limit)
    if since is not None:
        query = query.where(a.day >= day_number(since))
    if dimension is not None:
        query = query.where(a.dimension == dimension)
    alerts = []
    for alert_id, evidence in conn.execute(query):
        alert = _decode_alert(evidence)
        alert.id = alert_id
        alerts.append(alert)
    return alerts
