"""The core tables (SQLAlchemy Core): the call log, identity, profiles, quarantine.

Every package that keeps data of its own (segments, activation, insights, quality, the
Salesforce mirror) defines its tables in its own `tables` module on this `metadata`.
Portable: nothing here is SQLite-specific.
"""

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
    # Compared byte-wise on every backend: find_person's prefix search is a range scan on
    # (kind, value), which under a linguistic collation would neither use the index nor
    # bound the range correctly. (SQLite compares bytes already.)
    Column("value", String(320).with_variant(String(320, collation="C"), "postgresql"), nullable=False),
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
    Column("body", Text, nullable=False),  # the kept bytes as text, when they are UTF-8 without NUL
    Column("body_bytes", LargeBinary),  # the kept bytes, when they are not ("" in body)
    Column("size", BigInteger),  # bytes received; kept is less when the item was cut
    Column("kept", BigInteger),  # bytes kept (NULL in rows from before the cap: len(body))
)

# The quarantine's running total against its budget, and what eviction has removed:
# one row (id 1), changed in the transactions that add or remove quarantined items.
quarantine_budget = Table(
    "quarantine_budget",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kept_bytes", BigInteger, nullable=False),
    Column("items", BigInteger, nullable=False),
    Column("evicted_items", BigInteger, nullable=False),
    Column("evicted_bytes", BigInteger, nullable=False),
    Column("last_evicted_at", Micros),
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


# Small named values that must survive restarts, e.g. the UTC day membership is evaluated for.
markers = Table(
    "markers",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


# Where the process holding the writer lease takes the requests other workers hand it
# (writes, and every route a follower does not serve itself). Written by each new leader
# once it holds the lease and serves; one row.
leader = Table(
    "leader",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", String(255), nullable=False),
    Column("elected_at", Micros, nullable=False),
)
