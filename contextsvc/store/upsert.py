"""Add to counters: INSERT ... ON CONFLICT DO UPDATE SET c = c + excluded.c.

SQLite (3.24+) and PostgreSQL both have it, with the same SQLAlchemy construct living in
each dialect's module: the one dialect choice is made here.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table


def _insert_for(dialect: str):
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:  # pragma: no cover - the store supports these two
        raise NotImplementedError(f"counter upsert on {dialect}")
    return insert


def add_counts(conn: Connection, table: Table, key: tuple[str, ...], rows: list[dict]) -> None:
    """Add each row's non-key columns to the stored row with the same key (or insert it)."""
    if not rows:
        return
    insert = _insert_for(conn.dialect.name)(table)
    counted = [name for name in rows[0] if name not in key]
    statement = insert.on_conflict_do_update(
        index_elements=list(key), set_={name: table.c[name] + insert.excluded[name] for name in counted}
    )
    conn.execute(statement, rows)
