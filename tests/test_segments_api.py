"""Segments through the API: validation, membership on ingest, members pages, contexts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from contextsvc.settings import REPO_ROOT
from tests.helpers import ADMIN, READER, WRITER, call_event

SEEDS = REPO_ROOT / "seed" / "segments"
NOW = datetime.now(UTC).replace(microsecond=0)


def recent_call(call_id: str, days_ago: float, **kw) -> dict:
    return call_event(call_id, started_at=(NOW - timedelta(days=days_ago)).isoformat(), **kw)


CONTACT = {"salesforce_id": "0035e00000BBBBB", "first_name": "Ann", "last_name": "Lee", "phone": "+14155550100"}
LEAD = {"salesforce_id": "00Q5e00000AAAAA", "first_name": "Bo", "last_name": "Ray", "phone": "+14155550111"}


async def test_an_unknown_attribute_is_a_422_listing_the_valid_ones(api):
    body = {"name": "typo", "condition": {"all": [{"attribute": "windows.30d.conects", "op": ">=", "value": 2}]}}
    response = await api.post("/v1/segments", json=body, headers=ADMIN)
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "validation_failed"
    assert error["fields"][0]["field"] == "condition.all[0].attribute"
    assert "windows.30d.connects" in error["details"]["valid_attributes"]
    bad_value = {"name": "x", "condition": {"attribute": "trend.7d.label", "op": "=", "value": "up"}}
    response = await api.post("/v1/segments", json=bad_value, headers=ADMIN)
    assert response.status_code == 422 and response.json()["fields"][0]["field"] == "condition.value"


async def test_creating_segments_needs_the_segments_write_scope(api):
    seed = json.loads((SEEDS / "reached-twice-no-opportunity.json").read_text())
    assert (await api.post("/v1/segments", json=seed, headers=READER)).status_code == 403
    assert (await api.post("/v1/segments", json=seed, headers=WRITER)).status_code == 403


async def test_the_seed_segment_follows_ingest_and_shows_in_the_context(api):
    seed = json.loads((SEEDS / "reached-twice-no-opportunity.json").read_text())
    created = await api.post("/v1/segments", json=seed, headers=ADMIN)
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["members"] == 0 and segment["time_dependent"] is True
    calls = [
        recent_call("a1", 3, who=CONTACT),
        recent_call("a2", 1, who=CONTACT),  # two connects: in
        recent_call("b1", 3, who=LEAD),
        recent_call("b2", 1, who=LEAD),  # a lead: out
        recent_call(
            "c1", 45, who={**CONTACT, "salesforce_id": "0035e00000CCCCC", "phone": "+14155550122", "first_name": "Cy"}
        ),
        recent_call("c2", 2, who={"salesforce_id": "0035e00000CCCCC"}),  # one connect in 30 days: out
    ]
    response = await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)
    assert response.status_code == 200, response.text
    ann = response.json()["results"][0]["individual_id"]
    page = (await api.get(f"/v1/segments/{segment['id']}/members", headers=READER)).json()
    assert [m["id"] for m in page["members"]] == [ann] and page["count"] == 1
    context = (await api.get(f"/v1/context/{ann}", headers=READER)).json()
    assert context["segments"] == [{"id": segment["id"], "name": seed["name"]}]
    # An opportunity appears: Ann leaves the segment, and her context says so at once.
    opportunity = recent_call(
        "a3", 0, who=CONTACT, related={"opportunity_id": "0065e00000OPP01", "opportunity_stage": "Qualification"}
    )
    assert (await api.post("/v1/calls", json=opportunity, headers=WRITER)).status_code == 201
    assert (await api.get(f"/v1/segments/{segment['id']}/members", headers=READER)).json()["members"] == []
    assert (await api.get(f"/v1/context/{ann}", headers=READER)).json()["segments"] == []
    listed = (await api.get("/v1/segments", headers=READER)).json()["segments"]
    assert [(s["id"], s["members"]) for s in listed] == [(segment["id"], 0)]


async def test_members_page_with_a_cursor_and_survive_a_restart(client_for):
    async with client_for() as api:
        body = {"name": "called", "condition": {"attribute": "summary.calls", "op": ">=", "value": 1}}
        segment = (await api.post("/v1/segments", json=body, headers=ADMIN)).json()
        calls = [recent_call(f"p{i}", 1, who={"email": f"p{i}@x.com"}) for i in range(5)]
        await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)
    async with client_for() as api:
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await api.get(f"/v1/segments/{segment['id']}/members", params=params, headers=READER)).json()
            seen += [m["id"] for m in page["members"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 5 == len(set(seen)) and seen == sorted(seen)
        assert (await api.delete(f"/v1/segments/{segment['id']}", headers=ADMIN)).status_code == 204
        assert (await api.get(f"/v1/segments/{segment['id']}", headers=READER)).status_code == 404


async def test_an_account_segment_counts_every_call_naming_the_account(api):
    seed = json.loads((SEEDS / "account-engagement-dropped.json").read_text())
    segment = (await api.post("/v1/segments", json=seed, headers=ADMIN)).json()
    account = {"account_id": "0015e00000ACC01"}
    # Six calls 91-180 days ago, two in the last 90: engagement fell by two thirds.
    calls = [recent_call(f"old{i}", 100 + i * 10, who={"email": f"o{i}@acme.com"}, related=account) for i in range(6)]
    calls += [recent_call(f"new{i}", 5 + i, who={"email": f"n{i}@acme.com"}, related=account) for i in range(2)]
    await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)
    page = (await api.get(f"/v1/segments/{segment['id']}/members", headers=READER)).json()
    assert [m["id"] for m in page["members"]] == ["0015e00000ACC01AAH"] and page["subject"] == "account"
    more = [recent_call(f"more{i}", 2, who={"email": "n0@acme.com"}, related=account) for i in range(2)]
    await api.post("/v1/calls/batch", json={"calls": more}, headers=WRITER)  # 4 vs 6: -33%, out
    assert (await api.get(f"/v1/segments/{segment['id']}/members", headers=READER)).json()["members"] == []
