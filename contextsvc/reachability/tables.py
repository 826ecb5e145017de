"""Reachability's tables: do-not-call list entries, and outbound calls by local hour of the
week per account (the market connect rates are sums of these)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table

from contextsvc.store import metadata

dnc_entries = Table(
    "dnc_entries",
    metadata,
    Column("list_name", String(100), primary_key=True),
    Column("number", BigInteger, primary_key=True),  # E.164 digits
    Column("source", String(255)),
    Column("expires_on", Integer),  # UTC day number from which the listing no longer applies
    Column("loaded_at", BigInteger, nullable=False),
)

reach_account_hours = Table(
    "reach_account_hours",
    metadata,
    Column("account_id", String(64), primary_key=True),  # "" for calls naming no account
    Column("hour_of_week", Integer, primary_key=True),  # local: Monday 00:00-01:00 is 0
    Column("calls", Integer, nullable=False),
    Column("connects", Integer, nullable=False),
)
