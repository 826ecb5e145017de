"""The SQLite writer's own connection: small transactions on the loop's thread, large ones
through aiosqlite, and a BEGIN that waits for another connection's write lock without
stopping the loop that lock needs."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from contextsvc.store import connect_writer, create_engine, writer_connection

pytestmark = pytest.mark.sqlite_only("the SQLite writer's connection (PostgreSQL's is the async engine's)")


async def _engine(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/w.db")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    return engine


async def test_begin_waits_for_a_lock_held_through_the_loop_then_writes(tmp_path):
    engine = await _engine(tmp_path)
    other = await engine.connect()
    await other.execution_options(writer=True)
    await other.execute(text("INSERT INTO t VALUES (1)"))  # holds the write lock, via aiosqlite
    writer = await connect_writer(engine)
    try:
        begun = asyncio.create_task(writer.begin(1))
        await asyncio.sleep(0.1)
        assert not begun.done()  # waiting, and the loop still runs (we are here)
        await other.commit()  # needs the loop: a blocking BEGIN would have deadlocked it
        await asyncio.wait_for(begun, 5)
        await writer.run(lambda conn: conn.execute(text("INSERT INTO t VALUES (2)")))
        await writer.commit()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all() == [1, 2]
    finally:
        await other.close()
        await writer.close()
        await engine.dispose()


async def test_begin_gives_up_after_the_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_connection, "BUSY_TIMEOUT_S", 0.05)
    engine = await _engine(tmp_path)
    other = await engine.connect()
    await other.execution_options(writer=True)
    await other.execute(text("INSERT INTO t VALUES (1)"))
    writer = await connect_writer(engine)
    try:
        with pytest.raises(OperationalError, match="locked"):
            await writer.begin(1)
    finally:
        await other.rollback()
        await other.close()
        await writer.close()
        await engine.dispose()


@pytest.mark.parametrize("items", [1, writer_connection.INLINE_MAX_ITEMS, writer_connection.INLINE_MAX_ITEMS + 1, None])
async def test_transactions_of_every_size_commit_and_roll_back(tmp_path, items):
    engine = await _engine(tmp_path)
    writer = await connect_writer(engine)
    try:
        for value, keep in ((1, True), (2, False), (3, True)):
            await writer.begin(items)
            await writer.run(lambda conn, v: conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": v}), value)
            await (writer.commit() if keep else writer.rollback())
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all() == [1, 3]
    finally:
        await writer.close()
        await engine.dispose()
