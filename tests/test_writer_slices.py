"""A large request is committed in slices; small requests overtake its remaining slices."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from contextsvc.identity.graph import IdentityGraph
from contextsvc.pipeline.cache import ProfileCache
from contextsvc.pipeline.profiles import ProfileWriter
from contextsvc.pipeline.writer import Writer
from contextsvc.store.engine import create_engine, create_schema
from tests.helpers import PICKLIST, T0, Recorder, call_event, url_for, work


@pytest.fixture
async def writer(tmp_path):
    engine = create_engine(url_for(tmp_path / "s.db"))
    await create_schema(engine)
    w = Writer(engine, IdentityGraph, ProfileWriter(PICKLIST, 1000), ProfileCache(1000), commit_slice=50)
    w.observe(recorder := Recorder())
    await w.start()
    yield w, recorder
    await w.stop()
    await engine.dispose()


async def test_a_single_call_is_not_held_behind_a_large_batch(writer):
    writer, _ = writer
    big = [work(call_event(f"b{i}", minutes=i, who={"phone": f"+1646555{i:04d}"})) for i in range(1000)]
    finished: list[str] = []

    async def post(name: str, items):
        results = await writer.submit(items)
        finished.append(name)
        return results

    await writer.submit([work(call_event("s0", who={"email": "s0@x.com"}))])  # small requests are flowing
    batch = asyncio.create_task(post("batch", big))
    await asyncio.sleep(0)  # the batch's 20 slices are queued first
    single = await post("single", [work(call_event("s1", who={"email": "s@x.com"}))])
    results = await batch
    assert finished == ["single", "batch"]  # answered after at most one slice, not twenty
    assert single[0].status == "accepted"
    assert [r.status for r in results] == ["accepted"] * 1000
    assert [r.call_id for r in results] == [f"b{i}" for i in range(1000)]  # in request order


async def test_a_large_request_alone_commits_whole(writer):
    writer, recorder = writer
    results = await writer.submit(
        [work(call_event(f"b{i}", minutes=i, who={"email": f"b{i}@x.com"})) for i in range(120)]
    )
    assert {r.status for r in results} == {"accepted"}
    assert [len(changes.calls) for changes, _ in recorder.seen] == [120]  # one transaction, not three slices


async def test_slices_of_one_request_keep_its_order(writer):
    writer, _ = writer
    await writer.submit([work(call_event("s0", who={"email": "s0@x.com"}))])  # small requests are flowing
    # The same call twice in one request, in different slices: the later version wins.
    first = call_event("c1", who={"email": "a@x.com"}, disposition="no_answer")
    later = {**first, "updated_at": (T0 + timedelta(days=1)).isoformat(), "disposition": "meeting_booked"}
    filler = [work(call_event(f"f{i}", minutes=i + 1, who={"email": f"f{i}@x.com"})) for i in range(60)]
    results = await writer.submit([work(first), *filler, work(later)])
    assert (results[0].status, results[-1].status) == ("accepted", "updated")
