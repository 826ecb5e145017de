"""One call's Salesforce records -> the CallEvent a CTI adapter would have posted.

Pure. A call is its Task (TaskSubtype Call) and/or its VoiceCall; the person is the
Contact or Lead they name, with the Lead a Contact was converted from and the Account
that gives a Contact its company. The field mapping is docs/call-event.md's table.
The person's fields ride on the call's `who`, exactly as on a posted call, so identity
resolution weighs Salesforce evidence by the same rules as any other source.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from contextsvc.salesforce.records import PERSON_PREFIXES, parse_datetime, task_started_at

# CallType values: Task's picklist, and VoiceCall's of Sales Dialer and Service Cloud Voice.
DIRECTIONS = {
    "inbound": "inbound",
    "outbound": "outbound",
    "callback": "outbound",
    "internal": "internal",
    "internalcall": "internal",
    "transfer": "internal",
    "consult": "internal",
    "bridge": "internal",
    "coach": "internal",
}
# A call Task without CallType and without a VoiceCall: logged by hand, by the rep who made it.
DEFAULT_DIRECTION = "outbound"
# VoiceCall CallTypes on which FromPhoneNumber, not ToPhoneNumber, is the customer's number.
CALLER_IS_CUSTOMER = {"inbound", "callback", "transfer"}


class Loaded(msgspec.Struct, frozen=True):
    sobject: str
    record_id: str
    system_modstamp: int
    fields: dict


class CallRecords(msgspec.Struct):
    """Everything the mirror holds about one call (live records only)."""

    call_id: str
    task: Loaded | None = None
    voice: Loaded | None = None
    who: Loaded | None = None  # Contact or Lead
    converted_from: Loaded | None = None  # the Lead this Contact was converted from
    account: Loaded | None = None  # the Contact's Account (its company name)
    what: Loaded | None = None  # the Opportunity (stage) or Account the call is about

    def contributors(self) -> list[Loaded]:
        return [r for r in (self.task, self.voice, self.who, self.converted_from, self.account, self.what) if r]


def _seconds(later: datetime | None, earlier: datetime | None) -> int | None:
    if later is None or earlier is None:
        return None
    return max(0, int((later - earlier).total_seconds()))


def _mapped(value: str | None) -> str | None:
    return DIRECTIONS.get(value.strip().lower()) if isinstance(value, str) else None


def direction_of(records: CallRecords) -> tuple[str, bool]:
    """(direction, inferred). VoiceCall.CallType is never null; Task.CallType is nillable
    and a call logged by hand ("Log a Call") usually has none: such a call was made by the
    rep, so outbound, flagged `direction_inferred` rather than quarantined for lacking it."""
    voice = records.voice.fields if records.voice else {}
    task = records.task.fields if records.task else {}
    found = _mapped(voice.get("CallType")) or _mapped(task.get("CallType"))
    return (found, False) if found else (DEFAULT_DIRECTION, True)


def call_quality(records: CallRecords) -> tuple[str, ...]:
    """Data-quality flags the mapping itself knows of (the normaliser adds its own)."""
    return ("direction_inferred",) if direction_of(records)[1] else ()


def _is_person(record_id: str | None) -> bool:
    if not record_id:
        return False
    return record_id[:3] in PERSON_PREFIXES


def _dialled(voice: dict) -> str | None:
    """The customer's number on a VoiceCall: ToPhoneNumber is the agent's on inbound,
    transfer and callback calls (Object Reference), the customer's on outbound ones."""
    if not voice:
        return None
    call_type = (voice.get("CallType") or "").strip().lower()
    return voice.get("FromPhoneNumber") if call_type in CALLER_IS_CUSTOMER else voice.get("ToPhoneNumber")


