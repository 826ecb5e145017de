"""The connector against an org shaped the way real ones hold calls (simulator/salesforce.py):
Tasks with and without CallObject or CallType, VoiceCalls linked by ActivityId only, by key
only or not at all, callbacks, records in the recycle bin, late commits — and between two
syncs, edited Call Results, deletes, undeletes, calls moved to the right person, Leads
converted into Contacts that already have calls, one mass update whose SystemModstamp
spans pages. Every person's context must be the simulator's truth at each sync, and the
fields written back must be those contexts' values."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from contextsvc.context import assemble
from contextsvc.profile import build
from contextsvc.quality import tables as quality_tables
from contextsvc.salesforce import tables as salesforce_tables
from contextsvc.salesforce.writeback import parse_field_map, plan_writeback, value_at
from contextsvc.store.engine import create_engine
from contextsvc.timeutil import micros
from tests.fake_salesforce import parse_stamp
from tests.helpers import fetch_all, url_for
from tests.salesforce_org import (
    apply_changes,
    assert_org_as_held,
    expected_calls,
    load_org,
    read_ndjson,
    settings,
    sync_once,
    write_back,
)

pytestmark = pytest.mark.live

LOOKBACK = {"salesforce_lookback_s": 120}  # the default: late commits of under two minutes are re-read
FIELDS = ("Call_Attempts_30d__c", "Last_Connected_At__c", "Engagement_Trend__c", "Calls_To_First_Connect__c")
NOW = datetime(2026, 9, 1, tzinfo=UTC)


class Crash(Exception):
    pass


def test_the_simulated_org_holds_every_shape_and_change(org_dir):
    expected = expected_calls(org_dir)
    shapes = Counter(e.shape for e in expected)
    changes = Counter(e.change for e in expected)
    assert set(shapes) == {
        "standard",
        "voice_only",
        "manual_log",
        "voice_without_task",
        "task_without_voice",
        "task_without_call_object",
        "different_call_object",
        "voice_without_activity",
    }, shapes
    assert set(changes) >= {"", "late_voice", "undelete", "stays_deleted", "edit_result", "delete", "reparent"}, changes
    assert any(e.first and e.second and e.first["call_id"] != e.second["call_id"] for e in expected)  # re-keyed
    assert any(e.first and not e.second for e in expected) and any(e.second and not e.first for e in expected)
    assert any(e.first_inferred for e in expected)
    callbacks = [e.first for e in expected if e.first and e.first["direction"] == "outbound" and e.first.get("queue")]
    assert callbacks
    changes = read_ndjson(org_dir / "salesforce" / "changes.ndjson")
    conversions = [c for c in changes if c["sobject"] == "Lead" and c.get("fields", {}).get("IsConverted")]
    contacts = {c["fields"]["ConvertedContactId"] for c in conversions}
    assert contacts & {e.first["who"].get("salesforce_id") for e in expected if e.first}  # Contacts with calls already
    moved = [c for c in changes if c["sobject"] == "Task" and c.get("fields", {}).get("WhoId") in contacts]
    assert moved  # convertLead moves the Lead's Tasks to the Contact
    assert max(len(c.get("ids", ())) for c in changes if "OwnerId" in c.get("fields", {})) > 200  # one mass update
    assert any(c["op"] == "insert" and c.get("late_by_s") for c in changes)


def _mass_update_stamp(fake) -> int:
    """The SystemModstamp the most Tasks share after the changes (the rep's mass reassignment)."""
    stamp, count = Counter(t["SystemModstamp"] for t in fake.org.records["Task"].values()).most_common(1)[0]
    assert count > 200  # more than a page of records: the run crosses page boundaries
    return micros(parse_stamp(stamp))


async def test_two_syncs_give_every_person_exactly_what_the_org_holds(org_dir, fake, tmp_path):
    load_org(fake, org_dir)
    db = tmp_path / "synced.db"
    expected = expected_calls(org_dir)
    first = await sync_once(db, fake, LOOKBACK)
    assert first.calls == {"accepted": sum(e.first is not None for e in expected)}
    assert first.inferred_directions == sum(e.first_inferred for e in expected) > 0
    known = await assert_org_as_held(db, tmp_path / "posted-1.db", org_dir, phase=1)

    apply_changes(fake, org_dir)
    shared = _mass_update_stamp(fake)
    crashed = []

    async def crash_inside_the_mass_update(sobject: str, pages: int) -> None:
        if sobject == "Task" and not crashed:
            watermarks = salesforce_tables.salesforce_watermarks.c
            [(stamp,)] = await fetch_all(
                url_for(db), select(watermarks.system_modstamp).where(watermarks.sobject == "Task")
            )
            if stamp == shared:
                crashed.append(pages)
                raise Crash  # the watermark sits inside a run of one SystemModstamp

    with pytest.raises(Crash):
        await sync_once(db, fake, LOOKBACK, after_page=crash_inside_the_mass_update)
    second = await sync_once(db, fake, LOOKBACK)
    assert crashed and second.calls.get("retracted", 0) > 0 and second.calls.get("updated", 0) > 0
    await assert_org_as_held(db, tmp_path / "posted-2.db", org_dir, phase=2, known=known)
    counts = quality_tables.quality_counts.c
    [(inferred,)] = await fetch_all(
        url_for(db), select(func.sum(counts.inferred_direction)).where(counts.dimension == "all")
    )
    assert inferred == sum(e.second_inferred for e in expected)  # counted by the quality monitor

    again = await sync_once(db, fake, LOOKBACK)
    assert again.calls == {} and again.changed == dict.fromkeys(again.read, 0)  # nothing new: nothing sent


async def _values_per_record(db, config) -> dict[str, dict]:
    """What every Contact/Lead of `db` should carry: its person's context values."""
    engine = create_engine(url_for(db))
    try:
        _, changes = await plan_writeback(
            engine, parse_field_map(config.salesforce_writeback_fields), NOW, resend_all=True
        )
    finally:
        await engine.dispose()
    return {c.record_id: c.fields for c in changes}


async def test_write_back_is_exact_across_two_syncs_and_silent_when_nothing_changed(org_dir, fake, tmp_path):
    for sobject in ("Contact", "Lead"):
        fake.org.schema[sobject].update(FIELDS)
    load_org(fake, org_dir)
    db = tmp_path / "synced.db"
    await sync_once(db, fake, LOOKBACK)
    await write_back(db, fake, NOW)
    known = await assert_org_as_held(db, tmp_path / "posted-1.db", org_dir, phase=1)
    apply_changes(fake, org_dir)
    await sync_once(db, fake, LOOKBACK)
    _, changes, report = await write_back(db, fake, NOW)
    assert report.failures == [] and 0 < report.written == len(changes)
    await assert_org_as_held(db, tmp_path / "posted-2.db", org_dir, phase=2, known=known)

    # Salesforce now carries, on every Contact and Lead a call names, what the truth says.
    config = settings(db, fake)
    truth = await _values_per_record(tmp_path / "posted-2.db", config)
    field_map = parse_field_map(config.salesforce_writeback_fields)
    nobody = {field: value_at(assemble("none", build([]), NOW, recent=0), path) for path, field in field_map.items()}
    converted = {lead["Id"] for lead in fake.org.records["Lead"].values() if lead.get("IsConverted")}
    written = {
        (sobject, record_id): {f: record.get(f) for f in FIELDS}
        for sobject in ("Contact", "Lead")
        for record_id, record in fake.org.records[sobject].items()
        if any(f in record for f in FIELDS)
    }
    assert written
    wrong = {}
    for (_sobject, record_id), values in written.items():
        if record_id in converted:
            continue  # written before its conversion; Salesforce refuses updates since
        want = truth.get(record_id, nobody)  # a record no call names any more: an empty history
        if values != want:
            wrong[record_id] = (values, want)
    assert not wrong, (len(wrong), list(wrong.items())[:3])
    assert set(truth) - converted <= {record_id for _, record_id in written}

    _, again, report = await write_back(db, fake, NOW)
    assert again == [] and report.requests == 0
