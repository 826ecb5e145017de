"""A bounded quarantine: each rejected body kept up to a size (its full size recorded), the
raw bytes of bodies that are not UTF-8, and the running total the budget evicts by
(initialised from the rows already kept, on first use).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarantine_budget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kept_bytes", sa.BigInteger(), nullable=False),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.Column("evicted_items", sa.BigInteger(), nullable=False),
        sa.Column("evicted_bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_evicted_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_bytes", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("kept", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_column("kept")
        batch_op.drop_column("size")
        batch_op.drop_column("body_bytes")

    op.drop_table("quarantine_budget")
