"""Writer.run: a function in a writer transaction of its own, serialised with ingest."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from contextsvc.errors import NotFound
from contextsvc.store import tables as t
from tests.helpers import call_event, work


async def test_run_commits_its_own_transaction_in_queue_order_with_batches(observed):
    writer, recorder = observed

    def count_calls(conn):
        conn.execute(t.markers.insert().values(name=f"probe{len(probes)}", value=1))
        probes.append(conn.execute(text("select count(*) from calls")).scalar())
        return probes[-1]

    probes: list[int] = []
    # Queued before the batch, the run sees none of it; queued after, all of it — never part.
    before, [first] = await asyncio.gather(writer.run(count_calls), writer.submit([work(call_event("c1"))]))
    [second], after = await asyncio.gather(
        writer.submit([work(call_event("c2", who={"email": "b@x.com"}))]), writer.run(count_calls)
    )
    assert (before, after) == (0, 2) and first.status == second.status == "accepted"
    assert await writer.run(lambda conn: conn.execute(select(t.markers.c.name)).scalars().all()) == ["probe0", "probe1"]
    assert [len(seen.calls) for seen, _ in recorder.seen] == [1, 1]  # a run is not a batch


async def test_a_domain_error_in_run_rolls_back_and_is_raised_as_is(observed):
    writer, _ = observed

    def refuse(conn):
        conn.execute(t.markers.insert().values(name="half", value=1))
        raise NotFound("no such thing")

    with pytest.raises(NotFound):
        await writer.run(refuse)
    assert await writer.run(lambda conn: conn.execute(select(t.markers.c.name)).all()) == []
    [result] = await writer.submit([work(call_event("c2"))])
    assert result.status == "accepted"
