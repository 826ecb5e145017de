"""What the connector reads from Salesforce, and how one record is filed locally.

Pure: the SOQL per sObject, and for each record the keys the mirror indexes it by
(docs/call-event.md for the fields and their meaning).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec

from contextsvc.timeutil import EPOCH, micros

# Read in this order: the people and records a call names are mirrored before the calls.
SOBJECTS = ("Account", "Contact", "Lead", "Opportunity", "Task", "VoiceCall")
PERSON_FIELDS = ("FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title")
FIELDS: dict[str, tuple[str, ...]] = {
    "Account": ("Name",),
    "Contact": (*PERSON_FIELDS, "AccountId"),
    "Lead": (*PERSON_FIELDS, "Company", "IsConverted", "ConvertedContactId"),
    "Opportunity": ("AccountId", "StageName"),
    "Task": (
        "WhoId", "WhatId", "AccountId", "CallType", "CallDurationInSeconds", "CallDisposition", "CallObject",
        "Description", "OwnerId", "CreatedDate",
    ),
    "VoiceCall": (
        "VendorCallKey", "CallType", "CallStartDateTime", "CallEndDateTime", "CallDurationInSeconds",
        "CallConnectDateTime", "CallAcceptDateTime", "CallQueuedDateTime", "FromPhoneNumber", "ToPhoneNumber",
        "RelatedRecordId", "ActivityId", "UserId", "QueueName", "CustomerHoldDuration", "Description",
    ),
}
SYSTEM_FIELDS = ("Id", "IsDeleted", "SystemModstamp")
FILTERS = {"Task": "TaskSubtype = 'Call'"}
PERSON_PREFIXES = ("003", "00Q")

_encode = msgspec.json.Encoder().encode


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal (unquoted, UTC, milliseconds)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_datetime(value: str | None) -> datetime | None:
    """'2026-08-17T13:14:35.000+0000' (what the REST API returns) -> aware UTC datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def task_started_at(task: dict) -> datetime | None:
    """A Task has no start time: CTI adapters log it when the call ends, with its length."""
    created = parse_datetime(task.get("CreatedDate"))
    return None if created is None else created - timedelta(seconds=task.get("CallDurationInSeconds") or 0)


def incremental_soql(sobject: str, since: datetime) -> str:
    """Every record (deleted too, through queryAll) modified at or after `since`, in
    (SystemModstamp, Id) order so a watermark taken after any page is a clean cut."""
    conditions = [FILTERS[sobject]] if sobject in FILTERS else []
    conditions.append(f"SystemModstamp >= {soql_datetime(since)}")
    fields = ", ".join((*SYSTEM_FIELDS, *FIELDS[sobject]))
    return f"SELECT {fields} FROM {sobject} WHERE {' AND '.join(conditions)} ORDER BY SystemModstamp, Id"


def resume_from(watermark: datetime | None, lookback_s: int) -> datetime:
    return EPOCH if watermark is None else max(EPOCH, watermark - timedelta(seconds=lookback_s))


class MirrorRow(msgspec.Struct, frozen=True):
    """One record as the mirror keeps it: the fields read, plus the keys to find it by."""

    sobject: str
    record_id: str
    system_modstamp: int  # micros
    is_deleted: bool
    call_id: str | None  # Task / VoiceCall: the call it describes
    who_id: str | None  # Task / VoiceCall: the person; Lead: the Contact it became
    what_id: str | None  # Task / VoiceCall: related record; Contact / Opportunity: AccountId
    started_at: int | None
    body: bytes

    def fields(self) -> dict:
        return msgspec.json.decode(self.body)


def _person_id(record_id: str | None) -> str | None:
    return record_id if record_id and record_id[:3] in PERSON_PREFIXES else None


def call_key(sobject: str, record: dict) -> str:
    """The call a Task or VoiceCall describes: the CTI call id when the telephony system
    stored one (Task.CallObject = VoiceCall.VendorCallKey), else the Task's own id, which
    a VoiceCall without a vendor key names through ActivityId."""
    if sobject == "Task":
        return record.get("CallObject") or f"sf-{record['Id']}"
    return record.get("VendorCallKey") or f"sf-{record.get('ActivityId') or record['Id']}"


def mirror_row(sobject: str, record: dict) -> MirrorRow:
    fields = {name: record.get(name) for name in FIELDS[sobject]}
    call_id = who_id = what_id = started_at = None
    if sobject == "Task":
        call_id, who_id, what_id = call_key(sobject, record), _person_id(record.get("WhoId")), record.get("WhatId")
        start = task_started_at(record)
        started_at = micros(start) if start else None
    elif sobject == "VoiceCall":
        related = record.get("RelatedRecordId")
        call_id, who_id = call_key(sobject, record), _person_id(related)
        what_id = None if who_id else related
        start = parse_datetime(record.get("CallStartDateTime"))
        started_at = micros(start) if start else None
    elif sobject == "Lead":
        who_id = record.get("ConvertedContactId")
    elif sobject in ("Contact", "Opportunity"):
        what_id = record.get("AccountId")
    return MirrorRow(
        sobject=sobject,
        record_id=record["Id"],
        system_modstamp=micros(parse_datetime(record["SystemModstamp"])),
        is_deleted=bool(record.get("IsDeleted")),
        call_id=call_id,
        who_id=who_id,
        what_id=what_id,
        started_at=started_at,
        body=_encode(fields),
    )
