"""The schema as it was when migrations began: every table of the call log, identity,
profiles, segments, activation, insights, data quality and the Salesforce mirror.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_attributes",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "account_days",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("outbound", sa.Integer(), nullable=False),
        sa.Column("inbound", sa.Integer(), nullable=False),
        sa.Column("connects", sa.Integer(), nullable=False),
        sa.Column("talk_seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "day"),
    )
    op.create_table(
        "activation_rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("segment_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "call_hours",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("queue", sa.String(length=255), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("connects", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("callback_requests", sa.Integer(), nullable=False),
        sa.Column("talk_seconds", sa.BigInteger(), nullable=False),
        sa.Column("handle_seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "direction", "queue"),
    )
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("individual_id", sa.String(length=32), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.LargeBinary(length=16), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("resolution_rule", sa.String(length=32), nullable=False),
        sa.Column("ingested_at", sa.BigInteger(), nullable=False),
        sa.Column("revisions", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_individual_id"), ["individual_id"], unique=False)

    op.create_table(
        "erasures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("erased_at", sa.BigInteger(), nullable=False),
        sa.Column("individual_ids", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "identifiers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("individual_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("display", sa.String(length=320), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("linked_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "value", "individual_id", name="uq_identifier_per_individual"),
    )
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identifiers_individual_id"), ["individual_id"], unique=False)
        batch_op.create_index("ix_identifiers_lookup", ["kind", "value"], unique=False)

    op.create_table(
        "individuals",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("merged_into", sa.String(length=32), nullable=True),
        sa.Column("merged_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("individuals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_individuals_merged_into"), ["merged_into"], unique=False)

    op.create_table(
        "markers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "merges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("survivor_id", sa.String(length=32), nullable=False),
        sa.Column("merged_id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("merged_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_merges_merged_id"), ["merged_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_merges_survivor_id"), ["survivor_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_uuid", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_uuid"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_rule_id"), ["rule_id"], unique=False)

    op.create_table(
        "profiles",
        sa.Column("individual_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("individual_id"),
    )
    op.create_table(
        "quality_alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("raised_at", sa.BigInteger(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quality_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quality_alerts_day"), ["day"], unique=False)

    op.create_table(
        "quality_counts",
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("calls", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("no_disposition", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unmapped_disposition", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("picklist_code", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("no_crm_record", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("no_person", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unresolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("no_duration", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("future_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("old_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("conflicts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quarantined", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("missing_direction", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("dimension", "day", "value", "direction"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "quality_identity",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("merges", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("shared_lines", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("several_salesforce_ids", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "quality_monthly",
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("calls", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("no_disposition", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unmapped_disposition", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("picklist_code", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("no_crm_record", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("no_person", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unresolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("no_duration", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("future_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("old_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("conflicts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quarantined", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("missing_direction", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("dimension", "month", "value"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "quality_multi_record",
        sa.Column("individual_id", sa.String(length=32), nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("individual_id"),
    )
    op.create_table(
        "quality_rejects",
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("dimension", "day", "value", "reason"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "quality_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_received_at"), ["received_at"], unique=False)

    op.create_table(
        "salesforce_pending",
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    op.create_table(
        "salesforce_records",
        sa.Column("sobject", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=18), nullable=False),
        sa.Column("system_modstamp", sa.BigInteger(), nullable=False),
        sa.Column("is_deleted", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=True),
        sa.Column("who_id", sa.String(length=18), nullable=True),
        sa.Column("what_id", sa.String(length=18), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sobject", "record_id"),
    )
    with op.batch_alter_table("salesforce_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_salesforce_records_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_salesforce_records_what_id"), ["what_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_salesforce_records_who_id"), ["who_id"], unique=False)

    op.create_table(
        "salesforce_submitted",
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=16), nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    op.create_table(
        "salesforce_watermarks",
        sa.Column("sobject", sa.String(length=40), nullable=False),
        sa.Column("system_modstamp", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.String(length=18), nullable=False),
        sa.Column("synced_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sobject"),
    )
    op.create_table(
        "salesforce_written",
        sa.Column("record_id", sa.String(length=18), nullable=False),
        sa.Column("sobject", sa.String(length=40), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("written_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("record_id"),
    )
    op.create_table(
        "segment_members",
        sa.Column("segment_id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("entered_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("segment_id", "member_id"),
    )
    op.create_table(
        "segments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_segments_rule_id"), ["rule_id"], unique=False)

    op.create_table(
        "shared_lines",
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("detected_at", sa.BigInteger(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )


def downgrade() -> None:
    op.drop_table("shared_lines")
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segments_rule_id"))

    op.drop_table("segments")
    op.drop_table("segment_members")
    op.drop_table("salesforce_written")
    op.drop_table("salesforce_watermarks")
    op.drop_table("salesforce_submitted")
    with op.batch_alter_table("salesforce_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_salesforce_records_who_id"))
        batch_op.drop_index(batch_op.f("ix_salesforce_records_what_id"))
        batch_op.drop_index(batch_op.f("ix_salesforce_records_call_id"))

    op.drop_table("salesforce_records")
    op.drop_table("salesforce_pending")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_received_at"))

    op.drop_table("quarantine")
    op.drop_table("quality_state")
    op.drop_table("quality_rejects")
    op.drop_table("quality_multi_record")
    op.drop_table("quality_monthly")
    op.drop_table("quality_identity")
    op.drop_table("quality_counts")
    with op.batch_alter_table("quality_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_alerts_day"))

    op.drop_table("quality_alerts")
    op.drop_table("profiles")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_rule_id"))
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merges_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_merges_merged_id"))

    op.drop_table("merges")
    op.drop_table("markers")
    with op.batch_alter_table("individuals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_individuals_merged_into"))

    op.drop_table("individuals")
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_identifiers_lookup")
        batch_op.drop_index(batch_op.f("ix_identifiers_individual_id"))

    op.drop_table("identifiers")
    op.drop_table("erasures")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_individual_id"))

    op.drop_table("calls")
    op.drop_table("call_hours")
    op.drop_table("activation_rules")
    op.drop_table("account_days")
    op.drop_table("account_attributes")
