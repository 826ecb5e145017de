"""GET /v1/context/{lookup}: lookups, read-your-writes, merges, prompt format, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from contextsvc.context.tokens import count_tokens
from tests.helpers import ADMIN, READER, WRITER, call_event

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DANA = {
    "salesforce_id": "0035e00000ABcdE",
    "phone": "(415) 555-0101",
    "email": "Dana.Lee@Northwind.com",
    "first_name": "Dana",
    "last_name": "Lee",
    "company": "Northwind",
    "title": "VP Operations",
}


def at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


async def ingest(api, *calls):
    response = await api.post("/v1/calls/batch", json={"calls": list(calls)}, headers=WRITER)
    assert response.status_code == 200
    return response.json()["results"]


async def context(api, lookup, **params):
    params.setdefault("as_of", NOW.isoformat())
    return await api.get(f"/v1/context/{lookup}", params=params, headers=READER)


async def test_the_fourteen_call_prospect_who_went_quiet(api):
    """Called 14 times, reached 4 times, interested twice, silent for three weeks."""
    plan = [
        (45, "no_answer"),
        (44, "voicemail_left"),
        (43, "no_answer"),
        (42, "gatekeeper"),
        (41, "interested"),
        (39, "no_answer"),
        (37, "voicemail_left"),
        (35, "call_back_later"),
        (34, "no_answer"),
        (33, "no_answer"),
        (31, "not_interested"),
        (28, "voicemail_left"),
        (24, "interested"),
        (22, "no_answer"),
    ]
    await ingest(
        api, *[call_event(f"d{i}", started_at=at(days), disposition=d, who=DANA) for i, (days, d) in enumerate(plan)]
    )
    body = (await context(api, "dana.lee@northwind.com")).json()
    s = body["summary"]
    assert (s["calls"], s["connects"], s["outbound"]) == (14, 4, 14)
    assert s["attempts_to_first_connect"] == 5 and s["attempts_since_last_connect"] == 1
    assert s["days_since_last_call"] == 22 and s["days_since_last_connect"] == 24
    assert s["last_disposition"] == "no_answer" and s["do_not_call"] is False
    assert body["windows"]["7d"]["calls"] == 0 and body["windows"]["30d"]["calls"] == 3
    assert body["windows"]["90d"]["dispositions"]["interested"] == 2
    assert body["trend"]["7d"]["label"] == "inactive" and body["trend"]["30d"]["label"] == "falling"
    # 12:00 UTC is 7:00 am in New York (212): before the 8 am calling window opens.
    assert [s["code"] for s in body["signals"]] == ["quiet_after_interest", "outside_calling_window"]
    assert body["person"]["name"] == "Dana Lee" and body["person"]["title"] == "VP Operations"
    assert "Went quiet after showing interest" in body["prompt"]


async def test_every_kind_of_lookup_finds_the_same_person(api):
    [first] = await ingest(api, call_event("c1", started_at=at(1), who=DANA))
    for lookup in [
        first["individual_id"],
        "0035e00000ABcdE",
        "0035E00000ABCDEAAT".lower(),
        "4155550101",
        "+1 (415) 555-0101",
        "DANA.LEE@northwind.com",
    ]:
        response = await context(api, lookup)
        assert response.status_code == 200, lookup
        assert response.json()["individual_id"] == first["individual_id"]


async def test_a_read_after_an_acknowledged_write_includes_it(api):
    for n in range(1, 6):
        await api.post("/v1/calls", json=call_event(f"c{n}", started_at=at(5 - n), who=DANA), headers=WRITER)
        body = (await context(api, "+14155550101")).json()
        assert body["summary"]["calls"] == n
        assert body["recent_calls"][0]["call_id"] == f"c{n}"


async def test_a_newer_version_replaces_the_old_one_in_the_context(api):
    await ingest(api, call_event("c1", started_at=at(2), disposition="no_answer", who=DANA))
    await ingest(api, call_event("c1", started_at=at(2), disposition="meeting_booked", who=DANA, updated_at=at(1)))
    body = (await context(api, "+14155550101")).json()
    assert body["summary"]["calls"] == 1 and body["summary"]["connects"] == 1
    assert body["windows"]["7d"]["dispositions"] == {"meeting_booked": 1}
    assert body["signals"][0]["code"] == "high_intent"


async def test_a_merge_is_visible_through_every_old_identifier(api):
    lead = {"salesforce_id": "00Q5e00000XyZab", "email": "bob@gmail.com", "last_name": "Smith"}
    contact = {"salesforce_id": "0035e00000ZZzzZ", "phone": "+12125550142", "last_name": "Smith", "first_name": "Bob"}
    await ingest(api, *[call_event(f"l{i}", started_at=at(10 + i), who=lead) for i in range(3)])
    await ingest(api, *[call_event(f"k{i}", started_at=at(5 + i), who=contact) for i in range(2)])
    assert (await context(api, "bob@gmail.com")).json()["summary"]["calls"] == 3
    await ingest(
        api,
        call_event(
            "k9", started_at=at(1), who={"salesforce_id": "0035e00000ZZzzZ", "converted_lead_id": "00Q5e00000XyZab"}
        ),
    )
    bodies = [(await context(api, lookup)).json() for lookup in ["bob@gmail.com", "00Q5e00000XyZab", "+12125550142"]]
    assert {b["individual_id"] for b in bodies} == {bodies[0]["individual_id"]}
    assert [b["summary"]["calls"] for b in bodies] == [6, 6, 6]


async def test_unknown_lookups_are_404(api):
    response = await context(api, "+14155550999")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and "***-0999" in response.json()["message"]  # masked: no pii:read
    clear = await api.get("/v1/context/+14155550999", headers=ADMIN)
    assert clear.status_code == 404 and "+14155550999" in clear.json()["message"]


async def test_a_shared_number_is_ambiguous_and_says_who_shares_it(api):
    await ingest(
        api,
        call_event("a", who={"phone": "+14155550000", "first_name": "Ann", "last_name": "Lee"}),
        call_event("b", who={"phone": "+14155550000", "first_name": "Raj", "last_name": "Patel"}),
    )
    response = await context(api, "415-555-0000")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "ambiguous_lookup" and len(body["details"]["candidates"]) == 2
    for candidate in body["details"]["candidates"]:
        assert (await context(api, candidate)).status_code == 200


async def test_prompt_format_is_plain_text_within_budget(api):
    await ingest(
        api,
        *[
            call_event(f"c{i}", started_at=at(i * 3), disposition=d, who=DANA, notes="Asked about SSO and pricing " * 5)
            for i, d in enumerate(["interested", "no_answer", "call_back_later", "voicemail_left"] * 4)
        ],
    )
    for budget in (20, 60, 150, 300, 1000):
        response = await context(api, "+14155550101", format="prompt", max_tokens=budget, recent=10)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert count_tokens(response.text) <= budget
    small = (await context(api, "+14155550101", format="prompt", max_tokens=60)).text
    large = (await context(api, "+14155550101", format="prompt", max_tokens=1000, recent=10)).text
    assert small.splitlines()[0] == large.splitlines()[0]  # the headline survives every budget
    assert set(small.splitlines()) < set(large.splitlines())


async def test_as_of_in_the_past_sees_only_what_had_happened(api):
    await ingest(api, *[call_event(f"c{i}", started_at=at(30 - i * 5), who=DANA) for i in range(6)])
    past = (await context(api, "+14155550101", as_of=at(12))).json()
    assert past["summary"]["calls"] == 4 and past["summary"]["days_since_last_call"] == 3


async def test_bad_parameters_are_refused_with_the_field_named(api):
    await ingest(api, call_event("c1", who=DANA))
    naive = await api.get("/v1/context/+14155550101", params={"as_of": "2026-11-21T12:00:00"}, headers=READER)
    assert naive.status_code == 400 and naive.json()["fields"][0]["field"] == "as_of"
    too_many = await api.get("/v1/context/+14155550101", params={"recent": 51}, headers=READER)
    assert too_many.status_code == 400 and too_many.json()["code"] == "invalid_request"


@pytest.mark.live  # runs the contextsvc CLI in a subprocess
async def test_context_survives_a_restart_and_a_rebuild(client_for, settings_for):
    async with client_for() as api:
        await ingest(
            api,
            *[
                call_event(f"c{i}", started_at=at(i), disposition="interested" if i % 3 else "no_answer", who=DANA)
                for i in range(12)
            ],
        )
        before = (await context(api, "+14155550101")).json()
    env = {**os.environ, "CONTEXTSVC_DATABASE_URL": settings_for().database_url}
    done = subprocess.run([sys.executable, "-m", "contextsvc.cli", "rebuild"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "rebuilt 1 profiles" in done.stdout
    async with client_for() as api:
        after = (await context(api, "+14155550101")).json()
    assert after == before
