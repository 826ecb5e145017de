"""GET /v1/quality and `contextsvc quality report`: shares per group, quarantine reasons,
identity health, scopes and bad parameters."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from contextsvc.cli import main as contextsvc
from tests.helpers import ADMIN, READER, T0, WRITER, call_event

DAY = T0.date().isoformat()


def calls() -> list[dict]:
    no_disposition = call_event("n1", rep_id="rep-2", source="dialer")
    del no_disposition["disposition"]
    return [
        call_event("a1", rep_id="rep-1", source="dialer", queue="sales"),
        call_event("a2", minutes=1, rep_id="rep-1", source="dialer", disposition="Left VM"),  # mapped free text
        call_event("a3", minutes=2, rep_id="rep-1", source="salesforce", disposition="shrug"),  # unmapped (admin key)
        no_disposition,
        call_event(
            "n2",
            minutes=3,
            rep_id="rep-2",
            source="dialer",
            who={"salesforce_id": "0035g00000AbCdEAAV", "last_name": "Lee"},
        ),
        call_event("n3", minutes=4, rep_id="rep-2", source="dialer", who={}, direction="inbound", queue="support"),
    ]


async def test_the_report_gives_shares_per_rep_with_totals(api):
    response = await api.post("/v1/calls/batch", json={"calls": calls()}, headers=ADMIN)
    assert response.json()["summary"] == {"accepted": 6}
    report = (await api.get(f"/v1/quality?from={DAY}&to={DAY}&group_by=rep", headers=READER)).json()
    by_rep = {row["group"]: row for row in report["groups"]}
    assert set(by_rep) == {"rep-1", "rep-2"} and report["totals"]["calls"] == 6
    rep1, rep2 = by_rep["rep-1"], by_rep["rep-2"]
    assert rep1["counts"]["unmapped_disposition"] == 1 and rep1["rates"]["unmapped_disposition"] == pytest.approx(
        1 / 3, abs=1e-4
    )
    assert rep1["rates"]["picklist_adherence"] == pytest.approx(1 / 3, abs=1e-4)  # one code, one alias, one unknown
    assert rep2["counts"]["no_disposition"] == 1 and rep2["counts"]["no_person"] == 1
    assert rep2["counts"]["no_crm_record"] == 2  # n2 names a Contact
    assert report["totals"]["rates"]["no_disposition"] == pytest.approx(1 / 6, abs=1e-4)
    by_source = {
        r["group"]: r["calls"]
        for r in (await api.get(f"/v1/quality?from={DAY}&to={DAY}&group_by=source", headers=READER)).json()["groups"]
    }
    assert by_source == {"dialer": 5, "salesforce": 1}
    by_queue = {
        r["group"]: r["calls"]
        for r in (await api.get(f"/v1/quality?from={DAY}&to={DAY}&group_by=queue", headers=READER)).json()["groups"]
    }
    assert by_queue == {"": 4, "sales": 1, "support": 1}
    by_day = (await api.get(f"/v1/quality?from={DAY}&to={DAY}&group_by=day", headers=READER)).json()["groups"]
    assert [(r["group"], r["calls"]) for r in by_day] == [(DAY, 6)]
    elsewhere = (await api.get("/v1/quality?from=2020-01-01&to=2020-01-31", headers=READER)).json()
    assert (
        elsewhere["totals"]["calls"] == 0
        and elsewhere["groups"] == []
        and elsewhere["totals"]["rates"]["no_person"] is None
    )


async def test_quarantined_items_count_by_reason_and_conflicting_replays_are_counted(api):
    bad = [
        {"call_id": "q1", "started_at": "2026-11-02T10:00:00Z", "rep_id": "rep-9"},  # no direction
        dict(call_event("q2", rep_id="rep-9"), disposition="shrug"),
    ]  # unknown disposition (strict key)
    await api.post("/v1/calls/batch", json={"calls": [call_event("c1", rep_id="rep-9"), *bad]}, headers=WRITER)
    await api.post(
        "/v1/calls", json=dict(call_event("c1", rep_id="rep-9"), duration_seconds=99), headers=WRITER
    )  # conflict
    today = datetime.now(UTC).date().isoformat()
    report = (await api.get(f"/v1/quality?from={DAY}&to={today}&group_by=rep", headers=READER)).json()
    [rep9] = report["groups"]
    assert rep9["calls"] == 1 and rep9["received"] == 3
    assert rep9["quarantine_reasons"] == {"missing_field": 1, "unknown_disposition": 1}
    assert rep9["counts"]["missing_direction"] == 1 and rep9["counts"]["conflicts"] == 1
    assert report["totals"]["quarantine_reasons"] == {"missing_field": 1, "unknown_disposition": 1}


async def test_implausible_start_times_count_on_the_day_they_arrived(api):
    now = datetime.now(UTC)
    # Six hours ahead: past the monitor's 5-minute skew, within ingest's one day (further is refused).
    future = call_event("f1", started_at=(now + timedelta(hours=6)).isoformat())
    ancient = call_event("o1", started_at=(now - timedelta(days=3000)).isoformat())
    too_far = call_event("f2", started_at=(now + timedelta(days=40)).isoformat())
    results = (await api.post("/v1/calls/batch", json={"calls": [future, ancient, too_far]}, headers=WRITER)).json()
    assert [r["status"] for r in results["results"]] == ["accepted", "accepted", "rejected"]
    report = (await api.get("/v1/quality", headers=READER)).json()  # default: the last 30 days
    assert report["totals"]["counts"]["future_time"] == 1 and report["totals"]["counts"]["old_time"] == 1


async def test_identity_health_counts_merges_shared_lines_and_people_with_several_records(api):
    events = [
        call_event("i1", who={"salesforce_id": "0035g00000AbCdEAAV", "email": "pat@acme.com", "last_name": "Doe"}),
        call_event(
            "i2", minutes=1, who={"salesforce_id": "00Q5g00000XyZaBEAZ", "email": "pat@acme.com", "last_name": "Doe"}
        ),
        call_event("i3", minutes=2, who={"email": "kim@acme.com", "last_name": "Kim"}),
        call_event("i4", minutes=3, who={"phone": "+12125550199", "last_name": "Kim"}),
        call_event(
            "i5", minutes=4, who={"email": "kim@acme.com", "phone": "+12125550199", "last_name": "Kim"}
        ),  # merges
        *(
            call_event(f"s{i}", minutes=5 + i, who={"phone": "+12125550100", "first_name": n, "last_name": n})
            for i, n in enumerate(["Ann", "Ben", "Cy", "Dee", "Eve"])
        ),
    ]
    for event in events:
        await api.post("/v1/calls", json=event, headers=WRITER)
    identity = (await api.get("/v1/quality", headers=READER)).json()["identity"]
    assert identity["people_with_several_salesforce_ids_now"] == 1
    assert identity["people_newly_with_several_salesforce_ids"] == 1
    assert identity["merges"] >= 1 and identity["shared_lines_detected"] == 1
    assert sum(day["merges"] for day in identity["days"]) == identity["merges"]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?from=2026-11-05&to=2026-11-01", 400, "invalid_request"),
        ("?group_by=planet", 400, "invalid_request"),
        ("?from=yesterday", 400, "invalid_request"),
        ("/alerts?dimension=planet", 400, "invalid_request"),
    ],
)
async def test_bad_parameters_are_clear_errors(api, query, status, code):
    response = await api.get(f"/v1/quality{query}", headers=READER)
    assert response.status_code == status and response.json()["code"] == code


async def test_reading_quality_needs_the_context_read_scope(api):
    assert (await api.get("/v1/quality")).status_code == 401
    assert (await api.get("/v1/quality", headers=WRITER)).status_code == 403
    assert (await api.get("/v1/quality/alerts", headers=WRITER)).status_code == 403
    assert (await api.get("/v1/quality/alerts", headers=ADMIN)).status_code == 200


async def test_the_cli_prints_the_report_as_a_table_or_json(client_for, settings_for, monkeypatch, capsys):
    async with client_for() as client:
        await client.post("/v1/calls/batch", json={"calls": calls()}, headers=ADMIN)
    monkeypatch.setenv("CONTEXTSVC_DATABASE_URL", settings_for().database_url)
    cli = partial(asyncio.to_thread, contextsvc)  # the CLI runs its own event loop
    assert await cli(["quality", "report", "--from", DAY, "--to", DAY, "--group-by", "rep", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["group"] for row in report["groups"]] == ["rep-1", "rep-2"] and report["totals"]["calls"] == 6
    monkeypatch.setenv("COLUMNS", "200")
    assert await cli(["quality", "report", "--from", DAY, "--to", DAY, "--group-by", "rep"]) == 0
    table = capsys.readouterr().out
    assert "rep-1" in table and "rep-2" in table and "33%" in table
