"""The server runs what once needed it stopped: /v1/admin operations through its writer, in
order with ingest; and the CLI refuses to write to a database a server holds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from contextsvc.api.app import create_app
from contextsvc.quality import tables as quality_tables
from contextsvc.store import tables as t
from tests.helpers import ADMIN, READER, WRITER, call_event, fetch_all, url_for
from tests.live import live_server
from tests.salesforce_org import held, load_org, settings

DANA = {"salesforce_id": "0035e00000AAAAA", "phone": "(415) 555-0100", "first_name": "Dana", "last_name": "Lee"}


def _days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def test_admin_operations_need_the_admin_scope(api):
    for path in (
        "/v1/admin/rebuild",
        "/v1/admin/retention/run",
        "/v1/admin/quality/recount",
        "/v1/admin/salesforce/sync",
    ):
        for key in (READER, WRITER):
            response = await api.post(path, headers=key)
            assert response.status_code == 403 and response.json()["code"] == "missing_scope", path


async def test_rebuilding_one_person_or_everyone_answers_what_it_did_and_changes_no_context(api, database_url):
    calls = [call_event(f"d-{n}", n * 60, who=DANA) for n in range(4)]
    calls += [call_event("s-1", 30, who={"email": "sam@x.com", "last_name": "Ortiz"})]
    assert (await api.post("/v1/calls/batch", json={"calls": calls}, headers=ADMIN)).status_code == 200
    as_of = {"as_of": "2026-11-10T12:00:00Z"}
    before = (await api.get("/v1/context/4155550100", params=as_of, headers=ADMIN)).json()
    one = await api.post("/v1/admin/rebuild", json={"lookup": "(415) 555-0100"}, headers=ADMIN)
    assert one.status_code == 200 and one.json() == {
        "profiles": 1,
        "emptied": 0,
        "individual_id": before["individual_id"],
    }
    everyone = await api.post("/v1/admin/rebuild", headers=ADMIN)
    assert everyone.json() == {"profiles": 2, "emptied": 0}
    after = (await api.get("/v1/context/4155550100", params=as_of, headers=ADMIN)).json()
    assert after == before
    # Rebuilt rows keep a rising version (the cache trusts it) and ingest goes on as before.
    versions = [r.version for r in await fetch_all(database_url, select(t.profiles.c.version))]
    assert min(versions) > 1
    more = await api.post("/v1/calls", json=call_event("d-9", 900, who=DANA), headers=ADMIN)
    assert more.status_code == 201
    assert (await api.get("/v1/context/4155550100", headers=ADMIN)).json()["summary"]["calls"] == 5
    unknown = await api.post("/v1/admin/rebuild", json={"lookup": "nobody@x.com"}, headers=ADMIN)
    assert unknown.status_code == 404


async def test_retention_and_the_quality_recount_run_through_the_server(client_for, database_url):
    async with client_for() as api:
        response = await api.post("/v1/admin/retention/run", headers=ADMIN)
        assert response.status_code == 409 and response.json()["code"] == "retention_not_configured"
    async with client_for(retention_days=60, retention_interval_seconds=3600) as api:
        calls = [
            call_event("old", started_at=_days_ago(100), who=DANA),
            call_event("new", started_at=_days_ago(1), who=DANA),
        ]
        await api.post("/v1/calls/batch", json={"calls": calls}, headers=ADMIN)
        purged = await api.post("/v1/admin/retention/run", headers=ADMIN)
        assert purged.status_code == 200 and purged.json()["calls"] == 1
        recount = await api.post("/v1/admin/quality/recount", headers=ADMIN)
        assert recount.status_code == 200 and recount.json() == {"calls": 1}
        q = quality_tables.quality_counts.c
        rows = await fetch_all(database_url, select(q.calls).where(q.dimension == "all"))
        assert sum(r.calls for r in rows) == 1
        assert (await api.get("/v1/context/4155550100", headers=ADMIN)).json()["summary"]["calls"] == 1


@pytest.mark.live  # the TLS fake Salesforce
async def test_the_server_syncs_salesforce_on_its_schedule_and_on_demand(org_dir, fake, tmp_path):
    org = load_org(fake, org_dir)
    config = settings(tmp_path / "sf.db", fake, salesforce_sync_interval_s=3600)
    async with AsyncTestClient(app=create_app(config, salesforce_session=fake.session)) as api:
        for _ in range(300):  # the schedule's first pass runs at start-up
            state = (await api.get("/v1/admin/salesforce", headers=ADMIN)).json()
            if state["passes"] and not state["running"]:
                break
            await asyncio.sleep(0.1)
        assert state["configured"] and state["auth_mode"] == "session" and state["last_error"] is None
        assert state["last_report"]["calls"]["accepted"] == len(held(org_dir, 1))  # every call the org holds
        assert state["next_run_at"] is not None
        again = await api.post("/v1/admin/salesforce/sync", headers=ADMIN)
        assert again.status_code == 200 and again.json()["passes"] == 2
        assert "accepted" not in again.json()["last_report"]["calls"]  # nothing new: nothing sent
        person = org["Task"][0]["WhoId"]
        assert (await api.get(f"/v1/context/{person}", headers=ADMIN)).json()["summary"]["calls"] >= 1


async def test_a_sync_on_demand_without_credentials_says_what_to_set(api):
    response = await api.post("/v1/admin/salesforce/sync", headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "salesforce_not_configured"
    assert "CONTEXTSVC_SALESFORCE_" in response.json()["message"]


@pytest.mark.live  # a server process and CLI subprocesses
def test_commands_that_write_refuse_a_database_a_server_holds_and_name_the_endpoint(tmp_path):
    url = url_for(tmp_path / "held.db")
    env = {**os.environ, "CONTEXTSVC_DATABASE_URL": url, "CONTEXTSVC_API_KEYS": "k"}
    commands = {
        ("rebuild",): "/v1/admin/rebuild",
        ("quality", "rebuild"): "/v1/admin/quality/recount",
        ("retention", "run"): "/v1/admin/retention/run",
    }
    with live_server(url, "k"):
        for args, endpoint in commands.items():
            done = subprocess.run(
                [sys.executable, "-m", "contextsvc.cli", *args],
                capture_output=True,
                text=True,
                env={**env, "CONTEXTSVC_RETENTION_DAYS": "30"},
                timeout=60,
            )
            assert done.returncode == 3, (args, done.stderr)
            assert endpoint in done.stderr and "Traceback" not in done.stderr
        second = subprocess.run(
            [sys.executable, "-m", "contextsvc.cli", "serve", "--port", "1"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert second.returncode == 2 and "another contextsvc process is writing" in second.stderr
    done = subprocess.run(
        [sys.executable, "-m", "contextsvc.cli", "rebuild"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0 and "rebuilt 0 profiles" in done.stdout  # the server is gone: it may write
