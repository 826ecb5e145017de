"""Pulling calls from Salesforce: a simulated org in the fake, synced page by page, must give
exactly the contexts that posting the same calls over HTTP gives — also after a crash."""

from __future__ import annotations

from datetime import datetime

import msgspec
import pytest

from tests.conftest import ADMIN
from tests.fake_salesforce import RunningFake
from tests.salesforce_org import api_on, contexts, differences, generate_org, load_org, read_ndjson, sync_once


@pytest.fixture(scope="module")
def org_dir(tmp_path_factory):
    return generate_org(tmp_path_factory.mktemp("org"))


@pytest.fixture
def fake(tmp_path):
    running = RunningFake(tmp_path)
    yield running
    running.close()


def same_calls_as_posted(org_dir, org: dict[str, list[dict]]) -> list[dict]:
    """The simulator's CTI calls that became Tasks, as the CTI posted them, less what a
    Salesforce org cannot hold: the stage at the time of the call (an Opportunity keeps
    only its current StageName), the dialer's attempt number, and sub-millisecond time
    (Salesforce dateTimes have milliseconds); plus what it adds: a Contact's Task is related
    to the Contact's Account (Task.AccountId is derived) even when the CTI named none."""
    stage = {o["Id"]: o["StageName"] for o in org["Opportunity"]}
    account_of = {c["Id"]: c["AccountId"] for c in org["Contact"]}
    who_of = {t["CallObject"]: t["WhoId"] for t in org["Task"]}
    calls = []
    for event in read_ndjson(org_dir / "calls.ndjson"):
        if event["call_id"] not in who_of:
            continue
        related = event.setdefault("related", {})
        if who_of[event["call_id"]] in account_of:
            related.setdefault("account_id", account_of[who_of[event["call_id"]]])
        if "opportunity_id" in related:
            related["opportunity_stage"] = stage[related["opportunity_id"]]
        event.pop("attempt_number", None)
        for name in ("started_at", "ended_at"):
            moment = datetime.fromisoformat(event[name])
            event[name] = moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat()
        calls.append(event)
    return calls


async def post_over_http(db, calls: list[dict]) -> None:
    async with api_on(db) as client:
        for start in range(0, len(calls), 1000):
            response = await client.post("/v1/calls/batch", content=msgspec.json.encode({"calls": calls[start : start + 1000]}),
                                          headers={**ADMIN, "Content-Type": "application/json"})
            assert response.status_code == 200
            assert set(response.json()["summary"]) == {"accepted"}, response.json()["summary"]


async def test_multi_page_sync_gives_the_contexts_of_the_same_calls_posted_over_http(org_dir, fake, tmp_path):
    org = load_org(fake, org_dir)
    report = await sync_once(tmp_path / "synced.db", fake)
    assert report.pages > 2 * len(org)  # 200 per page: every sObject spans pages
    assert report.calls == {"accepted": len(org["Task"])}
    await post_over_http(tmp_path / "posted.db", same_calls_as_posted(org_dir, org))

    people = sorted({t["WhoId"] for t in org["Task"]})
    synced, posted = await contexts(tmp_path / "synced.db", people), await contexts(tmp_path / "posted.db", people)
    mismatched = {p: differences(synced[p], posted[p])[:5] for p in people if synced[p] != posted[p]}
    assert not mismatched, (len(mismatched), list(mismatched.items())[:3])
