"""The Salesforce mirror's look-up indexes hold the sObject too: every look-up by call,
key, ActivityId, person or related record also names the sObject, and with a one-column
index SQLite (and PostgreSQL without statistics) chose the primary key's sObject prefix
instead, scanning every Task or VoiceCall for each page filed (a sync slowing down as the
org grows).

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


def _new_index(column: str) -> tuple[str, list[str]]:
    """The call id leads its index (pending calls are joined by it alone); the others
    follow the sObject."""
    if column == "call_id":
        return "ix_salesforce_records_call_id_sobject", ["call_id", "sobject"]
    return f"ix_salesforce_records_sobject_{column}", ["sobject", column]


def upgrade() -> None:
    with op.batch_alter_table("salesforce_records", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.drop_index(f"ix_salesforce_records_{column}")
            name, columns = _new_index(column)
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("salesforce_records", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.drop_index(_new_index(column)[0])
            batch_op.create_index(f"ix_salesforce_records_{column}", [column], unique=False)
