"""Pulling calls from Salesforce: a crash mid-sync loses nothing and counts nothing twice;
deletes retract; conversions merge; Call Results no alias matches are kept and reported.
(Every org shape against the simulator's truth: test_salesforce_org_shapes.py.)"""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, update

from contextsvc.salesforce import tables as salesforce_tables
from contextsvc.salesforce.mirror import REFILE_NEEDED
from contextsvc.store import create_engine
from contextsvc.store import tables as core
from tests.helpers import fetch_all, url_for
from tests.salesforce_org import contexts, expected_calls, held, load_org, lookups_of, sync_once

pytestmark = pytest.mark.live  # starts a server process, a TLS fake or the simulator


def untouched_call(org_dir, org: dict, kind: str = "003") -> tuple[dict, dict]:
    """A Task with a Call Result and its VoiceCall (linked by ActivityId and key) that
    nothing changes."""
    calls = {e.call_id for e in expected_calls(org_dir) if e.shape == "standard" and not e.change}
    task = next(
        t for t in org["Task"] if t["CallObject"] in calls and t["WhoId"].startswith(kind) and t["CallDisposition"]
    )
    return task, next(v for v in org["VoiceCall"] if v["ActivityId"] == task["Id"])


class Crash(Exception):
    pass


async def test_a_crash_mid_sync_resumes_with_no_loss_and_no_double_count(org_dir, fake, tmp_path, monkeypatch):
    load_org(fake, org_dir)
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
    people = sorted(lookups_of(held(org_dir, 1)))
    assert await contexts(db, people) == await contexts(tmp_path / "clean.db", people)
    again = await sync_once(db, fake)
    assert again.calls == {} and again.changed == dict.fromkeys(again.read, 0)  # nothing new: nothing sent


async def test_deleted_calls_are_retracted_and_edited_people_re_resolved(org_dir, fake, tmp_path):
    org = load_org(fake, org_dir)
    db = tmp_path / "sf.db"
    await sync_once(db, fake)
    task, voice = untouched_call(org_dir, org)
    contact = task["WhoId"]
    before = (await contexts(db, [contact]))[contact]
    fake.org.delete("Task", task["Id"])
    report = await sync_once(db, fake)
    assert report.calls == {"updated": 1}  # the VoiceCall still records the call, without its Call Result
    fake.org.delete("VoiceCall", voice["Id"])
    report = await sync_once(db, fake)
    assert report.calls == {"retracted": 1}
    after = (await contexts(db, [contact]))[contact]
    assert after["summary"]["calls"] == before["summary"]["calls"] - 1
    assert task["CallObject"] not in {c["call_id"] for c in after["recent_calls"]}

    # A Lead converted into that Contact: the two are one person from now on.
    named = {e["who"].get("salesforce_id") for e in held(org_dir, 1)}
    leads = [r["Id"] for r in org["Lead"] if not r["IsConverted"] and r["Id"] in named]
    lead = next(lead for lead, context in (await contexts(db, leads)).items() if context["person"] != after["person"])
    lead_calls = (await contexts(db, [lead]))[lead]["summary"]["calls"]
    fake.org.update("Lead", lead, {"IsConverted": True, "ConvertedContactId": contact, "Email": "moved@example.org"})
    report = await sync_once(db, fake)
    assert set(report.calls) == {"updated"}
    merged = await contexts(db, [contact, lead])
    assert merged[contact] == merged[lead]
    assert merged[contact]["summary"]["calls"] == after["summary"]["calls"] + lead_calls


async def test_unmapped_call_results_are_kept_and_reported(org_dir, fake, tmp_path):
    org = load_org(fake, org_dir)
    task, _ = untouched_call(org_dir, org)
    fake.org.update("Task", task["Id"], {"CallDisposition": "Spoke to his dog"})
    report = await sync_once(tmp_path / "sf.db", fake)
    assert report.unmapped_dispositions == {"Spoke to his dog": 1}
    assert report.calls == {"accepted": len(held(org_dir, 1))}
    context = (await contexts(tmp_path / "sf.db", [task["WhoId"]]))[task["WhoId"]]
    assert context["data_quality"]["unmapped_dispositions"] == {"Spoke to his dog": 1}


async def test_the_upgrade_that_regroups_calls_leaves_a_synced_org_as_it_was(org_dir, fake, tmp_path):
    """Migration 0004 leaves the mirror without link keys and asks for every stored Task and
    VoiceCall to be filed again before the next pass: nothing moves, nothing is sent twice."""
    load_org(fake, org_dir)
    db = tmp_path / "sf.db"
    await sync_once(db, fake)
    people = sorted(lookups_of(held(org_dir, 1)))
    before = await contexts(db, people)
    records = salesforce_tables.salesforce_records
    keyed = select(records.c.record_id, records.c.link_key, records.c.activity_id, records.c.call_id)
    held_before = sorted(map(tuple, await fetch_all(url_for(db), keyed)))
    engine = create_engine(url_for(db))
    async with engine.begin() as conn:  # as the migration leaves an old database
        await conn.execute(update(salesforce_tables.salesforce_records).values(link_key=None, activity_id=None))
        await conn.execute(insert(core.markers).values(name=REFILE_NEEDED, value=1))
    await engine.dispose()
    report = await sync_once(db, fake)
    assert "accepted" not in report.calls and "retracted" not in report.calls, report.calls
    assert await contexts(db, people) == before
    assert sorted(map(tuple, await fetch_all(url_for(db), keyed))) == held_before  # keys learnt again
    markers = await fetch_all(url_for(db), select(core.markers.c.name).where(core.markers.c.name == REFILE_NEEDED))
    assert markers == []
