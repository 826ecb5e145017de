"""Segment definitions, their members, and per-account call days (account segments)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text

from contextsvc.store import JsonText, Micros, metadata

segments = Table(
    "segments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("subject", String(16), nullable=False),  # individual | account
    Column("description", Text),
    Column("condition", JsonText, nullable=False),
    Column("created_at", Micros, nullable=False),
    # Set for a segment an activation rule owns (a threshold trigger): not listed, not in contexts.
    Column("rule_id", String(40), index=True),
)


# Who is in each segment now; written in the same transaction as the change that caused it.
segment_members = Table(
    "segment_members",
    metadata,
    Column("segment_id", String(40), primary_key=True),
    Column("member_id", String(64), primary_key=True),  # individual id or Salesforce Account id
    Column("entered_at", Micros, nullable=False),
)


# Calls naming each account (related.account_id), per UTC day, whoever they were with.
account_days = Table(
    "account_days",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("calls", Integer, nullable=False),
    Column("outbound", Integer, nullable=False),
    Column("inbound", Integer, nullable=False),
    Column("connects", Integer, nullable=False),
    Column("talk_seconds", BigInteger, nullable=False),
)
