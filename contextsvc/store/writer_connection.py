"""The writer's own connection: where its transactions run.

The writer's work is synchronous SQLAlchemy Core (`fn(connection, ...)`). On PostgreSQL
it runs through the async engine's run_sync: asyncpg is natively asynchronous.

On SQLite a small transaction (a few calls: what CTI adapters send one by one) runs on a
plain sqlite3 connection on the event loop's own thread, and only its COMMIT (the fsync,
and SQLite's automatic checkpoint) goes to a worker thread. Through aiosqlite every
statement costs about six thread hand-offs, and each hand-off waits for the loop: a
single-call commit made ~42 of them, so under read load it queued behind dozens of
requests (single-call commits p50 9.6 ms, p99 54 ms in the smoke load test) and held the
write lock all that time. Run directly, its statements take microseconds each.

A large transaction (a big batch, an erasure, a rebuild) still goes through aiosqlite:
its statements are heavy enough that running them on the loop's thread would keep every
reader waiting (a 2,000-call batch stalled the loop up to 100 ms at a time, and freshness
probes during a bulk load waited 300 ms instead of 100), and the hand-offs cost little
beside them. Either way the transaction runs in a greenlet, so `pause_for_readers` lets
waiting requests in between whole calls.

BEGIN IMMEDIATE never waits on the loop's thread: another connection of this process may
hold the write lock (the Salesforce mirror's own transactions, through aiosqlite) and
can only finish if the loop runs, so the inline connection has no busy timeout and
retries with short sleeps instead, for as long as the others would wait (busy_timeout).
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any, Protocol

import sqlalchemy
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import greenlet_spawn

from contextsvc.store.engine import BUSY_TIMEOUT_S, configure_sqlite

INLINE_MAX_ITEMS = 50  # items up to which a transaction runs on the loop's thread (SQLite)


class WriterConnection(Protocol):
    async def begin(self, items: int | None = None) -> None:
        """A transaction for `items` calls; None for an operation of unknown size."""
        ...

    async def run(self, fn: Any, *args: Any) -> Any:
        """`fn(connection, *args)` on this connection, inside the transaction begun."""
        ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def close(self) -> None: ...

    async def invalidate(self) -> None: ...


async def connect_writer(engine: AsyncEngine) -> WriterConnection:
    """The writer's connection to the database behind `engine`."""
    url = make_url(str(engine.url))
    database = url.database or ""
    bulk = _AsyncWriterConnection(await _async_writer(engine))
    if url.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not database.startswith("file:"):
        return _SqliteWriterConnection(_InlineSqliteConnection(url.set(drivername="sqlite+pysqlite")), bulk)
    return bulk


async def _async_writer(engine: AsyncEngine) -> AsyncConnection:
    conn = await engine.connect()
    await conn.execution_options(writer=True)  # BEGIN IMMEDIATE on SQLite (engine.py)
    return conn


class _AsyncWriterConnection:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def begin(self, items: int | None = None) -> None:
        await self._conn.begin()

    async def run(self, fn: Any, *args: Any) -> Any:
        return await self._conn.run_sync(fn, *args)

    async def commit(self) -> None:
        await self._conn.commit()

    async def rollback(self) -> None:
        await self._conn.rollback()

    async def close(self) -> None:
        await self._conn.close()

    async def invalidate(self) -> None:
        await self._conn.invalidate()


class _SqliteWriterConnection:
    """Each transaction on the inline connection or on the bulk one, by its size."""

    def __init__(self, inline: _InlineSqliteConnection, bulk: _AsyncWriterConnection) -> None:
        self._inline, self._bulk = inline, bulk
        self._current: WriterConnection = bulk

    async def begin(self, items: int | None = None) -> None:
        self._current = self._inline if items is not None and items <= INLINE_MAX_ITEMS else self._bulk
        await self._current.begin(items)

    async def run(self, fn: Any, *args: Any) -> Any:
        return await self._current.run(fn, *args)

    async def commit(self) -> None:
        await self._current.commit()

    async def rollback(self) -> None:
        await self._current.rollback()

    async def close(self) -> None:
        try:
            await self._inline.close()
        finally:
            await self._bulk.close()

    async def invalidate(self) -> None:
        try:
            await self._inline.invalidate()
        finally:
            await self._bulk.invalidate()


class _InlineSqliteConnection:
    def __init__(self, url: sqlalchemy.URL) -> None:
        # One connection, kept for the writer's life: a pool of exactly one.
        self._engine: Engine = sqlalchemy.create_engine(url, pool_size=1, max_overflow=0, hide_parameters=True)
        configure_sqlite(self._engine)

        @event.listens_for(self._engine, "connect")
        def _no_busy_wait(dbapi_conn, _record) -> None:
            dbapi_conn.execute("PRAGMA busy_timeout=0")  # after configure_sqlite's: see begin()

        self._conn: Connection = self._engine.connect().execution_options(writer=True)

    async def begin(self, items: int | None = None) -> None:
        delay, waited = 0.001, 0.0
        while True:
            try:
                self._conn.begin()
                return
            except OperationalError as exc:
                busy = (
                    isinstance(exc.orig, sqlite3.OperationalError) and exc.orig.sqlite_errorcode == sqlite3.SQLITE_BUSY
                )
                if not busy or waited >= BUSY_TIMEOUT_S:
                    raise
            await asyncio.sleep(delay)  # the holder may need this loop to finish
            waited += delay
            delay = min(delay * 2, 0.05)

    async def run(self, fn: Any, *args: Any) -> Any:
        return await greenlet_spawn(fn, self._conn, *args)

    async def commit(self) -> None:
        # The fsync (synchronous=FULL) and any automatic checkpoint happen here: off the
        # loop's thread, in one hand-off. Nothing else uses this connection meanwhile.
        await asyncio.to_thread(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        try:
            self._conn.close()
        finally:
            self._engine.dispose()

    async def invalidate(self) -> None:
        self._conn.invalidate()
        self._engine.dispose()
