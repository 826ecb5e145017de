"""The Salesforce mirror's look-up indexes name the sObject second: every look-up by call,
key, ActivityId, person or related record also names the sObject, and with a one-column
index SQLite chose the primary key's sObject prefix instead, scanning every Task or
VoiceCall for each page filed (a sync slowing down as the org grows).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = ("call_id", "link_key", "activity_id", "who_id", "what_id")


def upgrade() -> None:
    with op.batch_alter_table("salesforce_records", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.drop_index(f"ix_salesforce_records_{column}")
            batch_op.create_index(f"ix_salesforce_records_{column}_sobject", [column, "sobject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("salesforce_records", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.drop_index(f"ix_salesforce_records_{column}_sobject")
            batch_op.create_index(f"ix_salesforce_records_{column}", [column], unique=False)
