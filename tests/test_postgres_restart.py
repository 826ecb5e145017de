"""PostgreSQL restarted under a service taking writes: writes in flight get 503
`unavailable` (retryable, never an acknowledgement for an uncommitted write), every
acknowledged call is stored, and the service takes writes again on its own."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import select

from contextsvc.store import tables as t
from tests.helpers import call_event, fetch_all
from tests.live import live_server

pytestmark = pytest.mark.live  # a server process against the session's PostgreSQL

KEY = {"Authorization": "Bearer k"}


async def test_a_postgresql_restart_during_ingest_loses_nothing_acknowledged_and_heals(databases, database_url):
    if databases.server is None:
        pytest.skip("a PostgreSQL restart: the PostgreSQL tier runs it")
    acknowledged: set[str] = set()
    statuses: dict[int, int] = {}
    restarted = asyncio.Event()
    with live_server(database_url, "k") as (base, _):
        async with httpx.AsyncClient(base_url=base, headers=KEY, timeout=30) as client:

            async def post(i: int) -> int:
                response = await client.post("/v1/calls", json=call_event(f"c{i}", who={"phone": f"+1212555{i:04d}"}))
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 201:
                    acknowledged.add(f"c{i}")
                else:
                    assert response.status_code == 503, response.text
                    assert response.json()["code"] == "unavailable" and response.headers["retry-after"]
                return response.status_code

            async def writers() -> None:
                i = 0
                while not restarted.is_set() or len(acknowledged) < 150:
                    await asyncio.gather(*(post(i + k) for k in range(8)))
                    i += 8
                    if i > 20_000:
                        raise AssertionError("the service never took writes again")

            async def restart_when_busy() -> None:
                while len(acknowledged) < 100:
                    await asyncio.sleep(0.01)
                await asyncio.to_thread(databases.server.restart)
                restarted.set()

            started = time.monotonic()
            await asyncio.gather(writers(), restart_when_busy())
            # After the restart the same server answers reads and writes; nobody restarted it.
            assert (await client.get("/health")).json()["status"] == "ok"
            assert (
                await client.post("/v1/calls", json=call_event("after", who={"email": "a@x.com"}))
            ).status_code == 201
    stored = {r.call_id for r in await fetch_all(database_url, select(t.calls.c.call_id))}
    assert acknowledged <= stored
    assert statuses.get(503, 0) >= 1, f"the restart must land mid-stream for this test to mean anything: {statuses}"
    assert set(statuses) <= {201, 503} and time.monotonic() - started < 120
