"""Privacy by scope and the agent action: phones and emails masked without pii:read,
recording links only with recordings:read, notes cut to the configured length."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from litestar.testing import AsyncTestClient

from contextsvc.api.app import create_app
from contextsvc.privacy import mask_text
from contextsvc.settings import Settings
from tests.helpers import call_event, url_for

KEYS = "admin-key,plain-key:context:read,pii-key:context:read|pii:read,rec-key:context:read|recordings:read"
PLAIN = {"Authorization": "Bearer plain-key"}
PII = {"Authorization": "Bearer pii-key"}
REC = {"Authorization": "Bearer rec-key"}
ADMIN = {"Authorization": "Bearer admin-key"}
NOTES = "Call her mobile (415) 555-0199 or write to dana.lee@northwind.com; wants pricing for 40 seats."
RECORDING = "https://recordings.example.com/r/123"
AS_OF = "2026-11-03T15:00:00Z"  # 10 am in New York (212): inside the calling window


@asynccontextmanager
async def service(tmp_path, **overrides):
    settings = Settings.from_env({}, database_url=url_for(tmp_path / "p.db"), api_keys=KEYS, **overrides)
    async with AsyncTestClient(app=create_app(settings)) as client:
        who = {
            "salesforce_id": "0035e00000BBBBB",
            "phone": "(212) 555-0142",
            "email": "Dana.Lee@Northwind.com",
            "first_name": "Dana",
            "last_name": "Lee",
            "company": "Northwind",
            "title": "VP Operations",
        }
        body = call_event("c-1", who=who, notes=NOTES, recording_url=RECORDING, disposition="meeting_booked")
        assert (await client.post("/v1/calls", json=body, headers=ADMIN)).status_code == 201
        yield client


async def context(client, headers, **params):
    response = await client.get("/v1/context/0035e00000BBBBB", params={"as_of": AS_OF, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def test_without_pii_read_phones_and_emails_are_masked_everywhere(tmp_path):
    async with service(tmp_path) as client:
        masked = (await context(client, PLAIN)).json()
        clear = (await context(client, PII)).json()
        prompt = (await context(client, PLAIN, format="prompt")).text
    assert masked["person"]["identifiers"]["emails"] == ["d***@northwind.com"]
    assert masked["person"]["identifiers"]["phones"] == ["***-0142"]
    assert masked["recent_calls"][0]["notes"] == (
        "Call her mobile ***-0199 or write to d***@northwind.com; wants pricing for 40 seats."
    )
    for text in (masked["prompt"], prompt, str(masked)):
        assert "555-0199" not in text and "dana.lee@" not in text.lower() and "+12125550142" not in text
    assert "***-0199" in prompt  # the fact is still there, the number is not
    assert clear["person"]["identifiers"]["emails"] == ["dana.lee@northwind.com"]
    assert clear["person"]["identifiers"]["phones"] == ["+12125550142"]
    assert clear["recent_calls"][0]["notes"] == NOTES and NOTES in clear["prompt"]


async def test_recording_url_only_with_recordings_read(tmp_path):
    async with service(tmp_path) as client:
        assert (await context(client, PLAIN)).json()["recent_calls"][0]["recording_url"] is None
        assert (await context(client, PII)).json()["recent_calls"][0]["recording_url"] is None
        assert (await context(client, REC)).json()["recent_calls"][0]["recording_url"] == RECORDING
        assert (await context(client, ADMIN)).json()["recent_calls"][0]["recording_url"] == RECORDING


async def test_warm_reads_keep_each_callers_view_apart(tmp_path):
    """The memo holds one entry per disclosure: a masked read never serves a clear one."""
    async with service(tmp_path) as client:
        for _ in range(2):
            assert "dana.lee@northwind.com" in (await context(client, PII)).json()["prompt"]
            assert "dana.lee@northwind.com" not in (await context(client, PLAIN)).json()["prompt"]


async def test_notes_are_cut_to_the_configured_length(tmp_path):
    async with service(tmp_path, notes_max_chars=20) as client:
        notes = (await context(client, ADMIN)).json()["recent_calls"][0]["notes"]
    assert notes == NOTES[:19].rstrip() + "…"
    async with service(tmp_path / "none", notes_max_chars=0) as client:
        assert (await context(client, ADMIN)).json()["recent_calls"][0]["notes"] is None


@pytest.mark.parametrize(
    "lookup", [{"record_id": "0035e00000BBBBB"}, {"phone": "212.555.0142"}, {"email": "DANA.LEE@northwind.com"}]
)
async def test_agent_action_is_flat_and_equals_the_context(tmp_path, lookup):
    async with service(tmp_path) as client:
        response = await client.post(
            "/v1/agent/call-context", json={**lookup, "as_of": AS_OF, "max_tokens": 200}, headers=PLAIN
        )
        assert response.status_code == 200, response.text
        flat = response.json()
        full = (await context(client, PLAIN, max_tokens=200)).json()
    assert all(not isinstance(v, dict) for v in flat.values())
    assert all(isinstance(s, str) for s in flat["signals"])
    assert flat["prompt"] == full["prompt"] and flat["prompt_tokens"] <= 200
    assert flat["calls"] == full["summary"]["calls"] == 1
    assert flat["conversations"] == full["summary"]["connects"]
    assert flat["last_call_at"] == full["summary"]["last_call_at"]
    assert flat["signal_codes"] == [s["code"] for s in full["signals"]] == ["high_intent"]
    assert flat["headline"].startswith(
        "Dana Lee (VP Operations, Northwind): 1 call, 1 conversation; last spoke yesterday."
    )
    assert "\n" not in flat["headline"]
    assert flat["phone"] == "***-0142" and flat["email"] == "d***@northwind.com"
    assert flat["last_recording_url"] is None


async def test_agent_action_in_clear_with_scopes(tmp_path):
    async with service(tmp_path) as client:
        flat = (
            await client.post("/v1/agent/call-context", json={"email": "dana.lee@northwind.com"}, headers=ADMIN)
        ).json()
    assert flat["phone"] == "+12125550142" and flat["email"] == "dana.lee@northwind.com"
    assert flat["last_recording_url"] == RECORDING


async def test_agent_action_wants_exactly_one_lookup(tmp_path):
    async with service(tmp_path) as client:
        both = await client.post(
            "/v1/agent/call-context", json={"phone": "2125550142", "email": "a@b.co"}, headers=PLAIN
        )
        wrong = await client.post("/v1/agent/call-context", json={"record_id": "dana.lee@northwind.com"}, headers=PLAIN)
        unknown = await client.post("/v1/agent/call-context", json={"email": "nobody@northwind.com"}, headers=PLAIN)
    assert both.status_code == 422 and both.json()["code"] == "invalid_lookup"
    assert wrong.status_code == 422 and wrong.json()["fields"][0]["field"] == "record_id"
    assert unknown.status_code == 404


def test_masking_leaves_dates_and_amounts_alone():
    text = "Met 2026-10-30, budget $12,000 for 40 seats; call +44 20 7946 0958 or bob@acme.co.uk"
    assert mask_text(text, "US") == "Met 2026-10-30, budget $12,000 for 40 seats; call ***-0958 or b***@acme.co.uk"
