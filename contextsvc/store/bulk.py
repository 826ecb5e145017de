"""Bulk INSERT without per-row SQLAlchemy processing, on any dialect.

Every value the store writes is already driver-native (ints, str, bytes: see codec.py),
so the statement is compiled once per dialect and column set, and rows go straight to
the driver's executemany. Measured: 3x less overhead per row than Connection.execute
with a list of dicts (BENCHMARKS.md).
"""

from __future__ import annotations

from sqlalchemy import Connection, Table

_compiled: dict[tuple, tuple[str, tuple[str, ...] | None]] = {}


def bulk_insert(conn: Connection, table: Table, rows: list[dict]) -> None:
    if not rows:
        return
    columns = tuple(rows[0])
    key = (conn.dialect.name, conn.dialect.driver, table.name, columns)
    cached = _compiled.get(key)
    if cached is None:
        compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(columns))
        cached = (compiled.string, tuple(compiled.positiontup) if compiled.positional else None)
        _compiled[key] = cached
    sql, order = cached
    params = [tuple(row[name] for name in order) for row in rows] if order is not None else rows
    conn.exec_driver_sql(sql, params)
