"""Counter rows kept by increments: add a batch's deltas to rows keyed by some columns.

Portable (no dialect upsert): one SELECT of the keys present, then an UPDATE executemany
for those and a bulk INSERT for the rest. Runs in the writer's transaction, so nothing
else writes the rows between the SELECT and the writes.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, and_, bindparam, select, tuple_, update

from contextsvc.store.bulk import bulk_insert

_CHUNK = 300


def add_counts(conn: Connection, table: Table, keys: tuple[str, ...], deltas: dict[tuple, dict[str, int]]) -> None:
    if not deltas:
        return
    key_cols = [table.c[k] for k in keys]
    wanted = list(deltas)
    present: set[tuple] = set()
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(select(*key_cols).where(tuple_(*key_cols).in_(wanted[start : start + _CHUNK])))
        present.update(tuple(row) for row in rows)
    counters = sorted({name for delta in deltas.values() for name in delta})
    statement = (
        update(table)
        .where(and_(*(col == bindparam("k_" + col.name) for col in key_cols)))
        .values({name: table.c[name] + bindparam("d_" + name) for name in counters})
    )
    updates = [
        {**{"k_" + k: v for k, v in zip(keys, key)}, **{"d_" + n: delta.get(n, 0) for n in counters}}
        for key, delta in deltas.items()
        if key in present
    ]
    if updates:
        conn.execute(statement, updates)
    bulk_insert(
        conn,
        table,
        [
            {**dict(zip(keys, key)), **{n: delta.get(n, 0) for n in counters}}
            for key, delta in deltas.items()
            if key not in present
        ],
    )