def _who(records: CallRecords) -> dict:
    task = records.task.fields if records.task else {}
    voice = records.voice.fields if records.voice else {}
    who: dict = {}
    related = voice.get("RelatedRecordId")
    salesforce_id = task.get("WhoId") or (related if _is_person(related) else None)
    if salesforce_id:
        who["salesforce_id"] = salesforce_id
    person = records.who.fields if records.who else {}
    # The number actually dialled or calling in, else the record's.
    dialled = _dialled(voice)
    phone = dialled or person.get("Phone") or person.get("MobilePhone")
    company = person.get("Company") if records.who and records.who.sobject == "Lead" else None
    if records.account is not None:
        company = records.account.fields.get("Name")
    for name, value in (
        ("phone", phone),
        ("email", person.get("Email")),
        ("first_name", person.get("FirstName")),
        ("last_name", person.get("LastName")),
        ("company", company),
        ("title", person.get("Title")),
        ("converted_lead_id", records.converted_from.record_id if records.converted_from else None),
    ):
        if value:
            who[name] = value
    return who


def _related(records: CallRecords) -> dict:
    task = records.task.fields if records.task else {}
    voice_related = records.voice.fields.get("RelatedRecordId") if records.voice else None
    related: dict = {}
    what = records.what
    what_id = task.get("WhatId") or (None if _is_person(voice_related) else voice_related)
    account_id = task.get("AccountId")
    if what_id and what_id.startswith("006"):
        related["opportunity_id"] = what_id
        if what is not None:
            related["opportunity_stage"] = what.fields.get("StageName")
            account_id = account_id or what.fields.get("AccountId")
    elif what_id and what_id.startswith("500"):
        related["case_id"] = what_id
    elif what_id and what_id.startswith("001"):
        account_id = account_id or what_id
    if not account_id and records.who is not None and records.who.sobject == "Contact":
        account_id = records.who.fields.get("AccountId")
    if account_id:
        related["account_id"] = account_id
    return {k: v for k, v in related.items() if v}


def call_event(records: CallRecords) -> dict:
    """The CallEvent body (without its version, see `version_of`)."""
    task = records.task.fields if records.task else {}
    voice = records.voice.fields if records.voice else {}
    direction, _ = direction_of(records)
    duration = task.get("CallDurationInSeconds")
    if duration is None:
        duration = voice.get("CallDurationInSeconds")
    start = parse_datetime(voice.get("CallStartDateTime"))
    end = parse_datetime(voice.get("CallEndDateTime"))
    if start is None and records.task is not None:
        start = task_started_at(task)
    event: dict = {"call_id": records.call_id, "source": "salesforce", "direction": direction}
    if start is not None:
        event["started_at"] = start.isoformat()
    if end is not None:
        event["ended_at"] = end.isoformat()
    if duration is not None:
        event["duration_seconds"] = duration
    if records.voice is not None:
        answered = parse_datetime(voice.get("CallConnectDateTime") or voice.get("CallAcceptDateTime"))
        hold = voice.get("CustomerHoldDuration") or 0
        talk = _seconds(end, answered)
        event["talk_seconds"] = max(0, talk - hold) if talk is not None else 0
        if direction == "inbound":
            ring = _seconds(
                parse_datetime(voice.get("CallAcceptDateTime")), parse_datetime(voice.get("CallQueuedDateTime"))
            )
        else:
            ring = _seconds(parse_datetime(voice.get("CallConnectDateTime")), start)
        if ring is not None:
            event["ring_seconds"] = ring
        if voice.get("CustomerHoldDuration") is not None:
            event["hold_seconds"] = voice["CustomerHoldDuration"]
    for name, value in (
        ("disposition", task.get("CallDisposition")),  # VoiceCall's is a technical status
        ("rep_id", voice.get("UserId") or task.get("OwnerId")),
        ("queue", voice.get("QueueName")),
        ("notes", task.get("Description") or voice.get("Description")),
    ):
        if value:
            event[name] = value
    event["who"] = _who(records)
    event["related"] = _related(records)
    return event


def version_of(records: CallRecords, previous_version: int | None, changed: bool) -> int:
    """The call's version: the newest SystemModstamp among its records, so a change to any
    of them supersedes the stored call. When the content changed but no stamp moved past
    the version already submitted (a Contact edited before a Task but read after it), one
    microsecond past it, so the change is an update, never a conflicting replay."""
    newest = max(r.system_modstamp for r in records.contributors())
    if previous_version is not None and changed and newest <= previous_version:
        return previous_version + 1
    return newest
