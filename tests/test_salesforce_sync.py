"""Pulling calls from Salesforce: a simulated org in the fake, synced page by page, must give
exactly the contexts that posting the same calls over HTTP gives — also after a crash."""

from __future__ import annotations

from datetime import datetime

import msgspec
import pytest

from tests.helpers import ADMIN
from tests.salesforce_org import api_on, contexts, differences, load_org, read_ndjson, sync_once

pytestmark = pytest.mark.live  # starts a server process, a TLS fake or the simulator



def same_calls_as_posted(org_dir, org: dict[str, list[dict]]) -> list[dict]:
    """The simulator's CTI calls that became Tasks, as the CTI posted them, less what a
    Salesforce org cannot hold: the stage at the time of the call (an Opportunity keeps
    only its current StageName), the dialer's attempt number, the caller's time zone (a
    Task has no field for it) and sub-millisecond time (Salesforce dateTimes have
    milliseconds); plus what it adds: a Contact's Task is related
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
        event.get("who", {}).pop("time_zone", None)
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


class Crash(Exception):
    pass


async def test_a_crash_mid_sync_resumes_with_no_loss_and_no_double_count(org_dir, fake, tmp_path, monkeypatch):
    org = load_org(fake, org_dir)
    db = tmp_path / "crashed.db"

    async def crash_in_tasks(sobject: str, pages: int) -> None:
        if sobject == "Task" and pages % 3 == 0:
            raise Crash  # after a Task page was filed, before the next is read

    with pytest.raises(Crash):
        await sync_once(db, fake, after_page=crash_in_tasks)

    # Second crash: after the writer committed a chunk, before it left the pending list.
    from contextsvc.salesforce import mirror

    real_settle = mirror.settle

    def settle_then_crash(*args):
        monkeypatch.setattr(mirror, "settle", real_settle)
        raise Crash

    monkeypatch.setattr(mirror, "settle", settle_then_crash)
    with pytest.raises(Crash):
        await sync_once(db, fake)
    resumed = await sync_once(db, fake)
    assert resumed.calls.get("duplicate", 0) > 0  # the replayed chunk changed nothing
    assert set(resumed.calls) <= {"accepted", "duplicate"}

    await sync_once(tmp_path / "clean.db", fake)
    people = sorted({t["WhoId"] for t in org["Task"]})
    assert await contexts(db, people) == await contexts(tmp_path / "clean.db", people)
    again = await sync_once(db, fake)
    assert again.calls == {} and again.changed == dict.fromkeys(again.read, 0)  # nothing new: nothing sent


async def test_deleted_calls_are_retracted_and_edited_people_re_resolved(org_dir, fake, tmp_path):
    org = load_org(fake, org_dir)
    db = tmp_path / "sf.db"
    await sync_once(db, fake)
    task = next(t for t in org["Task"] if t["WhoId"].startswith("003"))
    contact = task["WhoId"]
    voice = next(v for v in org["VoiceCall"] if v["ActivityId"] == task["Id"])
    before = (await contexts(db, [contact]))[contact]
    fake.org.delete("Task", task["Id"])
    fake.org.delete("VoiceCall", voice["Id"])
    report = await sync_once(db, fake)
    assert report.calls == {"retracted": 1}
    after = (await contexts(db, [contact]))[contact]
    assert after["summary"]["calls"] == before["summary"]["calls"] - 1
    assert task["CallObject"] not in {c["call_id"] for c in after["recent_calls"]}

    # A Lead converted into that Contact: the two are one person from now on.
    lead = next(r for r in org["Lead"] if not r["IsConverted"] and any(t["WhoId"] == r["Id"] for t in org["Task"]))
    fake.org.update("Lead", lead["Id"], {"IsConverted": True, "ConvertedContactId": contact, "Email": "moved@example.org"})
    report = await sync_once(db, fake)
    assert set(report.calls) == {"updated"}
    merged = await contexts(db, [contact, lead["Id"]])
    assert merged[contact] == merged[lead["Id"]]
    assert merged[contact]["summary"]["calls"] == after["summary"]["calls"] + sum(t["WhoId"] == lead["Id"] for t in org["Task"])


async def test_unmapped_call_results_are_kept_and_reported(org_dir, fake, tmp_path):
    org = load_org(fake, org_dir)
    task = org["Task"][0]
    fake.org.update("Task", task["Id"], {"CallDisposition": "Spoke to his dog"})
    report = await sync_once(tmp_path / "sf.db", fake)
    assert report.unmapped_dispositions == {"Spoke to his dog": 1}
    assert report.calls == {"accepted": len(org["Task"])}
    context = (await contexts(tmp_path / "sf.db", [task["WhoId"]]))[task["WhoId"]]
    assert context["data_quality"]["unmapped_dispositions"] == {"Spoke to his dog": 1}
