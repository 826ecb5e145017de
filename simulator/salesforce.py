"""Salesforce-shaped records of a scenario: Account, Contact, Lead, Opportunity, Task and
VoiceCall, with Salesforce field names and ids (the Salesforce Object Reference: docs/call-event.md maps them), one
NDJSON file per object, for the Salesforce connector's tests and demos.

A call linked to a Lead or Contact becomes a Task (TaskSubtype Call, CallObject = the CTI
call id, CallDisposition = the Call Result as the rep typed it); dialler calls also get a
VoiceCall (VendorCallKey = the call id, ActivityId -> the Task).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import msgspec

from simulator.population import World, salesforce_id
from simulator.traffic import STAGES, SimCall, Traffic

OBJECTS = ("Account", "Contact", "Lead", "Opportunity", "Task", "VoiceCall")
_encode = msgspec.json.Encoder().encode


def sf_datetime(iso: str) -> str:
    """'2026-11-21T10:00:00.123456+00:00' -> '2026-11-21T10:00:00.123+0000' (the REST wire
    format: Salesforce keeps dateTimes to the millisecond)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class SalesforceWriter:
    def __init__(self, out: Path, seed: int) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.files = {name: open(out / f"{name}.ndjson", "wb") for name in OBJECTS}
        self.rng = random.Random(seed * 31 + 5)
        self.counts = dict.fromkeys(OBJECTS, 0)

    def write(self, sobject: str, record: dict) -> None:
        self.files[sobject].write(_encode({"attributes": {"type": sobject}, **record}) + b"\n")
        self.counts[sobject] += 1

    def call(self, call: SimCall) -> None:
        event = call.event
        who_id = call.truth.record_id
        if who_id is None:
            return  # no WhoId: a CTI call nobody linked never became a Task in Salesforce
        related = event.get("related", {})
        task_id = salesforce_id(self.rng, "00T")
        stamp = sf_datetime(event["ended_at"])
        self.write("Task", {
            "Id": task_id,
            "WhoId": who_id,
            "WhatId": related.get("opportunity_id") or related.get("account_id"),
            "Subject": "Call",
            "TaskSubtype": "Call",
            "Type": "Call",
            "Status": "Completed",
            "CallType": event["direction"].capitalize(),
            "CallDurationInSeconds": event.get("duration_seconds"),
            "CallDisposition": event.get("disposition"),
            "CallObject": event["call_id"],
            "ActivityDate": event["started_at"][:10],
            "Description": event.get("notes"),
            "OwnerId": event.get("rep_id"),
            "CreatedDate": stamp,
            "SystemModstamp": stamp,
        })
        inbound = event["direction"] == "inbound"
        start = datetime.fromisoformat(event["started_at"].replace("Z", "+00:00"))
        # When a person (or voicemail) picked up: after the ring (outbound), or when an agent
        # took the call off the queue (inbound). Talk time is the end minus this moment.
        waited = event.get("hold_seconds" if inbound else "ring_seconds") or 0
        answered = sf_datetime((start + timedelta(seconds=waited)).isoformat()) if event.get("talk_seconds") else None
        self.write("VoiceCall", {
            "Id": salesforce_id(self.rng, "0LQ"),
            "VendorCallKey": event["call_id"],
            "CallType": event["direction"].capitalize(),
            "CallStartDateTime": sf_datetime(event["started_at"]),
            "CallEndDateTime": stamp,
            "CallDurationInSeconds": event.get("duration_seconds"),
            "CallConnectDateTime": None if inbound else answered,
            "CallQueuedDateTime": sf_datetime(event["started_at"]) if inbound else None,
            "CallAcceptDateTime": answered if inbound else None,
            "CallDisposition": "completed",
            "FromPhoneNumber": event["who"].get("phone") if inbound else None,
            "ToPhoneNumber": None if inbound else event["who"].get("phone"),
            "RelatedRecordId": who_id,
            "ActivityId": task_id,
            "UserId": event.get("rep_id"),
            "QueueName": event.get("queue"),
            "SystemModstamp": stamp,
        })

    def people(self, world: World, traffic: Traffic, as_of: str) -> None:
        stamp = sf_datetime(as_of)
        for account in world.accounts:
            self.write("Account", {"Id": account.id, "Name": account.name, "Industry": account.industry,
                                   "Phone": account.switchboard, "Website": account.domain, "SystemModstamp": stamp})
        for person in world.people:
            account = world.accounts[person.account]
            for record in person.records:
                common = {"Id": record.record_id, "FirstName": record.first_name, "LastName": record.last_name,
                          "Email": record.email, "Phone": record.phone, "Title": record.title, "SystemModstamp": stamp}
                if record.kind == "contact":
                    self.write("Contact", {**common, "AccountId": account.id, "DoNotCall": False})
                else:
                    converted_to = next((r for r in person.records if r.converted_lead_id == record.record_id), None)
                    self.write("Lead", {
                        **common, "Company": record.company,
                        "Status": "Closed - Converted" if converted_to else "Working - Contacted",
                        "IsConverted": converted_to is not None,
                        "ConvertedContactId": converted_to.record_id if converted_to else None,
                        "ConvertedAccountId": account.id if converted_to else None,
                    })
        for account_index, (opportunity_id, stage) in traffic.opportunity.items():
            account = world.accounts[account_index]
            self.write("Opportunity", {"Id": opportunity_id, "AccountId": account.id, "Name": f"{account.name} — new business",
                                       "StageName": STAGES[stage], "SystemModstamp": stamp})

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()
