"""Salesforce-shaped records of a scenario: Account, Contact, Lead, Opportunity, Task and
VoiceCall with Salesforce field names and ids, one NDJSON file per object, for the
connector's tests, benchmark and demos — shaped the way real orgs hold calls.

A call linked to a Lead or Contact becomes, by draw (scenario [salesforce]): a CTI Task
(TaskSubtype Call, CallDisposition = the Call Result as the rep typed it) with a VoiceCall
that names it by ActivityId (CallObject = VendorCallKey = the CTI call id, or CallObject
empty, or CallObject another id); a VoiceCall naming its Task only by VendorCallKey; a
CTI Task alone; a VoiceCall alone (never logged; abandoned calls always); or a Task
logged by hand (no CallType, CallObject or duration, saved minutes after the call). A
call nobody linked is a VoiceCall with only the phone number. Callbacks are VoiceCalls of
CallType Callback.

Two syncs' worth of history: the NDJSON files are the org at a first sync (a few Tasks
already in the recycle bin, a few VoiceCalls not yet committed); `changes.ndjson` lists,
in order, what happens before a second one (late commits, undeletes, edited Call Results,
deletes, calls moved to the right person, Leads converted into Contacts that already have
calls — their Tasks moving with them — and one rep's Tasks reassigned in one mass update).
`expected.ndjson` is the ground truth of both moments: per real call, the CallEvent that
what Salesforce then holds of it amounts to (nothing, when it holds nothing), and whether
its direction had to be inferred.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import msgspec

from simulator.population import Person, Record, World, salesforce_id
from simulator.scenario import Scenario
from simulator.traffic import STAGES, SimCall, Traffic

OBJECTS = ("Account", "Contact", "Lead", "Opportunity", "Task", "VoiceCall")
CENTRE_LINE = "+18885550100"  # the contact centre's own number: the agent's end of every VoiceCall
SHAPES = (
    "manual_log",
    "voice_without_task",
    "task_without_voice",
    "task_without_call_object",
    "different_call_object",
    "voice_without_activity",
)
_encode = msgspec.json.Encoder().encode


def sf_datetime(iso: str) -> str:
    """'2026-11-21T10:00:00.123456+00:00' -> '2026-11-21T10:00:00.123+0000' (the REST wire
    format: Salesforce keeps dateTimes to the millisecond)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _iso_ms(value: str) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat()


class OrgCall(msgspec.Struct):
    """One real call and the records the org holds of it (mutated by the changes)."""

    event: dict  # as the CTI adapter posted it
    person: str | None  # the true person
    outcome: str  # what really happened (picklist code)
    shape: str
    task: dict | None = None
    voice: dict | None = None
    voice_committed: bool = True  # False until a late VoiceCall commits
    change: str = ""  # what happens to it before the second sync
    right_who: str | None = None  # reparented: the record it belongs to


