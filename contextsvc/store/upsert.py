"""Add to counters: INSERT ... ON CONFLICT DO UPDATE SET c = c + excluded.c.

SQLite (3.24+) and PostgreSQL both have it, with the same SQLAlchemy construct living in
each dialect's module: the one dialect choice is made here. Like bulk.py, the statement is
compiled once per dialect and column set and rows go straight to the driver: the ingest
transaction runs this on every batch, however small.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table

_compiled: dict[tuple, tuple[str, tuple[str, ...] | None]] = {}


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
    columns = tuple(rows[0])
    cache_key = (conn.dialect.name, conn.dialect.driver, table.name, key, columns)
    cached = _compiled.get(cache_key)
    if cached is None:
        insert = _insert_for(conn.dialect.name)(table)
        statement = insert.on_conflict_do_update(
            index_elements=list(key),
            set_={name: table.c[name] + insert.excluded[name] for name in columns if name not in key},
        )
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(columns))
        cached = (compiled.string, tuple(compiled.positiontup) if compiled.positional else None)
        _compiled[cache_key] = cached
    sql, order = cached
    params = [tuple(row[name] for name in order) for row in rows] if order is not None else rows
    conn.exec_driver_sql(sql, params)


def add_deltas(conn: Connection, table: Table, key: tuple[str, ...], deltas: dict[tuple, dict[str, int]]) -> None:
    """The same, from {key tuple: {column: delta}} (every delta naming the same columns)."""
    add_counts(conn, table, key, [{**dict(zip(key, values)), **delta} for values, delta in deltas.items()])
