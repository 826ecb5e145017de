"""Identifier values compare byte-wise on PostgreSQL, as they always did on SQLite, so the
prefix search of find_person is an index range scan whatever the database's collation.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's default collation is byte-wise already
    with op.batch_alter_table("identifiers") as batch_op:
        batch_op.alter_column("value", type_=sa.String(320, collation="C"), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.batch_alter_table("identifiers") as batch_op:
        batch_op.alter_column("value", type_=sa.String(320), existing_nullable=False)
