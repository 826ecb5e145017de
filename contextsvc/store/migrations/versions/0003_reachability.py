"""Reachability: do-not-call list entries, and outbound calls per account by local hour
of the week (market connect rates). Profiles (answered hours) and these counts are
learnt from the calls already stored by a rebuild that the next process to open the
database runs itself.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dnc_entries",
        sa.Column("list_name", sa.String(length=100), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column("expires_on", sa.Integer(), nullable=True),
        sa.Column("loaded_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("list_name", "number"),
    )
    # What they hold is learnt from the calls already stored: the next process to open the
    # database rebuilds everyone (pipeline/maintenance.py, REBUILD_NEEDED) before it writes.
    op.execute(sa.text("INSERT INTO markers (name, value) VALUES ('rebuild_needed', 1)"))
    op.create_table(
        "reach_account_hours",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("hour_of_week", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("connects", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "hour_of_week"),
    )


def downgrade() -> None:
    op.drop_table("reach_account_hours")
    op.drop_table("dnc_entries")
