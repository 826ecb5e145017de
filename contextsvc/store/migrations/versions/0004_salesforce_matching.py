"""Salesforce calls as real orgs hold them: the link key and activity id by which Tasks
and VoiceCalls group into calls (indexed), and the `inferred_direction` data-quality
counter. Stored Tasks and VoiceCalls are filed again by the new rules before the next
sync pass reads (a marker: contextsvc/salesforce/mirror.py, refile_if_needed).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quality_counts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inferred_direction", sa.BigInteger(), server_default="0", nullable=False))

    with op.batch_alter_table("quality_monthly", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inferred_direction", sa.BigInteger(), server_default="0", nullable=False))

    with op.batch_alter_table("salesforce_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("activity_id", sa.String(length=18), nullable=True))
        batch_op.create_index(batch_op.f("ix_salesforce_records_activity_id"), ["activity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_salesforce_records_link_key"), ["link_key"], unique=False)
    op.execute(
        sa.text(
            "INSERT INTO markers (name, value) SELECT 'salesforce_refile_needed', 1 WHERE EXISTS "
            "(SELECT 1 FROM salesforce_records WHERE sobject IN ('Task', 'VoiceCall'))"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("salesforce_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_salesforce_records_link_key"))
        batch_op.drop_index(batch_op.f("ix_salesforce_records_activity_id"))
        batch_op.drop_column("activity_id")
        batch_op.drop_column("link_key")

    with op.batch_alter_table("quality_monthly", schema=None) as batch_op:
        batch_op.drop_column("inferred_direction")

    with op.batch_alter_table("quality_counts", schema=None) as batch_op:
        batch_op.drop_column("inferred_direction")
