"""Table definitions (SQLAlchemy Core). Portable: nothing here is SQLite-specific."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from contextsvc.quality.metrics import METRICS as QUALITY_METRICS

metadata = MetaData()

# Timestamps are UTC microseconds since the epoch and JSON is msgspec-encoded text:
# see store/codec.py for why.
Micros = BigInteger
JsonText = Text

# The call log: one row per call_id holding its newest accepted version. The source of
# truth every profile can be recomputed from.
calls = Table(
    "calls",
    metadata,
    Column("call_id", String(255), primary_key=True),
    Column("individual_id", String(32), index=True),  # None: nobody identifiable
    Column("version", Micros, nullable=False),
    Column("content_hash", LargeBinary(16), nullable=False),
    Column("started_at", Micros, nullable=False),
    Column("body", LargeBinary, nullable=False),  # msgspec JSON of ingest.normalise.Call
    Column("resolution_rule", String(32), nullable=False),
    Column("ingested_at", Micros, nullable=False),
    Column("revisions", Integer, nullable=False, server_default="1"),
)

individuals = Table(
    "individuals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # person | shared_line
    Column("created_at", Micros, nullable=False),
    # Always the final survivor (one hop), rewritten when a survivor is merged again.
    Column("merged_into", String(32), index=True),
    Column("merged_at", Micros),
    # Name, company and title live in the person's profile (newest call per attribute).
)

# Every identifier ever linked to an individual, with the rule and evidence that linked it.
# Rows are never re-pointed on merge: they keep the history of what was learned when.
identifiers = Table(
    "identifiers",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("individual_id", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("value", String(320), nullable=False),
    Column("display", String(320)),
    Column("rule", String(32), nullable=False),
    Column("evidence", JsonText, nullable=False),
    Column("linked_at", Micros, nullable=False),
    UniqueConstraint("kind", "value", "individual_id", name="uq_identifier_per_individual"),
    Index("ix_identifiers_lookup", "kind", "value"),
)

merges = Table(
    "merges",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("survivor_id", String(32), nullable=False, index=True),
    Column("merged_id", String(32), nullable=False, index=True),
    Column("rule", String(32), nullable=False),
    Column("evidence", JsonText, nullable=False),
    Column("merged_at", Micros, nullable=False),
)

# Everything a client sent that was rejected, verbatim, with the reason.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("received_at", Micros, nullable=False, index=True),
    Column("channel", String(64), nullable=False),  # e.g. "POST /v1/calls/batch[17]"
    Column("call_id", String(255)),
    Column("reason", String(64), nullable=False),
    Column("errors", JsonText, nullable=False),
    Column("body", Text, nullable=False),
)

# Per-person profile state (profile/state.py), msgpack-encoded. Derivable from `calls`:
# `contextsvc rebuild` recomputes every row. `version` rises with every change.
profiles = Table(
    "profiles",
    metadata,
    Column("individual_id", String(32), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("updated_at", Micros, nullable=False),
)

# Numbers detected as shared lines (switchboards): they stop linking people, for good.
shared_lines = Table(
    "shared_lines",
    metadata,
    Column("phone", String(32), primary_key=True),
    Column("detected_at", Micros, nullable=False),
    Column("evidence", JsonText, nullable=False),
)

# --- Salesforce connector (contextsvc/salesforce/) ------------------------------------

# How far each sObject has been read: the (SystemModstamp, Id) of the last record stored
# in salesforce_records. Advanced in the same transaction as those records.
salesforce_watermarks = Table(
    "salesforce_watermarks",
    metadata,
    Column("sobject", String(40), primary_key=True),
    Column("system_modstamp", Micros, nullable=False),
    Column("record_id", String(18), nullable=False),
    Column("synced_at", Micros, nullable=False),
)

# The newest version of every record read from Salesforce (deleted ones flagged): calls
# are derived from a Task, its VoiceCall and the Contact/Lead/Account/Opportunity they name.
salesforce_records = Table(
    "salesforce_records",
    metadata,
    Column("sobject", String(40), primary_key=True),
    Column("record_id", String(18), primary_key=True),
    Column("system_modstamp", Micros, nullable=False),
    Column("is_deleted", Integer, nullable=False),
    Column("call_id", String(255), index=True),  # Task and VoiceCall: the call they describe
    Column("who_id", String(18), index=True),  # the person (for a Lead: ConvertedContactId)
    Column("what_id", String(18), index=True),  # related record (Contact/Opportunity: AccountId)
    Column("started_at", Micros),  # calls: for chronological submission
    Column("body", LargeBinary, nullable=False),  # the record's fields, msgspec JSON
)

# Calls whose Salesforce records changed and whose CallEvent is not yet committed by the
# writer: written with the records, deleted only after the writer acknowledged them, so a
# crash in between replays them (idempotently) instead of losing them.
salesforce_pending = Table(
    "salesforce_pending",
    metadata,
    Column("call_id", String(255), primary_key=True),
)

# What the connector last submitted per call (content digest without the version), so a
# record change that does not change the call sends nothing, and one that does gets a
# version newer than the stored one even when no SystemModstamp moved past it.
salesforce_submitted = Table(
    "salesforce_submitted",
    metadata,
    Column("call_id", String(255), primary_key=True),
    Column("version", Micros, nullable=False),
    Column("digest", LargeBinary(16), nullable=False),
)

# Write-back: the field values last accepted by Salesforce per Contact/Lead.
salesforce_written = Table(
    "salesforce_written",
    metadata,
    Column("record_id", String(18), primary_key=True),
    Column("sobject", String(40), nullable=False),
    Column("fields", JsonText, nullable=False),
    Column("written_at", Micros, nullable=False),
)

# One row per erasure (DELETE /v1/individuals): what was removed, counted, and by which
# key (a fingerprint, not the key) — no name, phone, email or call content.
erasures = Table(
    "erasures",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("erased_at", Micros, nullable=False),
    Column("individual_ids", JsonText, nullable=False),  # random ids that now resolve to nothing
    Column("requested_by", String(32), nullable=False),
    Column("counts", JsonText, nullable=False),
)

# --- segments (contextsvc/segments, store/segments.py) ---------------------------------

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

# Small named values that must survive restarts, e.g. the UTC day membership is evaluated for.
markers = Table(
    "markers",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
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

# --- activation (contextsvc/activation, store/activation.py) ------------------------------

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

# --- calculated insights (store/insights.py) ------------------------------------------

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
