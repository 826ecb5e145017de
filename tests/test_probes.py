"""/health/live answers while the process does; /health/ready only while the service can
work (database, writer, schema), with the reason when it cannot; /health as before."""

from __future__ import annotations

from contextsvc.pipeline import writer as writer_module
from contextsvc.store import head_revision
from tests.helpers import WRITER, call_event, on_app_loop, scrape, sql


async def test_a_healthy_service_is_live_and_ready(api):
    assert (await api.get("/health/live")).json() == {"status": "ok"}
    ready = await api.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"writer": "ok", "database": "ok", "writes": "ok", "schema": "ok"},
        "role": "leader",  # one process is its own leader (several workers: README "Scaling out")
    }
    assert (await api.get("/health")).json()["status"] == "ok"


async def test_ready_turns_503_when_the_writer_has_stopped(api):
    await on_app_loop(api, api.app.state.service.writer.stop)
    ready = await api.get("/health/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not_ready" and body["checks"]["writer"] == "stopped"
    assert body["reasons"] == ["writer: stopped"]
    assert (await api.get("/health/live")).status_code == 200  # alive: don't restart, don't route to it
    assert (await scrape(api)).value("contextsvc_writer_up") == 0


async def test_ready_names_the_writer_failure(api, monkeypatch):
    def explode(*_):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer_module, "apply_batch", explode)
    monkeypatch.setattr(writer_module, "load_graph", explode)
    assert (await api.post("/v1/calls", json=call_event("c1"), headers=WRITER)).status_code == 503
    body = (await api.get("/health/ready")).json()
    assert body["status"] == "not_ready"
    assert (
        body["reasons"][0] == "writer: the call store is unreachable: RuntimeError: disk full"
    )  # it retries meanwhile
    assert body["checks"]["writes"].startswith("failing since")


async def test_ready_turns_503_on_a_schema_older_than_the_code(api):
    await sql(api, "UPDATE alembic_version SET version_num = '0001'")  # as if another version had migrated it
    ready = await api.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["schema"] == f"at revision 0001, needs {head_revision()}: run `contextsvc db upgrade`"
