"""Read side of the quality monitor: sums of counter rows, never the call log.

A report over any range reads at most (days x groups x directions) counter rows through
the primary key (dimension, day, ...), so its cost does not grow with the number of calls.
"""

from __future__ import annotations

from datetime import date

import msgspec
from sqlalchemy import Connection, func, select

from contextsvc.quality.alerts import QualityAlert, day_date, day_number
from contextsvc.quality.metrics import METRICS
from contextsvc.quality.report import GroupBy, IdentityDay, IdentityHealth, QualityReport, quality_row
from contextsvc.store import tables as t

_decode_alert = msgspec.json.Decoder(QualityAlert).decode


def quality_report(conn: Connection, first: date, last: date, group_by: GroupBy) -> QualityReport:
    lo, hi = day_number(first), day_number(last)
    c, r = t.quality_counts.c, t.quality_rejects.c
    sums = [func.sum(c[name]) for name in METRICS]
    in_range = c.day.between(lo, hi)
    totals = _ints(conn.execute(select(*sums).where(c.dimension == "all", in_range)).one())
    total_reasons = _reasons(conn, "all", r.dimension, lo, hi).get("all", {})
    if group_by == "day":
        dimension, key, reasons = "all", c.day, _reasons(conn, "all", r.day, lo, hi)
    elif group_by == "direction":  # quarantined items have no direction: they form the "" group
        dimension, key, reasons = "all", c.direction, {"": total_reasons}
    else:
        dimension, key, reasons = group_by, c.value, _reasons(conn, group_by, r.value, lo, hi)
    rows = conn.execute(select(key, *sums).where(c.dimension == dimension, in_range).group_by(key).order_by(key))
    groups = [
        quality_row(day_date(group).isoformat() if group_by == "day" else group, _ints(counts), reasons.get(group, {}))
        for group, *counts in rows
    ]
    return QualityReport(
        from_=first,
        to=last,
        group_by=group_by,
        totals=quality_row("all", totals, total_reasons),
        groups=groups,
        identity=_identity(conn, lo, hi),
    )


def _ints(values) -> list[int]:
    return [int(n or 0) for n in values]


def _reasons(conn: Connection, dimension: str, key, lo: int, hi: int) -> dict[object, dict[str, int]]:
    r = t.quality_rejects.c
    rows = conn.execute(
        select(key, r.reason, func.sum(r.rejected)).where(r.dimension == dimension, r.day.between(lo, hi)).group_by(key, r.reason)
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
            select(i.day, i.merges, i.shared_lines, i.several_salesforce_ids).where(i.day.between(lo, hi)).order_by(i.day)
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


def quality_alerts(conn: Connection, since: date | None, limit: int, dimension: str | None = None) -> list[QualityAlert]:
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
