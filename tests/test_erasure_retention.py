"""Erasure and retention leave every context equal to a recomputation over the calls
that remain, and leave nothing of an erased person behind (restart included)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from contextsvc.context.assemble import assemble
from contextsvc.ingest.dispositions import Picklist
from contextsvc.pipeline.profiles import facts_of
from contextsvc.profile.state import build, decode_state
from contextsvc.settings import REPO_ROOT
from contextsvc.store import create_engine
from contextsvc.store import tables as t
from tests.helpers import ADMIN, call_event, fetch_all

PICKLIST = Picklist.load(REPO_ROOT / "seed" / "dispositions.toml")
DANA = {
    "salesforce_id": "0035e00000AAAAA",
    "phone": "(415) 555-0100",
    "email": "dana@northwind.com",
    "first_name": "Dana",
    "last_name": "Lee",
    "company": "Northwind",
}
DANA_LEAD = {"salesforce_id": "00Q5e00000LLLLL", "first_name": "Dana", "last_name": "Lee"}
BRIDGE = {"salesforce_id": "00Q5e00000LLLLL", "email": "DANA@northwind.com"}  # joins the Lead to the Contact
SAM = {"salesforce_id": "0035e00000BBBBB", "phone": "+1 212 555 0142", "first_name": "Sam", "last_name": "Ortiz"}
AS_OF = "2026-12-01T00:00:00Z"


def _stored_and_recomputed(conn):
    stored = {r.individual_id: decode_state(r.state) for r in conn.execute(select(t.profiles))}
    with_calls = {
        r[0] for r in conn.execute(select(t.calls.c.individual_id).where(t.calls.c.individual_id.is_not(None)))
    }
    return stored, with_calls, facts_of(conn, with_calls, PICKLIST)


async def assert_profiles_equal_recompute(database_url: str) -> int:
    """Every stored profile equals the state rebuilt from that person's remaining calls,
    and everyone with calls has a profile."""
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        stored, with_calls, facts = await conn.run_sync(_stored_and_recomputed)
    await engine.dispose()
    assert set(stored) == with_calls
    as_of = datetime.now(UTC)
    for individual_id, state in stored.items():
        assert assemble(individual_id, state, as_of) == assemble(individual_id, build(facts[individual_id]), as_of)
    return len(stored)


async def test_erasure_removes_every_trace_and_keeps_everyone_else_exact(client_for, database_url):
    async with client_for() as api:
        calls = [call_event("lead-1", 500, who=DANA_LEAD)]
        calls += [call_event(f"d-{n}", n * 60, who=DANA, notes="Dana asked for pricing") for n in range(2)]
        calls += [
            call_event("bridge-1", 700, who=BRIDGE),
            call_event("s-1", 30, who=SAM),
            call_event("s-2", 90, who=SAM),
        ]
        response = await api.post("/v1/calls/batch", json={"calls": calls}, headers=ADMIN)
        assert all(r["status"] == "accepted" for r in response.json()["results"])
        # Two rejected bodies: one names Dana's number in another format, one is someone else's.
        for body in (
            {"call_id": "q-dana", "direction": "sideways", "who": {"phone": "415.555.0100"}},
            {"call_id": "q-other", "direction": "sideways", "who": {"phone": "212-555-0199"}},
        ):
            assert (await api.post("/v1/calls", json=body, headers=ADMIN)).status_code == 422
        sam_before = (await api.get("/v1/context/0035e00000BBBBB", params={"as_of": AS_OF}, headers=ADMIN)).json()
        dana = (await api.get("/v1/individuals/dana@northwind.com", headers=ADMIN)).json()
        assert dana["merged_ids"]  # the Lead was merged into the Contact: both go
        # warm the memo and cache, which must not keep serving her
        assert (await api.get("/v1/context/0035e00000AAAAA", headers=ADMIN)).status_code == 200

        reader = await api.delete("/v1/individuals/dana@northwind.com", headers={"Authorization": "Bearer reader-key"})
        assert reader.status_code == 403
        erased = await api.delete("/v1/individuals/415-555-0100", headers=ADMIN)
        assert erased.status_code == 200, erased.text
        report = erased.json()
        assert (
            report["calls"] == 4
            and report["quarantine"] == 1
            and sorted(report["erased_ids"]) == sorted([dana["id"], *dana["merged_ids"]])
        )

        for lookup in ("0035e00000AAAAA", "00Q5e00000LLLLL", "dana@northwind.com", "4155550100", dana["id"]):
            assert (await api.get(f"/v1/context/{lookup}", headers=ADMIN)).status_code == 404, lookup
        assert (
            await api.get("/v1/context/0035e00000BBBBB", params={"as_of": AS_OF}, headers=ADMIN)
        ).json() == sam_before
        # Her number is free again: a new call from it starts a new person, not her old history.
        new = await api.post("/v1/calls", json=call_event("new-1", 900, who={"phone": "4155550100"}), headers=ADMIN)
        assert new.json()["individual_id"] not in report["erased_ids"]

    tables = (t.calls, t.identifiers, t.individuals, t.merges, t.quarantine, t.profiles, t.erasures)
    rows = [(table, row) for table in tables for row in await fetch_all(database_url, select(table))]
    dump = "\n".join(str(row) for table, row in rows if table is not t.calls or row.call_id != "new-1").lower()
    [audit] = await fetch_all(database_url, select(t.erasures))
    for trace in (
        "dana",
        "northwind",
        "0035e00000aaaaa",
        "00q5e00000lllll",
        "415.555.0100",
        "d-0",
        "lead-1",
        "bridge-1",
        "q-dana",
    ):
        assert trace not in dump, trace
    assert "q-other" in dump and "sam" in dump
    assert "4155550100" not in str(audit).lower() and audit.requested_by
    await assert_profiles_equal_recompute(database_url)

    async with client_for() as api:  # restarted: the identity graph is rebuilt without her
        assert (await api.get("/v1/context/0035e00000AAAAA", headers=ADMIN)).status_code == 404
        assert (
            await api.get("/v1/context/0035e00000BBBBB", params={"as_of": AS_OF}, headers=ADMIN)
        ).json() == sam_before


def _days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


@pytest.mark.live  # runs the contextsvc CLI in a subprocess
async def test_retention_purges_by_age_source_and_region_and_rebuilds_exactly(client_for, database_url):
    uk = {"phone": "+44 20 7946 0958", "first_name": "Ann", "last_name": "Hale"}
    calls = [
        call_event("old-1", started_at=_days_ago(100), who=SAM),  # past the 60-day default
        call_event("mid-1", started_at=_days_ago(30), who=SAM, disposition="meeting_booked"),
        call_event("legacy-1", started_at=_days_ago(10), who=SAM, source="legacy"),  # legacy keeps 5 days
        call_event("new-1", started_at=_days_ago(1), who=SAM),
        call_event("uk-1", started_at=_days_ago(30), who=uk),  # GB keeps 20 days
        call_event("uk-2", started_at=_days_ago(2), who=uk),
        call_event("gone-1", started_at=_days_ago(200), who=DANA),  # her only call
    ]
    async with client_for() as api:
        assert (await api.post("/v1/calls/batch", json={"calls": calls}, headers=ADMIN)).json()["summary"] == {
            "accepted": 7
        }
    env = {
        **os.environ,
        "CONTEXTSVC_DATABASE_URL": database_url,
        "CONTEXTSVC_RETENTION_DAYS": "60",
        "CONTEXTSVC_RETENTION_RULES": "source:legacy=5, region:gb=20",
    }
    out = subprocess.run(
        [sys.executable, "-m", "contextsvc.cli", "retention", "run"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "purged 4 calls" in out and "1 left without calls" in out
    assert sorted(r[0] for r in await fetch_all(database_url, select(t.calls.c.call_id))) == ["mid-1", "new-1", "uk-2"]
    assert await assert_profiles_equal_recompute(database_url) == 2

    # The schedule inside the server purges what arrives later, and the context follows.
    async with client_for(retention_days=60, retention_interval_seconds=0.1) as api:
        await api.post("/v1/calls", json=call_event("late-old", started_at=_days_ago(90), who=SAM), headers=ADMIN)
        for _ in range(100):
            summary = (await api.get("/v1/context/0035e00000BBBBB", headers=ADMIN)).json()["summary"]
            if summary["calls"] == 2:
                break
            await asyncio.sleep(0.05)
        assert summary["calls"] == 2 and summary["connects"] == 2
    await assert_profiles_equal_recompute(database_url)
