"""/health reports writes failing (here: a full disk, as SQLite reports it) and recovers
when they succeed again; each failed commit logs one line with the cause."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.helpers import WRITER, call_event


async def _limit_pages(api, pages: int | None) -> None:
    """SQLite's max_page_count on the writer's connection: a database that may not grow
    fails every write with 'database or disk is full', exactly as a full volume does."""
    writer = api.app.state.service.writer

    def limit(conn):
        size = conn.exec_driver_sql("PRAGMA page_count").scalar()
        # The pragma is per connection, and the writer has two: this one (its large
        # transactions, through aiosqlite) and the one its small transactions run on.
        # (The second, through its driver's connection: outside any transaction.)
        statement = f"PRAGMA max_page_count = {size if pages is None else pages}"
        conn.exec_driver_sql(statement)
        writer._conn._inline._conn.connection.driver_connection.execute(statement)

    # The test client runs the app on an event loop of its own: the writer is run there.
    loop = writer._task.get_loop()
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(writer.run(limit), loop))


@pytest.mark.sqlite_only(
    "a full disk, made with SQLite's max_page_count (a PostgreSQL restart: test_postgres_restart.py)"
)
async def test_health_reports_failing_writes_and_recovers(api, caplog):
    assert (await api.get("/health")).json()["checks"]["writes"] == "ok"
    await _limit_pages(api, None)
    caplog.set_level(logging.ERROR, logger="contextsvc.pipeline.writer")
    big = "x" * 20_000  # notes large enough to need new pages
    for n in range(3):
        response = await api.post("/v1/calls", json=call_event(f"full-{n}", notes=big), headers=WRITER)
        assert response.status_code == 503 and response.json()["code"] == "unavailable"
    health = await api.get("/health")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    writes = health.json()["checks"]["writes"]
    assert writes.startswith("failing since ") and "database or disk is full" in writes
    lines = [r for r in caplog.records if r.getMessage().startswith("group commit failed")]
    assert len(lines) == 3 and all(
        "cause='OperationalError: database or disk is full'" in r.getMessage() for r in lines
    )
    assert lines[0].exc_info and not any(r.exc_info for r in lines[1:])  # one traceback per streak
    assert "x" * 100 not in caplog.text  # no statement parameters in the log
    await _limit_pages(api, 1_073_741_823)
    assert (await api.post("/v1/calls", json=call_event("after"), headers=WRITER)).status_code == 201
    health = await api.get("/health")
    assert health.status_code == 200 and health.json()["checks"]["writes"] == "ok"
