"""Writer.run: a function in a writer transaction of its own, serialised with ingest."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from contextsvc.errors import NotFound
from contextsvc.store import tables as t
from tests.helpers import call_event
from tests.test_observers import observed  # noqa: F401  (fixture)
from tests.test_writer_failures import work


async def test_run_commits_its_own_transaction_between_batches(observed):  # noqa: F811
    writer, recorder = observed
    def count_calls(conn):
        conn.execute(t.markers.insert().values(name="probe", value=1))
        return conn.execute(text("select count(*) from calls")).scalar()
    batch = writer.submit([work(call_event("c1", who={"email": "a@x.com"}))])
    counted, results = await asyncio.gather(writer.run(count_calls), batch)
    assert results[0].status == "accepted" and counted in (0, 1)
    assert await writer.run(lambda conn: conn.execute(select(t.markers.c.value)).scalar()) == 1
    assert [len(seen.calls) for seen, _ in recorder.seen] == [1]  # a run is not a batch


async def test_a_domain_error_in_run_rolls_back_and_is_raised_as_is(observed):  # noqa: F811
    writer, _ = observed
    def refuse(conn):
        conn.execute(t.markers.insert().values(name="half", value=1))
        raise NotFound("no such thing")
    with pytest.raises(NotFound):
        await writer.run(refuse)
    assert await writer.run(lambda conn: conn.execute(select(t.markers.c.name)).all()) == []
    [result] = await writer.submit([work(call_event("c2"))])
    assert result.status == "accepted"
