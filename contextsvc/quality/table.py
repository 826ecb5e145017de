"""The quality report as a terminal table (`contextsvc quality report`)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from contextsvc.quality.report import QualityReport, QualityRow

# (column title, rate key): the shares a reader scans first; --format json has them all.
COLUMNS = (
    ("no\ndisp.", "no_disposition"),
    ("unmap-\nped", "unmapped_disposition"),
    ("pick-\nlist", "picklist_adherence"),
    ("no\nrecord", "no_crm_record"),
    ("no\nperson", "no_person"),
    ("unre-\nsolved", "unresolved"),
    ("no\ndur.", "no_duration"),
    ("dir.\ninferred", "inferred_direction"),
    ("fu-\nture", "future_time"),
    ("too\nold", "old_time"),
    ("con-\nflicts", "conflicts"),
    ("quar-\nantine", "quarantined"),
)
LEGEND = (
    "shares of calls: no disposition; disposition text matching no picklist value; disposition sent as a "
    "picklist code (adherence); no Lead/Contact linked; nothing identifying the person; identity not "
    "resolved; no duration; direction inferred (no CallType); start in the future / implausibly old; "
    "conflicting replays; share of items quarantined"
)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}" if value >= 0.1 else f"{value:.1%}"


def _row(row: QualityRow, label: str | None = None) -> list[str]:
    return [label or row.group or "(none)", f"{row.calls:,}", *(_share(row.rates[key]) for _, key in COLUMNS)]


def report_table(report: QualityReport) -> Group:
    table = Table(
        title=f"call data quality {report.from_} → {report.to}, by {report.group_by}",
        caption=LEGEND,
        padding=(0, 1),
        pad_edge=False,
    )
    for title in (report.group_by, "calls", *(title for title, _ in COLUMNS)):
        table.add_column(title, justify="left" if title == report.group_by else "right")
    for row in report.groups:
        table.add_row(*_row(row))
    table.add_section()
    table.add_row(*_row(report.totals, "all"), style="bold")
    reasons = Table(title="quarantined items by reason", show_header=False)
    for group in (*report.groups, report.totals):
        for reason, n in group.quarantine_reasons.items():
            reasons.add_row(group.group or "(none)" if group is not report.totals else "all", reason, f"{n:,}")
    identity = report.identity
    health = Table(title="identity health (by the day it was processed)", show_header=False)
    health.add_row("merges", f"{identity.merges:,}")
    health.add_row("shared lines detected", f"{identity.shared_lines_detected:,}")
    health.add_row(
        "people newly carrying several Salesforce ids", f"{identity.people_newly_with_several_salesforce_ids:,}"
    )
    health.add_row("people carrying several Salesforce ids now", f"{identity.people_with_several_salesforce_ids_now:,}")
    return Group(table, *([reasons] if reasons.row_count else []), health)
