"""The data-quality monitor's counters, roll-ups, alerts and state."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table

from contextsvc.quality.metrics import METRICS as QUALITY_METRICS
from contextsvc.store import JsonText, Micros, metadata

# Data-quality counters (contextsvc/quality/metrics.py): one row per UTC day, dimension
# (all | source | rep | queue), its value and call direction, one column per metric.
# Maintained in the ingest transaction; the report sums rows, never the call log.
quality_counts = Table(
    "quality_counts",
    metadata,
    Column("dimension", String(8), primary_key=True),
    Column("day", Integer, primary_key=True),  # UTC day number (timeutil.day_of)
    Column("value", String(255), primary_key=True),  # "" for all, or for calls without one
    Column("direction", String(16), primary_key=True),  # "" for quarantined items
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in QUALITY_METRICS),
    # Rows clustered by the key, so a report's range scan reads no second b-tree (2x faster
    # on SQLite; other dialects ignore the option).
    sqlite_with_rowid=False,
)


# The same counters rolled up per calendar month (all directions), so a report over a long
# range reads one row per month and group instead of one per day, direction and group.
quality_monthly = Table(
    "quality_monthly",
    metadata,
    Column("dimension", String(8), primary_key=True),
    Column("month", Integer, primary_key=True),  # year * 12 + month - 1
    Column("value", String(255), primary_key=True),
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in QUALITY_METRICS),
    sqlite_with_rowid=False,
)


# Quarantined items per day (the day they arrived) and reason, with the dimensions their
# body named when it could be read.
quality_rejects = Table(
    "quality_rejects",
    metadata,
    Column("dimension", String(8), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("value", String(255), primary_key=True),
    Column("reason", String(64), primary_key=True),
    Column("rejected", BigInteger, nullable=False, server_default="0"),
    sqlite_with_rowid=False,
)


# Identity health per ingest day.
quality_identity = Table(
    "quality_identity",
    metadata,
    Column("day", Integer, primary_key=True),
    Column("merges", BigInteger, nullable=False, server_default="0"),
    Column("shared_lines", BigInteger, nullable=False, server_default="0"),
    Column("several_salesforce_ids", BigInteger, nullable=False, server_default="0"),  # people who came to have 2+
)


# People whose calls name several Salesforce Contact/Lead ids, right now.
quality_multi_record = Table(
    "quality_multi_record",
    metadata,
    Column("individual_id", String(32), primary_key=True),
    Column("since", Micros, nullable=False),
)


# Degradation alerts, with their evidence.
quality_alerts = Table(
    "quality_alerts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("day", Integer, nullable=False, index=True),  # the UTC day whose data degraded
    Column("dimension", String(8), nullable=False),
    Column("value", String(255), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("raised_at", Micros, nullable=False),
    Column("evidence", JsonText, nullable=False),  # the whole QualityAlert
)


# Small named values of the quality monitor (the day data has been evaluated up to).
quality_state = Table(
    "quality_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
