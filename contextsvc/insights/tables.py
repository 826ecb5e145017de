"""Calculated insights: calls per hour, direction and queue; accounts' market attributes."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table

from contextsvc.store import metadata

# Calls per UTC hour, direction and queue ('' when none): the contact-centre and
# connect-rate insights sum these rows. Kept by increments in the ingest transaction.
call_hours = Table(
    "call_hours",
    metadata,
    Column("hour", Integer, primary_key=True),  # hours since the epoch, UTC
    Column("direction", String(16), primary_key=True),
    Column("queue", String(255), primary_key=True),
    Column("calls", Integer, nullable=False),
    Column("connects", Integer, nullable=False),
    Column("answered", Integer, nullable=False),  # a human picked up
    Column("abandoned", Integer, nullable=False),
    Column("callback_requests", Integer, nullable=False),  # a queued caller chose a callback
    Column("talk_seconds", BigInteger, nullable=False),
    Column("handle_seconds", BigInteger, nullable=False),  # talk + hold of answered calls
)


# Market attributes of accounts (Salesforce Account Industry, region, segment), loaded by
# POST /v1/accounts: the dimensions of market insights.
account_attributes = Table(
    "account_attributes",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("name", String(255)),
    Column("industry", String(100)),
    Column("region", String(100)),
    Column("segment", String(100)),
)
