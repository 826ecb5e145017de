"""The quality report's shape, and turning summed counters into rates. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

import msgspec

from contextsvc.quality.alerts import RATES
from contextsvc.quality.metrics import INDEX, METRICS

GroupBy = Literal["source", "rep", "queue", "day", "direction"]


class QualityRow(msgspec.Struct):
    group: str  # the source, rep, queue, direction or day (YYYY-MM-DD); "" = none given
    calls: int  # stored calls
    received: int  # stored calls + items quarantined
    rates: dict[str, float | None]  # each metric's share, and picklist_adherence; None: nothing to divide
    counts: dict[str, int]
    quarantine_reasons: dict[str, int]


class IdentityDay(msgspec.Struct):
    day: date
    merges: int
    shared_lines: int
    several_salesforce_ids: int


class IdentityHealth(msgspec.Struct):
    """Identity resolution over the range (by the day it happened), and now."""

    merges: int
    shared_lines_detected: int
    people_newly_with_several_salesforce_ids: int
    people_with_several_salesforce_ids_now: int
    days: list[IdentityDay]


class QualityReport(msgspec.Struct):
    from_: date = msgspec.field(name="from")
    to: date
    group_by: GroupBy
    totals: QualityRow
    groups: list[QualityRow]
    identity: IdentityHealth


def quality_row(group: str, counts: Sequence[int], reasons: dict[str, int]) -> QualityRow:
    calls = counts[INDEX["calls"]]
    rates = {}
    for name, (numerator, denominator) in RATES.items():
        n = denominator(counts)
        rates[name] = round(numerator(counts) / n, 4) if n else None
    rates["picklist_adherence"] = round(counts[INDEX["picklist_code"]] / calls, 4) if calls else None
    return QualityRow(
        group=group,
        calls=calls,
        received=calls + counts[INDEX["quarantined"]],
        rates=rates,
        counts=dict(zip(METRICS, counts, strict=True)),
        quarantine_reasons=dict(sorted(reasons.items())),
    )
