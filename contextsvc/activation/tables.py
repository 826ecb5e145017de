"""Activation rules and the durable webhook outbox."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from contextsvc.store import JsonText, Micros, metadata

activation_rules = Table(
    "activation_rules",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("trigger", JsonText, nullable=False),
    Column("target", JsonText, nullable=False),  # webhook secrets included: never listed
    Column("segment_id", String(40)),  # a threshold trigger's own hidden segment
    Column("created_at", Micros, nullable=False),
)


# The durable outbox: one row per (event, webhook rule), written in the transaction that
# caused the event, so a committed change is delivered at least once across restarts.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_uuid", String(36), nullable=False, unique=True),
    Column("rule_id", String(40), nullable=False, index=True),
    Column("event_type", String(100), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("payload", LargeBinary, nullable=False),  # the exact bytes every attempt sends
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Micros, nullable=False),
    Column("last_error", Text),
    Column("created_at", Micros, nullable=False),
    Column("delivered_at", Micros),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)
