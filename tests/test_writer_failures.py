"""A failed commit acknowledges nothing and leaves no trace in memory."""

from __future__ import annotations

import pytest

from contextsvc.errors import Unavailable
from contextsvc.identity.graph import IdentityGraph
from contextsvc.pipeline import writer as writer_module
from contextsvc.pipeline.cache import ProfileCache
from contextsvc.store.engine import create_engine, create_schema
from contextsvc.pipeline.profiles import ProfileWriter
from contextsvc.pipeline.writer import Writer
from tests.helpers import PICKLIST, call_event, work
from tests.helpers import url_for


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
    [again] = await writer.submit([work(call_event("c2", who={"email": "b@x.com", "salesforce_id": "0035e00000ABcdE"}))])
    assert again.status == "accepted"  # not "duplicate": the failed attempt left nothing behind
    assert writer.graph.lookup("email", "a@x.com") == [first.individual_id]


async def test_if_the_graph_cannot_be_reloaded_writes_are_refused(writer, monkeypatch):
    def explode(*_):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer_module, "apply_batch", explode)
    monkeypatch.setattr(writer_module, "load_graph", explode)
    with pytest.raises(Unavailable):
        await writer.submit([work(call_event("c1"))])
    assert not writer.running and writer.failed
    with pytest.raises(Unavailable):
        await writer.submit([work(call_event("c2"))])
