"""A failed commit acknowledges nothing and leaves no trace in memory."""

from __future__ import annotations

import asyncio

import pytest

from contextsvc.errors import Unavailable
from contextsvc.identity.graph import IdentityGraph
from contextsvc.pipeline import writer as writer_module
from contextsvc.pipeline.cache import ProfileCache
from contextsvc.pipeline.profiles import ProfileWriter
from contextsvc.pipeline.writer import Writer
from contextsvc.store.engine import create_engine, create_schema
from tests.helpers import PICKLIST, call_event, url_for, work


@pytest.fixture
async def writer(tmp_path):
    engine = create_engine(url_for(tmp_path / "w.db"))
    await create_schema(engine)
    w = Writer(engine, IdentityGraph, ProfileWriter(PICKLIST, 100), ProfileCache(100))
    await w.start()
    yield w
    await w.stop()
    await engine.dispose()


async def test_a_failed_commit_is_not_acknowledged_and_forgets_its_identity_changes(writer, monkeypatch):
    [first] = await writer.submit([work(call_event("c1", who={"email": "a@x.com", "last_name": "Lee"}))])
    real = writer_module.apply_batch

    def explode(conn, ctx, items, now):
        real(conn, ctx, items, now)  # the graph and profiles change in memory...
        raise RuntimeError("disk full")  # ...and then the commit fails

    monkeypatch.setattr(writer_module, "apply_batch", explode)
    with pytest.raises(Unavailable):
        await writer.submit([work(call_event("c2", who={"email": "b@x.com", "salesforce_id": "0035e00000ABcdE"}))])
    monkeypatch.setattr(writer_module, "apply_batch", real)
    assert writer.graph.lookup("email", "b@x.com") == []  # the rolled-back person is gone
    [again] = await writer.submit(
        [work(call_event("c2", who={"email": "b@x.com", "salesforce_id": "0035e00000ABcdE"}))]
    )
    assert again.status == "accepted"  # not "duplicate": the failed attempt left nothing behind
    assert writer.graph.lookup("email", "a@x.com") == [first.individual_id]


async def test_writes_are_refused_until_the_graph_can_be_reloaded_then_resume_on_their_own(writer, monkeypatch):
    def explode(*_):
        raise RuntimeError("disk full")

    real_apply, real_load = writer_module.apply_batch, writer_module.load_graph
    monkeypatch.setattr(writer_module, "apply_batch", explode)
    monkeypatch.setattr(writer_module, "load_graph", explode)
    with pytest.raises(Unavailable):
        await writer.submit([work(call_event("c1"))])
    assert not writer.running and "disk full" in writer.unavailable and not writer.failed
    with pytest.raises(Unavailable) as refused:
        await writer.submit([work(call_event("c2"))])
    assert refused.value.details == {"retry_after_s": 1}  # retryable, and says when
    monkeypatch.setattr(writer_module, "apply_batch", real_apply)
    monkeypatch.setattr(writer_module, "load_graph", real_load)  # the disk has room again
    for _ in range(100):
        if writer.running:
            break
        await asyncio.sleep(0.05)
    [again] = await writer.submit([work(call_event("c1"))])
    assert again.status == "accepted"  # the refused attempt left nothing behind