class SalesforceWriter:
    def __init__(self, out: Path, scenario: Scenario, world: World) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.s = scenario.salesforce
        # Open for the writer's whole run, one per sObject: close() closes them.
        self.files = {name: open(out / f"{name}.ndjson", "wb") for name in OBJECTS}  # noqa: SIM115
        self.rng = random.Random(scenario.seed * 31 + 5)
        self.counts = dict.fromkeys(OBJECTS, 0)
        self.world = world
        self.calls: list[OrgCall] = []
        self.sequence = 0
        self._records: dict[str, tuple[Record, Person]] = {}  # record id -> (record, its person)
        self._indexed = 0
        self.colleagues: dict[int, list[str]] = {}
        for person in world.people:
            self.colleagues.setdefault(person.account, []).extend(r.record_id for r in person.records)
        # Leads converted into their person's Contact between the two syncs.
        self.converting: dict[str, str] = {}  # Lead id -> Contact id
        for person in world.people:
            leads = [r for r in person.records if r.kind == "lead"]
            contacts = [r for r in person.records if r.kind == "contact" and r.converted_lead_id is None]
            if len(leads) == 1 and len(contacts) == 1 and self.rng.random() < self.s.converted_duplicates:
                self.converting[leads[0].record_id] = contacts[0].record_id
        reps = [rep.id for rep in world.reps]
        n = min(self.s.reassigned_reps, len(reps) - 1)
        self.reassigned = {reps[i]: reps[n + i] for i in range(max(0, n))}

    def write(self, sobject: str, record: dict) -> None:
        self.files[sobject].write(_encode({"attributes": {"type": sobject}, **record}) + b"\n")
        self.counts[sobject] += 1

    def _record(self, record_id: str) -> tuple[Record, Person]:
        while record_id not in self._records and self._indexed < len(self.world.people):
            person = self.world.people[self._indexed]  # web leads join the world during the run
            for record in person.records:
                self._records[record.record_id] = (record, person)
            self._indexed += 1
        return self._records[record_id]

    # --- one call ---------------------------------------------------------------------

    def _shape(self, event: dict, linked: bool) -> str:
        abandoned = event["direction"] == "inbound" and not event.get("rep_id")
        if not linked or abandoned:
            return "voice_only"
        own_dial = event["direction"] == "outbound" and not event.get("queue")
        roll, threshold = self.rng.random(), 0.0
        for shape in SHAPES:
            threshold += getattr(self.s, shape) if shape != "manual_log" or own_dial else 0.0
            if roll < threshold:
                return shape
        return "standard"

    def _task(self, event: dict, who_id: str, shape: str) -> dict:
        related = event.get("related", {})
        task = {
            "Id": salesforce_id(self.rng, "00T"),
            "WhoId": who_id,
            "WhatId": related.get("opportunity_id") or related.get("account_id"),
            "Subject": "Call",
            "TaskSubtype": "Call",
            "Type": "Call",
            "Status": "Completed",
            "CallDisposition": event.get("disposition"),
            "ActivityDate": event["started_at"][:10],
            "Description": event.get("notes"),
            "OwnerId": event.get("rep_id"),
        }
        if shape == "manual_log":  # "Log a Call": no CTI fields; saved when the rep got round to it
            low, high = self.s.log_delay_minutes
            ended = datetime.fromisoformat(event["ended_at"].replace("Z", "+00:00"))
            logged = sf_datetime((ended + timedelta(seconds=int(self.rng.uniform(low, high) * 60))).isoformat())
            return {
                **task,
                "CallType": None,
                "CallDurationInSeconds": None,
                "CallObject": None,
                "CreatedDate": logged,
                "SystemModstamp": logged,
            }
        self.sequence += 1
        call_object = {"task_without_call_object": None, "different_call_object": f"CTI{self.sequence:09d}"}
        stamp = sf_datetime(event["ended_at"])
        return {
            **task,
            "CallType": event["direction"].capitalize(),
            "CallDurationInSeconds": event.get("duration_seconds"),
            "CallObject": call_object.get(shape, event["call_id"]),
            "CreatedDate": stamp,
            "SystemModstamp": stamp,
        }

    def _voice(self, event: dict, who_id: str | None, task_id: str | None) -> dict:
        inbound = event["direction"] == "inbound"
        callback = event["direction"] == "outbound" and bool(event.get("queue"))
        start = datetime.fromisoformat(event["started_at"].replace("Z", "+00:00"))
        # When a person (or voicemail) picked up: after the ring (outbound), or when an agent
        # took the call off the queue (inbound). Talk time is the end minus this moment.
        waited = event.get("hold_seconds" if inbound else "ring_seconds") or 0
        answered = sf_datetime((start + timedelta(seconds=waited)).isoformat()) if event.get("talk_seconds") else None
        customer = event["who"].get("phone")
        # ToPhoneNumber is the agent's on inbound and callback calls, the customer's on outbound.
        caller_is_customer = inbound or callback
        return {
            "Id": salesforce_id(self.rng, "0LQ"),
            "VendorCallKey": event["call_id"],
            "CallType": "Callback" if callback else event["direction"].capitalize(),
            "CallStartDateTime": sf_datetime(event["started_at"]),
            "CallEndDateTime": sf_datetime(event["ended_at"]),
            "CallDurationInSeconds": event.get("duration_seconds"),
            "CallConnectDateTime": None if inbound else answered,
            "CallQueuedDateTime": sf_datetime(event["started_at"]) if inbound else None,
            "CallAcceptDateTime": answered if inbound else None,
            "CallDisposition": "completed",
            "FromPhoneNumber": customer if caller_is_customer else CENTRE_LINE,
            "ToPhoneNumber": CENTRE_LINE if caller_is_customer else customer,
            "RelatedRecordId": who_id,
            "ActivityId": task_id,
            "UserId": event.get("rep_id"),
            "QueueName": event.get("queue"),
            "SystemModstamp": sf_datetime(event["ended_at"]),
        }

    def call(self, call: SimCall) -> None:
        event, who_id = call.event, call.truth.record_id
        shape = self._shape(event, who_id is not None)
        org = OrgCall(event, call.truth.person, call.truth.outcome, shape)
        task = None
        if shape not in ("voice_only", "voice_without_task"):
            assert who_id is not None  # _shape makes every call not linked to a record voice_only
            task = org.task = self._task(event, who_id, shape)
        if shape not in ("manual_log", "task_without_voice"):
            names_task = shape in ("standard", "task_without_call_object", "different_call_object")
            org.voice = self._voice(event, who_id, task["Id"] if task is not None and names_task else None)
        self._draw_change(org)
        if org.task is not None:
            self.write("Task", org.task)
        if org.voice is not None and org.voice_committed:
            self.write("VoiceCall", org.voice)
        self.calls.append(org)

    def _draw_change(self, org: OrgCall) -> None:
        s, task = self.s, org.task
        if task is None:
            return
        if org.shape == "manual_log" and self.rng.random() < s.reparented:
            _, person = self._record(task["WhoId"])
            others = [r for r in self.colleagues.get(person.account, []) if self._record(r)[1] is not person]
            if others:
                org.change, org.right_who = "reparent", task["WhoId"]
                task["WhoId"] = self.rng.choice(others)  # logged on a colleague first
            return
        roll = self.rng.random()
        # `change` is read after the loop: the one the roll fell on (the loop breaks there).
        for change, share in (  # noqa: B007
            ("late_voice", s.late_voice_call if org.voice else 0.0),
            ("recycle_bin", s.deleted_before_first_sync),
            ("edit_result", s.edited_call_result),
            ("delete", s.deleted_task),
        ):
            if roll < share:
                break
            roll -= share
        else:
            return
        if change == "late_voice":
            org.voice_committed = False
        elif change == "recycle_bin":
            task["IsDeleted"] = True
            task["SystemModstamp"] = sf_datetime(
                (
                    datetime.fromisoformat(task["CreatedDate"].replace("+0000", "+00:00")) + timedelta(minutes=5)
                ).isoformat()
            )
            change = "undelete" if self.rng.random() < s.undeleted else "stays_deleted"
        elif change == "edit_result" and task["CallDisposition"] == org.outcome:
            return  # already right: nothing to correct
        org.change = change

    # --- the end of the run --------------------------------------------------------------

    def people(self, world: World, traffic: Traffic, as_of: str) -> None:
        """The people, accounts and opportunities as they stand at the first sync; then
        the changes before the second and the ground truth of both."""
        stamp = sf_datetime(as_of)
        for account in world.accounts:
            self.write(
                "Account",
                {
                    "Id": account.id,
                    "Name": account.name,
                    "Industry": account.industry,
                    "Phone": account.switchboard,
                    "Website": account.domain,
                    "SystemModstamp": stamp,
                },
            )
        for person in world.people:
            account = world.accounts[person.account]
            for record in person.records:
                common = {
                    "Id": record.record_id,
                    "FirstName": record.first_name,
                    "LastName": record.last_name,
                    "Email": record.email,
                    "Phone": record.phone,
                    "Title": record.title,
                    "SystemModstamp": stamp,
                }
                if record.kind == "contact":
                    self.write("Contact", {**common, "AccountId": account.id, "DoNotCall": False})
                else:
                    converted_to = next((r for r in person.records if r.converted_lead_id == record.record_id), None)
                    self.write(
                        "Lead",
                        {
                            **common,
                            "Company": record.company,
                            "Status": "Closed - Converted" if converted_to else "Working - Contacted",
                            "IsConverted": converted_to is not None,
                            "ConvertedContactId": converted_to.record_id if converted_to else None,
                            "ConvertedAccountId": account.id if converted_to else None,
                        },
                    )
        stages = {}
        for account_index, (opportunity_id, stage) in traffic.opportunity.items():
            account = world.accounts[account_index]
            stages[opportunity_id] = STAGES[stage]
            self.write(
                "Opportunity",
                {
                    "Id": opportunity_id,
                    "AccountId": account.id,
                    "Name": f"{account.name} — new business",
                    "StageName": STAGES[stage],
                    "SystemModstamp": stamp,
                },
            )
        converted = {r.record_id: r.converted_lead_id for p in world.people for r in p.records if r.converted_lead_id}
        first = [self._held(call, converted, stages) for call in self.calls]
        changes = self._changes()
        converted.update({contact: lead for lead, contact in self.converting.items()})
        second = [self._held(call, converted, stages) for call in self.calls]
        with open(self.out / "changes.ndjson", "wb") as out:
            out.writelines(_encode(change) + b"\n" for change in changes)
        with open(self.out / "expected.ndjson", "wb") as out:
            for call, before, after in zip(self.calls, first, second, strict=True):
                out.write(
                    _encode(
                        {
                            "call_id": call.event["call_id"],
                            "person": call.person,
                            "shape": call.shape,
                            "change": call.change,
                            "first": before[0],
                            "first_inferred": before[1],
                            "second": after[0],
                            "second_inferred": after[1],
                        }
                    )
                    + b"\n"
                )

    def _changes(self) -> list[dict]:
        """What happens between the syncs, in order, applied to the calls' records too."""
        changes: list[dict] = []
        for call in self.calls:
            task = call.task
            if task is None:
                continue  # _draw_change draws a change only for a call with a Task
            if call.change == "late_voice":
                changes.append(
                    {"op": "insert", "sobject": "VoiceCall", "record": call.voice, "late_by_s": self.s.late_by_seconds}
                )
                call.voice_committed = True
            elif call.change == "undelete":
                changes.append({"op": "undelete", "sobject": "Task", "id": task["Id"]})
                task["IsDeleted"] = False
            elif call.change == "edit_result":
                task["CallDisposition"] = call.outcome
                changes.append(
                    {
                        "op": "update",
                        "sobject": "Task",
                        "ids": [task["Id"]],
                        "fields": {"CallDisposition": task["CallDisposition"]},
                    }
                )
            elif call.change == "delete":
                changes.append({"op": "delete", "sobject": "Task", "id": task["Id"]})
                task["IsDeleted"] = True
            elif call.change == "reparent":
                task["WhoId"] = call.right_who
                changes.append(
                    {"op": "update", "sobject": "Task", "ids": [task["Id"]], "fields": {"WhoId": call.right_who}}
                )
        live = [call.task for call in self.calls if call.task is not None and not call.task.get("IsDeleted")]
        for lead, contact in self.converting.items():
            account = self.world.accounts[self._record(contact)[1].account].id
            # convertLead: one transaction that converts the Lead and moves its activities.
            changes.append(
                {
                    "op": "update",
                    "sobject": "Lead",
                    "ids": [lead],
                    "fields": {
                        "IsConverted": True,
                        "ConvertedContactId": contact,
                        "ConvertedAccountId": account,
                        "Status": "Closed - Converted",
                    },
                }
            )
            moved = [task for task in live if task["WhoId"] == lead]
            for task in moved:
                task["WhoId"] = contact
            if moved:
                changes.append(
                    {"op": "update", "sobject": "Task", "ids": [t["Id"] for t in moved], "fields": {"WhoId": contact}}
                )
        for rep, successor in self.reassigned.items():
            owned = [task for task in live if task["OwnerId"] == rep]
            for task in owned:
                task["OwnerId"] = successor
            if owned:
                changes.append(
                    {
                        "op": "update",
                        "sobject": "Task",
                        "ids": [t["Id"] for t in owned],
                        "fields": {"OwnerId": successor},
                    }
                )
        return changes

    def _held(self, call: OrgCall, converted: dict[str, str], stages: dict[str, str]) -> tuple[dict | None, bool]:
        """The CallEvent of what the org holds of this call (None: nothing), and whether its
        direction is inferred. Derived from the call as it happened, less what the live
        records cannot tell."""
        task = call.task if call.task is not None and not call.task.get("IsDeleted") else None
        voice = call.voice if call.voice is not None and call.voice_committed else None
        if task is None and voice is None:
            return None, False
        event = {k: v for k, v in call.event.items() if k != "attempt_number"}
        for name in ("started_at", "ended_at"):
            if name in event:
                event[name] = _iso_ms(event[name])
        if voice is not None:
            named = task["WhoId"] if task else voice["RelatedRecordId"]
        else:
            assert task is not None  # returned above when the org holds neither
            named = task["WhoId"]
            event["call_id"] = task["CallObject"] or f"sf-{task['Id']}"
            for name in ("ended_at", "talk_seconds", "ring_seconds", "hold_seconds", "queue"):
                event.pop(name, None)
            event["rep_id"] = task["OwnerId"]
            if task["CallDurationInSeconds"] is None:
                event.pop("duration_seconds", None)
                event["started_at"] = _iso_ms(task["CreatedDate"])
        related: dict = {}
        if task is not None:
            event["disposition"] = task["CallDisposition"]
            related = dict(call.event.get("related", {}))
            if "opportunity_id" in related:
                related["opportunity_stage"] = stages[related["opportunity_id"]]
        else:
            event.pop("disposition", None)
            event.pop("notes", None)
        if named is not None:
            record, person = self._record(named)
            if record.kind == "contact":
                related.setdefault("account_id", self.world.accounts[person.account].id)
            who = {
                "salesforce_id": record.record_id,
                "first_name": record.first_name,
                "last_name": record.last_name,
                "company": record.company,
                "email": record.email,
                "title": record.title,
                "phone": (call.event["who"].get("phone") if voice is not None else None) or record.phone,
                "converted_lead_id": converted.get(record.record_id) if record.kind == "contact" else None,
            }
            event["who"] = {k: v for k, v in who.items() if v}
        event["related"] = related
        event = {k: v for k, v in event.items() if v is not None}
        inferred = voice is None and task is not None and task["CallType"] is None
        return event, inferred

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()
