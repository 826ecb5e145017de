"""What the connector reads from Salesforce, and how one record is filed locally.

Pure: the SOQL per sObject, and for each record the keys the mirror indexes it by
(docs/call-event.md for the fields, their meaning and what a null means).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from contextsvc.salesforce.matching import CallLink, link_key
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
        "WhoId",
        "WhatId",
        "AccountId",
        "CallType",
        "CallDurationInSeconds",
        "CallDisposition",
        "CallObject",
        "Description",
        "OwnerId",
        "CreatedDate",
    ),
    "VoiceCall": (
        "VendorCallKey",
        "CallType",
        "CallStartDateTime",
        "CallEndDateTime",
        "CallDurationInSeconds",
        "CallConnectDateTime",
        "CallAcceptDateTime",
        "CallQueuedDateTime",
        "FromPhoneNumber",
        "ToPhoneNumber",
        "RelatedRecordId",
        "ActivityId",
        "UserId",
        "QueueName",
        "CustomerHoldDuration",
        "Description",
    ),
}
SYSTEM_FIELDS = ("Id", "IsDeleted", "SystemModstamp")
FILTERS = {"Task": "TaskSubtype = 'Call'"}
PERSON_PREFIXES = ("003", "00Q")

_encode = msgspec.json.Encoder().encode


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal (unquoted, UTC, milliseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_datetime(value: str | None) -> datetime | None:
    """'2026-08-17T13:14:35.000+0000' (what the REST API returns) -> aware UTC datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


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
    who_id: str | None  # Task / VoiceCall: the person; Lead: the Contact it became
    what_id: str | None  # Task / VoiceCall: related record; Contact / Opportunity: AccountId
    started_at: int | None
    body: bytes
    link_key: str | None = None  # Task.CallObject / VoiceCall.VendorCallKey (matching.py)
    activity_id: str | None = None  # VoiceCall.ActivityId

    def fields(self) -> dict:
        return msgspec.json.decode(self.body)

    def link(self) -> CallLink:
        return CallLink(self.sobject, self.record_id, self.link_key, self.activity_id)


def _person_id(record_id: str | None) -> str | None:
    return record_id if record_id and record_id[:3] in PERSON_PREFIXES else None


def mirror_row(sobject: str, record: dict) -> MirrorRow:
    """The call a Task or VoiceCall belongs to is not decided here: it depends on the
    other records (matching.py), so the mirror assigns it when it files the row."""
    fields = {name: record.get(name) for name in FIELDS[sobject]}
    who_id = what_id = started_at = key = activity_id = None
    if sobject == "Task":
        who_id, what_id, key = _person_id(record.get("WhoId")), record.get("WhatId"), link_key(record.get("CallObject"))
        start = task_started_at(record)
        started_at = micros(start) if start else None
    elif sobject == "VoiceCall":
        related = record.get("RelatedRecordId")
        who_id, key, activity_id = _person_id(related), link_key(record.get("VendorCallKey")), record.get("ActivityId")
        what_id = None if who_id else related
        start = parse_datetime(record.get("CallStartDateTime"))
        started_at = micros(start) if start else None
    elif sobject == "Lead":
        who_id = record.get("ConvertedContactId")
    elif sobject in ("Contact", "Opportunity"):
        what_id = record.get("AccountId")
    modified = parse_datetime(record["SystemModstamp"])
    if modified is None:  # a system field Salesforce always sets: the watermark orders by it
        raise ValueError(f"{sobject} {record['Id']} has no SystemModstamp")
    return MirrorRow(
        sobject=sobject,
        record_id=record["Id"],
        system_modstamp=micros(modified),
        is_deleted=bool(record.get("IsDeleted")),
        who_id=who_id,
        what_id=what_id,
        started_at=started_at,
        body=_encode(fields),
        link_key=key,
        activity_id=activity_id or None,
    )
