"""Write-back: insight fields on Contacts and Leads, sent only when changed, in chunks of
at most 200, every per-record failure reported."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from contextsvc.cli import main as contextsvc
from contextsvc.salesforce.client import SalesforceApi
from contextsvc.salesforce.writeback import FieldMapError, parse_field_map
from tests.helpers import url_for
from tests.salesforce_org import expected_calls, held, load_org, read_ndjson, settings, sync_once
from tests.salesforce_org import write_back as write_back_at

pytestmark = pytest.mark.live  # starts a server process, a TLS fake or the simulator

FIELDS = ("Call_Attempts_30d__c", "Last_Connected_At__c", "Engagement_Trend__c", "Calls_To_First_Connect__c")
NOW = datetime(2026, 9, 1, tzinfo=UTC)


async def write_back(db, fake, now=NOW):
    return await write_back_at(db, fake, now)


@pytest.fixture
def fake(fake):
    for sobject in ("Contact", "Lead"):
        fake.org.schema[sobject].update(FIELDS)
    return fake


def collection_requests(fake) -> list[list[dict]]:
    return [body["records"] for method, path, body in fake.org.requests if path.endswith("/composite/sobjects")]


async def test_write_back_sends_only_changes_in_chunks_of_at_most_200(org_dir, fake, tmp_path):
    org = load_org(fake, org_dir)
    db = tmp_path / "sf.db"
    await sync_once(db, fake)
    considered, changes, report = await write_back(db, fake)
    converted = {lead["Id"] for lead in org["Lead"] if lead["IsConverted"]}
    assert considered == len({e["who"].get("salesforce_id") for e in held(org_dir, 1)} - {None} - converted)
    assert report.failures == [] and report.written == len(changes) > 200
    sent = collection_requests(fake)
    assert len(sent) == report.requests == -(-len(changes) // 200) and all(len(chunk) <= 200 for chunk in sent)
    contact = next(c for c in changes if c.sobject == "Contact" and c.fields["Last_Connected_At__c"])
    stored = fake.org.records["Contact"][contact.record_id]
    assert {f: stored[f] for f in FIELDS} == contact.fields
    assert stored["Last_Connected_At__c"].endswith("Z") and isinstance(stored["Call_Attempts_30d__c"], int)

    _, again, report = await write_back(db, fake)
    assert again == [] and report.requests == 0 and len(collection_requests(fake)) == len(sent)

    # One call less for one person: only that person's records are sent, only the changed fields.
    calls = {e.call_id for e in expected_calls(org_dir) if e.shape == "standard" and not e.change}
    task = next(t for t in org["Task"] if t["CallObject"] in calls and t["WhoId"].startswith("003"))
    fake.org.delete("Task", task["Id"])
    fake.org.delete("VoiceCall", next(v["Id"] for v in org["VoiceCall"] if v["ActivityId"] == task["Id"]))
    await sync_once(db, fake)
    _, changes, report = await write_back(db, fake)
    assert task["WhoId"] in {c.record_id for c in changes} and len(changes) <= 3
    assert all("Call_Attempts_30d__c" in c.fields and set(c.fields) <= set(FIELDS) for c in changes)
    assert collection_requests(fake)[-1] == [
        {"attributes": {"type": c.sobject}, "id": c.record_id, **c.fields} for c in changes
    ]


async def test_per_record_failures_are_reported_and_retried_next_time(org_dir, fake, tmp_path):
    org = load_org(fake, org_dir)
    db = tmp_path / "sf.db"
    await sync_once(db, fake)
    victim = org["Task"][0]["WhoId"]
    fake.org.reject[victim] = ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Engagement trend is locked")
    _, changes, report = await write_back(db, fake)
    assert [(f.record_id, f.status_code, f.message) for f in report.failures] == [
        (victim, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Engagement trend is locked")
    ]
    assert report.written == len(changes) - 1
    del fake.org.reject[victim]
    _, retry, report = await write_back(db, fake)
    assert [c.record_id for c in retry] == [victim] and report.written == 1 and report.failures == []


def test_dry_run_prints_the_diff_and_sends_nothing(org_dir, fake, tmp_path, monkeypatch, capsys):
    org = load_org(fake, org_dir)
    db = tmp_path / "sf.db"
    asyncio.run(sync_once(db, fake))
    before = len(fake.org.requests)
    for name, value in {
        "DATABASE_URL": url_for(db),
        "SALESFORCE_WRITEBACK_FIELDS": "windows.30d.calls=Calls_30d__c",
    }.items():
        monkeypatch.setenv(f"CONTEXTSVC_{name}", value)
    assert contextsvc(["salesforce", "writeback", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Calls_30d__c" in out and org["Task"][0]["WhoId"] in out
    assert len(fake.org.requests) == before


def test_a_bad_field_map_is_refused():
    with pytest.raises(FieldMapError):
        parse_field_map("windows.30d.calls")


def test_simulator_push_creates_the_org_with_references_rewritten(org_dir, fake, tmp_path):
    from simulator.salesforce_push import push

    api = SalesforceApi(settings(tmp_path / "sf.db", fake), fake.session())
    outcome = push(api, org_dir / "salesforce")
    assert all(not result["failed"] for result in outcome.values())
    sent = collection_requests(fake)
    assert sent and all(0 < len(chunk) <= 200 for chunk in sent)
    org = fake.org.records
    assert len(org["Task"]) == outcome["Task"]["created"] > 200
    generated = read_ndjson(org_dir / "salesforce" / "Task.ndjson")
    assert outcome["Task"]["created"] == sum(not t.get("IsDeleted") for t in generated)  # the recycle bin stays there
    for task in org["Task"].values():
        assert task["WhoId"] in org["Contact"] or task["WhoId"] in org["Lead"]
    for voice in org["VoiceCall"].values():  # ActivityId rewritten, or left out when its Task was not created
        assert voice.get("ActivityId") is None or org["Task"][voice["ActivityId"]]["TaskSubtype"] == "Call"
    assert any(voice.get("ActivityId") for voice in org["VoiceCall"].values())
