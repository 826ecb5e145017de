"""Activation into Salesforce: rules whose target is `salesforce` create Tasks (upserted on
an External ID carrying the event uuid) or publish platform events, through the outbox's
retries and dead letters, and a retried delivery never makes a second Task."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from contextsvc.activation import ChangeEvent, DueItem, Outcome, PersonRef, SalesforceTarget, outbox, templates
from contextsvc.api.app import create_app
from contextsvc.identity import normalise_salesforce_id
from contextsvc.salesforce import SalesforceDeliverer
from contextsvc.settings import Settings
from tests.helpers import ADMIN, KEYS, WRITER, call_event, deliveries, until
from tests.personal_data import NOTES, WHO, leaks
from tests.salesforce_org import settings

UUID_FIELD = "Contextsvc_Event_Id__c"
REP = "0055e00000RRRRR"  # a Salesforce User id: OwnerId takes one
HIGH_INTENT = {"name": "high intent", "condition": {"attribute": "signals", "op": "contains", "value": "high_intent"}}
ANN = {
    "salesforce_id": "0035e00000AAAAA",
    "first_name": "Ann",
    "last_name": "Lee",
    "company": "Northwind",
    "phone": "+1 415 555 0100",
}
BEN = {
    "salesforce_id": "0035e00000BBBBB",
    "first_name": "Ben",
    "last_name": "Ortiz",
    "company": "Contoso",
    "phone": "+1 415 555 0111",
}
CALLBACK_TASK = {
    "Subject": "Call back: voicemail left ({action_name:.12})",
    "WhoId": "{person.salesforce_id}",
    "OwnerId": "{current_value.rep_id}",
    "ActivityDate": "{event_date+1}",
    "Priority": "High",
    "Status": "Not Started",
    "Description": "High intent; left a voicemail on call {current_value.call_id}.",
}
EVENT = ChangeEvent(
    "4b3c1f0e-9d2a-4c55-8e1b-0a6f2d9c7e11",
    "callback",
    "call_flagged",
    datetime(2026, 11, 20, 23, 30, tzinfo=UTC),
    "individual",
    "ind_1",
    {"call_id": "c1", "rep_id": REP, "talk_seconds": 0, "flags": ["voicemail"], "queue": None},
    {"disposition": "no_answer"},
    "act_1",
)


def _ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _rule(name: str, trigger: dict, fields: dict, **target) -> dict:
    return {"name": name, "trigger": trigger, "target": {"type": "salesforce", "fields": fields, **target}}


def _org_with_tasks(fake) -> None:
    fake.org.add_external_id("Task", UUID_FIELD)  # the field the README asks the org for


def _app(fake, tmp_path, **overrides):
    fast = {"webhook_retry_base_ms": 50, "webhook_retry_max_ms": 200, "webhook_max_attempts": 100}
    config = settings(
        tmp_path / "sf.db", fake, salesforce_sync_interval_s=3600, salesforce_timeout_s=1.0, **{**fast, **overrides}
    )
    return AsyncTestClient(app=create_app(config, salesforce_session=lambda: fake.session(timeout=1.0)))


def _tasks_carrying(fake, event_uuid: str) -> list[dict]:
    return [r for r in fake.org.records["Task"].values() if r.get(UUID_FIELD) == event_uuid]


def _upserts_of(fake, event_uuid: str) -> int:
    return sum(1 for method, path, _ in fake.org.requests if method == "PATCH" and path.endswith(event_uuid))


async def _delivered(api, count: int) -> list[dict]:
    async def done():
        page = await deliveries(api, status="delivered")
        return len(page["deliveries"]) >= count and page["deliveries"]

    found = await until(done)
    assert found, (await deliveries(api))["deliveries"]
    return found


# --- the template, pure ---------------------------------------------------------------


def test_a_template_fills_each_field_from_the_event_and_the_person():
    target = SalesforceTarget(
        {
            **CALLBACK_TASK,
            "Call_Seconds__c": "{current_value.talk_seconds}",  # one placeholder alone: the number stays a number
            "Flags__c": "{current_value.flags}",  # a list: as JSON text
            "Queue__c": "{current_value.queue}",  # null: left out, Salesforce's default applies
            "Missing__c": "{current_value.no.such.path}",
            "IsReminderSet": True,  # literal values are sent as they are
            "Braces__c": "{{literal}} was {previous_value.disposition}",
        }
    )
    person = PersonRef("ind_1", contact_id="003A", lead_id="00QB")
    assert templates.render(target, EVENT, person) == {
        "Subject": "Call back: voicemail left (callback)",
        "WhoId": "003A",  # a Contact before a Lead
        "OwnerId": REP,
        "ActivityDate": "2026-11-21",  # the event's UTC day, plus one
        "Priority": "High",
        "Status": "Not Started",
        "Description": "High intent; left a voicemail on call c1.",
        "Call_Seconds__c": 0,
        "Flags__c": '["voicemail"]',
        "IsReminderSet": True,
        "Braces__c": "{literal} was no_answer",
    }
    assert templates.render(target, EVENT, PersonRef("ind_1", lead_id="00QB"))["WhoId"] == "00QB"
    long_name = msgspec.structs.replace(EVENT, action_name="callback after voicemail")
    assert templates.render(target, long_name, person)["Subject"] == "Call back: voicemail left (callback aft)"
    assert "WhoId" not in templates.render(target, EVENT, None)  # an event about nobody: no WhoId at all
    assert templates.resource(target, EVENT.event_uuid) == f"salesforce:Task/{UUID_FIELD}/{EVENT.event_uuid}"


def test_a_platform_event_carries_the_uuid_and_can_carry_the_whole_event():
    target = SalesforceTarget({"Payload__c": "{event}", "Individual__c": "{source_id}"}, sobject="Callback_Due__e")
    record = templates.render(target, EVENT, None)
    assert record[UUID_FIELD] == EVENT.event_uuid and record["Individual__c"] == "ind_1"
    assert msgspec.json.decode(record["Payload__c"]) == msgspec.to_builtins(EVENT)
    assert templates.resource(target, EVENT.event_uuid) == "salesforce:Callback_Due__e"


# --- rules, refused when they cannot work ------------------------------------------------


async def test_a_salesforce_rule_is_checked_and_refused_while_salesforce_is_not_configured(api):
    trigger = {"type": "call_flag", "flags": ["voicemail"]}
    cases = [
        ({"Subject": "{person.name}"}, {}, "target.fields.Subject"),  # no name ever leaves in an event
        ({"Subject": "{current_value}"}, {}, "target.fields.Subject"),
        ({"Description": "{current_value.call_id"}, {}, "target.fields.Description"),
        ({UUID_FIELD: "{event_uuid}"}, {}, f"target.fields.{UUID_FIELD}"),
        ({"ActivityDate": "{event_date+99999}"}, {}, "target.fields.ActivityDate"),
        ({"Subject": "x"}, {"uuid_field": "Event_Id"}, "target.uuid_field"),  # not a custom field
        ({"Subject": "x", "TaskSubtype": "Call"}, {}, "target.fields.TaskSubtype"),  # the sync would read it back
    ]
    for fields, extra, where in cases:
        response = await api.post("/v1/activations", json=_rule("r", trigger, fields, **extra), headers=ADMIN)
        assert response.status_code == 422, (fields, response.text)
        assert where in [f["field"] for f in response.json()["fields"]], response.json()
    not_an_api_name = _rule("r", trigger, {"Sub ject": "x"})
    assert (await api.post("/v1/activations", json=not_an_api_name, headers=ADMIN)).status_code == 422
    response = await api.post("/v1/activations", json=_rule("r", trigger, CALLBACK_TASK), headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "salesforce_not_configured"
    assert "CONTEXTSVC_SALESFORCE_" in response.json()["message"]
    assert (await api.get("/v1/activations", headers=ADMIN)).json()["rules"] == []


async def test_a_call_flag_rule_can_ask_for_members_of_a_segment_only(api):
    segment_id = (await api.post("/v1/segments", json=HIGH_INTENT, headers=ADMIN)).json()["id"]
    accounts = {
        "name": "busy accounts",
        "subject": "account",
        "condition": {"attribute": "windows.30d.calls", "op": ">=", "value": 5},
    }
    account_segment = (await api.post("/v1/segments", json=accounts, headers=ADMIN)).json()["id"]
    stream = {"type": "stream"}
    for wrong in ("seg_nope", account_segment):
        rule = {
            "name": "r",
            "trigger": {"type": "call_flag", "flags": ["voicemail"], "segment_id": wrong},
            "target": stream,
        }
        response = await api.post("/v1/activations", json=rule, headers=ADMIN)
        assert response.status_code == 422 and response.json()["fields"][0]["field"] == "trigger.segment_id"
    rule = {
        "name": "r",
        "trigger": {"type": "call_flag", "flags": ["voicemail"], "segment_id": segment_id},
        "target": stream,
    }
    assert (await api.post("/v1/activations", json=rule, headers=ADMIN)).status_code == 201
    response = await api.delete(f"/v1/segments/{segment_id}", headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "segment_in_use"


# --- delivery, against the fake Salesforce ------------------------------------------------


@pytest.mark.live  # the TLS fake Salesforce
async def test_a_voicemail_for_someone_with_high_intent_becomes_one_callback_task_for_the_rep(fake, tmp_path):
    _org_with_tasks(fake)
    async with _app(fake, tmp_path) as api:
        segment_id = (await api.post("/v1/segments", json=HIGH_INTENT, headers=ADMIN)).json()["id"]
        trigger = {"type": "call_flag", "flags": ["voicemail"], "segment_id": segment_id}
        created = await api.post(
            "/v1/activations", json=_rule("callback after voicemail", trigger, CALLBACK_TASK), headers=ADMIN
        )
        assert created.status_code == 201, created.text
        assert created.json()["target"] == {
            "type": "salesforce",
            "fields": CALLBACK_TASK,
            "sobject": "Task",
            "uuid_field": UUID_FIELD,
        }
        calls = [  # Kim's calls carry every kind of personal data; none may reach the Task
            call_event("kim-1", started_at=_ago(3), who=WHO, rep_id=REP, disposition="meeting_booked", notes=NOTES),
            call_event("ben-1", started_at=_ago(3), who=BEN, rep_id=REP, disposition="no_answer"),
        ]
        assert (await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)).status_code == 200
        later = [
            call_event("kim-2", started_at=_ago(1), who=WHO, rep_id=REP, disposition="voicemail_left", notes=NOTES),
            call_event("ben-2", started_at=_ago(1), who=BEN, rep_id=REP, disposition="voicemail_left"),  # no intent
        ]
        assert (await api.post("/v1/calls/batch", json={"calls": later}, headers=WRITER)).status_code == 200
        [delivery] = await _delivered(api, 1)
        event_day = datetime.fromisoformat(delivery["created_at"]).date()
    assert delivery["url"] == f"salesforce:Task/{UUID_FIELD}/{delivery['event_uuid']}" and delivery["attempts"] == 1
    [task] = fake.org.live("Task")  # Ben's voicemail made none: he has no high intent
    assert task[UUID_FIELD] == delivery["event_uuid"]
    assert {k: task[k] for k in CALLBACK_TASK} == {
        "Subject": "Call back: voicemail left (callback aft)",
        "WhoId": normalise_salesforce_id(WHO["salesforce_id"]),
        "OwnerId": REP,
        "ActivityDate": (event_day + timedelta(days=1)).isoformat(),
        "Priority": "High",
        "Status": "Not Started",
        "Description": "High intent; left a voicemail on call kim-2.",
    }
    text = msgspec.json.encode(task).decode()
    assert leaks(text, recordings=False) == [] and not {"Kim", "Park", "Contoso", "CFO"} & set(re.findall(r"\w+", text))
    assert _upserts_of(fake, delivery["event_uuid"]) == 1


@pytest.mark.live
async def test_entering_a_segment_makes_a_task_that_names_the_person(fake, tmp_path):
    """Segment events come from the segments observer, before the batch's call events: the
    person is read from the profile the transaction has just written."""
    _org_with_tasks(fake)
    fields = {
        "Subject": "High intent ({current_value.segment_id})",
        "WhoId": "{person.salesforce_id}",
        "Individual_Id__c": "{person.individual_id}",
    }
    fake.org.schema["Task"].add("Individual_Id__c")
    async with _app(fake, tmp_path) as api:
        segment_id = (await api.post("/v1/segments", json=HIGH_INTENT, headers=ADMIN)).json()["id"]
        rule = _rule("hot", {"type": "segment", "segment_id": segment_id}, fields)
        assert (await api.post("/v1/activations", json=rule, headers=ADMIN)).status_code == 201
        await api.post(
            "/v1/calls",
            json=call_event("ann-1", started_at=_ago(1), who=ANN, disposition="meeting_booked"),
            headers=WRITER,
        )
        [delivery] = await _delivered(api, 1)
    assert delivery["event_type"] == "segment_entered"
    [task] = fake.org.live("Task")
    assert task["Subject"] == f"High intent ({segment_id})" and task["Individual_Id__c"].startswith("ind_")
    assert task["WhoId"] == normalise_salesforce_id(ANN["salesforce_id"])


@pytest.mark.live
async def test_a_retried_delivery_never_creates_a_second_task(fake, tmp_path):
    """Salesforce commits the first attempt but answers after the client has given up; the
    rep deletes the new Task before the retry. The retry finds it (deleted records too) and
    sends nothing. An attempt refused before anything was written is simply made again."""
    _org_with_tasks(fake)
    fake.org.stall_writes, fake.org.stall_s = 1, 2.5
    async with _app(fake, tmp_path, webhook_retry_base_ms=1500, webhook_retry_max_ms=1500) as api:  # time to delete it
        trigger = {"type": "call_flag", "flags": ["voicemail"]}
        created = await api.post("/v1/activations", json=_rule("cb", trigger, CALLBACK_TASK), headers=ADMIN)
        assert created.status_code == 201
        await api.post(
            "/v1/calls",
            json=call_event("ann-1", started_at=_ago(1), who=ANN, disposition="voicemail_left"),
            headers=WRITER,
        )

        async def committed():
            return fake.org.live("Task")

        [task] = await until(committed)
        fake.org.delete("Task", task["Id"])  # the rep deletes it before the retry comes
        [first] = await _delivered(api, 1)
        assert first["attempts"] == 2  # the first timed out
        fake.org.write_faults.append((503, "SERVER_UNAVAILABLE", "down for maintenance"))
        await api.post(
            "/v1/calls",
            json=call_event("ben-1", started_at=_ago(1), who=BEN, disposition="voicemail_left"),
            headers=WRITER,
        )
        second = next(d for d in await _delivered(api, 2) if d["event_uuid"] != first["event_uuid"])
        assert second["attempts"] == 2 and second["last_error"] is None
    assert len(_tasks_carrying(fake, first["event_uuid"])) == 1 and fake.org.live("Task") != []
    assert _upserts_of(fake, first["event_uuid"]) == 1  # the retry looked, found it deleted, and left it
    [ben_task] = _tasks_carrying(fake, second["event_uuid"])
    assert not ben_task["IsDeleted"] and _upserts_of(fake, second["event_uuid"]) == 2


@pytest.mark.live
async def test_a_platform_event_is_published_with_the_uuid_subscribers_deduplicate_on(fake, tmp_path):
    fake.org.define_platform_event("Callback_Due__e", {UUID_FIELD, "Individual_Id__c", "Call_Id__c", "Payload__c"})
    fields = {"Individual_Id__c": "{source_id}", "Call_Id__c": "{current_value.call_id}", "Payload__c": "{event}"}
    async with _app(fake, tmp_path) as api:
        rule = _rule("meeting booked", {"type": "call_flag", "flags": ["meeting"]}, fields, sobject="Callback_Due__e")
        assert (await api.post("/v1/activations", json=rule, headers=ADMIN)).status_code == 201
        await api.post("/v1/calls", json=call_event("ann-1", who=ANN, disposition="meeting_booked"), headers=WRITER)
        [delivery] = await _delivered(api, 1)
        fake.org.stall_writes, fake.org.stall_s = 1, 1.5  # published, but the answer comes too late
        await api.post("/v1/calls", json=call_event("ben-1", who=BEN, disposition="meeting_booked"), headers=WRITER)
        again = next(d for d in await _delivered(api, 2) if d["event_uuid"] != delivery["event_uuid"])
    first, *retried = fake.org.published["Callback_Due__e"]
    assert first[UUID_FIELD] == delivery["event_uuid"] and first["Call_Id__c"] == "ann-1"
    payload = msgspec.json.decode(first["Payload__c"])
    assert payload["event_uuid"] == delivery["event_uuid"] and payload["current_value"]["call_id"] == "ann-1"
    assert delivery["url"] == "salesforce:Callback_Due__e"
    # Publishing is not idempotent: the retry published Ben's event twice, under one uuid.
    assert [m[UUID_FIELD] for m in retried] == [again["event_uuid"]] * 2 and again["attempts"] == 2


@pytest.mark.live
async def test_a_record_salesforce_refuses_is_a_dead_letter_at_once_and_redrives_after_the_fix(fake, tmp_path):
    _org_with_tasks(fake)
    fields = {"Subject": "Talked {current_value.talk_seconds} s", "Talk_Seconds__c": "{current_value.talk_seconds}"}
    async with _app(fake, tmp_path) as api:
        rule = _rule("talked", {"type": "call"}, fields)  # call_logged events carry talk_seconds
        assert (await api.post("/v1/activations", json=rule, headers=ADMIN)).status_code == 201
        await api.post("/v1/calls", json=call_event("ann-1", who=ANN), headers=WRITER)

        async def dead():
            return (await api.get("/v1/activations/dead-letters", headers=ADMIN)).json()["deliveries"]

        [letter] = await until(dead)
        assert letter["attempts"] == 1  # not retried: it would be refused again
        assert "INVALID_FIELD" in letter["last_error"] and "Talk_Seconds__c" in letter["last_error"]
        fake.org.schema["Task"].add("Talk_Seconds__c")  # the admin creates the field
        assert (await api.post("/v1/activations/dead-letters/redrive", headers=ADMIN)).json() == {"redriven": 1}
        await _delivered(api, 1)
    [task] = fake.org.live("Task")
    assert task["Talk_Seconds__c"] == 90 and task["Subject"] == "Talked 90 s"  # a number stays a number


@pytest.mark.live
async def test_the_deliverer_upserts_on_the_uuid_and_tells_refusals_from_passing_trouble(fake):
    """Below the dispatcher: the same event sent twice as a first attempt (a crash between
    sending and recording it) updates the Task it made; several Tasks carrying one uuid (a
    field not marked Unique) count as delivered; refusals are final unless passing."""
    _org_with_tasks(fake)
    config = Settings.from_env(
        {},
        database_url="sqlite+aiosqlite://",
        api_keys=KEYS,
        salesforce_instance_url=fake.instance_url,
        salesforce_session_id=fake.org.issue_token(),
    )
    deliverer = SalesforceDeliverer(config, fake.session)
    target = SalesforceTarget({"Subject": "x"})

    def item(event_uuid: str, attempts: int = 0, record: dict | None = None, last_error: str | None = None) -> DueItem:
        payload = msgspec.json.encode(record or {"Subject": "Call back"})
        return DueItem(
            outbox.Due(
                1, event_uuid, "act_1", "salesforce:Task", payload, attempts, created_at=0, last_error=last_error
            ),
            target,
        )

    delivered = [Outcome(True)]
    once = "0f8e7d6c-0000-4000-8000-000000000001"
    assert await deliverer.deliver([item(once)]) == delivered
    assert await deliverer.deliver([item(once, record={"Subject": "Call back soon"})]) == delivered
    [task] = _tasks_carrying(fake, once)
    assert task["Subject"] == "Call back soon"  # updated in place, not a second Task
    fake.org.update("Task", task["Id"], {"Subject": "Called back", "Status": "Completed"})  # the rep's work
    redriven = item(once, record={"Subject": "Call back"}, last_error="timed out")  # a redrive resets attempts
    assert await deliverer.deliver([redriven]) == delivered
    assert task["Subject"] == "Called back" and _upserts_of(fake, once) == 2  # looked, found it, sent nothing
    twice = "0f8e7d6c-0000-4000-8000-000000000002"
    fake.org.load("Task", [{"Id": fake.org.new_id("Task"), UUID_FIELD: twice} for _ in range(2)])
    assert await deliverer.deliver([item(twice)]) == delivered
    assert len(_tasks_carrying(fake, twice)) == 2  # 300 Multiple Choices: there, and not a third
    fake.org.write_faults += [
        (400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
        (400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"),
    ]
    locked = await deliverer.deliver([item("0f8e7d6c-0000-4000-8000-000000000003")])
    refused = await deliverer.deliver([item("0f8e7d6c-0000-4000-8000-000000000004")])
    assert not locked[0].ok and not locked[0].final and "UNABLE_TO_LOCK_ROW" in locked[0].error
    assert not refused[0].ok and refused[0].final and "INVALID_CROSS_REFERENCE_KEY" in refused[0].error
    fake.org.expire_sessions()  # a session id cannot be renewed: a passing failure with what to set
    [expired] = await deliverer.deliver([item("0f8e7d6c-0000-4000-8000-000000000005")])
    assert not expired.ok and not expired.final and "CONTEXTSVC_SALESFORCE_SESSION_ID" in expired.error
