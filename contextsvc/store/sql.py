"""SQL helpers every package uses, each written once: bulk INSERT, counter upserts, and
selects and deletes over long `IN (...)` lists.

Every value the store writes is already driver-native (ints, str, bytes: see codec.py),
so INSERT and upsert statements are compiled once per dialect and column set and rows go
straight to the driver's executemany. Measured: 3x less overhead per row than
Connection.execute with a list of dicts (BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Column, Connection, Row, Select, Table, delete
from sqlalchemy.sql.elements import ColumnElement

# Values per IN (...) list: under every backend's bound-parameter limit.
IN_CHUNK = 500

_compiled: dict[tuple, tuple[str, tuple[str, ...] | None]] = {}


def chunks(values: Iterable[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    """The distinct values, in first-seen order, a list of at most `size` at a time."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


def select_in(conn: Connection, query: Select, column: ColumnElement[Any], values: Iterable[Any]) -> Iterator[Row]:
    """The rows of `query` whose `column` is one of `values`, however many values there are."""
    for chunk in chunks(values):
        yield from conn.execute(query.where(column.in_(chunk)))


def delete_in(conn: Connection, column: Column[Any], values: Iterable[Any]) -> int:
    """Delete the rows of `column`'s table whose `column` is one of `values`; how many went."""
    count = 0
    for chunk in chunks(values):
        count += conn.execute(delete(column.table).where(column.in_(chunk))).rowcount
    return count


def _run_compiled(conn: Connection, key: tuple, build: Any, rows: list[dict]) -> None:
    cached = _compiled.get(key)
    if cached is None:
        compiled = build().compile(dialect=conn.dialect, column_keys=list(rows[0]))
        cached = (compiled.string, tuple(compiled.positiontup) if compiled.positional else None)
        _compiled[key] = cached
    sql, order = cached
    params = [tuple(row[name] for name in order) for row in rows] if order is not None else rows
    conn.exec_driver_sql(sql, params)


def bulk_insert(conn: Connection, table: Table, rows: list[dict]) -> None:
    if rows:
        key = ("insert", conn.dialect.name, conn.dialect.driver, table.name, tuple(rows[0]))
        _run_compiled(conn, key, table.insert, rows)


def _dialect_insert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT lives in each dialect's module: the one dialect choice is here."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    raise NotImplementedError(f"counter upsert on {dialect}")  # pragma: no cover - the store supports these two


def add_counts(conn: Connection, table: Table, key: tuple[str, ...], rows: list[dict]) -> None:
    """Add each row's non-key columns to the stored row with the same key, or insert it:
    INSERT ... ON CONFLICT DO UPDATE SET c = c + excluded.c (SQLite 3.24+, PostgreSQL)."""
    if not rows:
        return
    columns = tuple(rows[0])

    def build() -> Any:
        insert = _dialect_insert(conn.dialect.name)(table)
        return insert.on_conflict_do_update(
            index_elements=list(key),
            set_={name: table.c[name] + insert.excluded[name] for name in columns if name not in key},
        )

    _run_compiled(conn, ("upsert", conn.dialect.name, conn.dialect.driver, table.name, key, columns), build, rows)


def add_deltas(conn: Connection, table: Table, key: tuple[str, ...], deltas: dict[tuple, dict[str, int]]) -> None:
    """The same, from {key tuple: {column: delta}} (every delta naming the same columns)."""
    add_counts(conn, table, key, [{**dict(zip(key, values, strict=True)), **delta} for values, delta in deltas.items()])
