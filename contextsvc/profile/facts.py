"""CallFact: what the profile needs from one stored call, with its disposition's meaning."""

from __future__ import annotations

import msgspec

from contextsvc.calls import Call
from contextsvc.ingest import Picklist
from contextsvc.timeutil import DAY_US, micros


class CallFact(msgspec.Struct, gc=False, frozen=True):
    call_id: str
    started_at: int  # UTC microseconds
    direction: str
    connect: bool
    human_answered: bool
    flags: tuple[str, ...]  # the OUTCOME_FLAGS this call's disposition carries
    disposition: str | None
    disposition_text: str | None
    talk_seconds: int
    duration_seconds: int | None
    rep_id: str | None
    notes: str | None
    account_id: str | None
    opportunity_id: str | None
    opportunity_stage: str | None
    case_id: str | None
    quality: tuple[str, ...]
    # who, as this call named them
    salesforce_id: str | None
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    recording_url: str | None = None
    time_zone: str | None = None  # who.time_zone (IANA), when the source named one

    @property
    def key(self) -> tuple[int, str]:
        """Calls are ordered by start time, then call_id, so ties are deterministic."""
        return (self.started_at, self.call_id)

    @property
    def day(self) -> int:
        return self.started_at // DAY_US


def fact_from_call(call: Call, picklist: Picklist) -> CallFact:
    meaning = picklist.meaning(call.disposition)
    return CallFact(
        call_id=call.call_id,
        started_at=micros(call.started_at),
        direction=call.direction,
        connect=meaning.connect,
        human_answered=meaning.human_answered,
        flags=meaning.flags,
        disposition=call.disposition,
        disposition_text=call.disposition_text,
        talk_seconds=call.talk_seconds or 0,
        duration_seconds=call.duration_seconds,
        rep_id=call.rep_id,
        notes=call.notes,
        account_id=call.related.account_id,
        opportunity_id=call.related.opportunity_id,
        opportunity_stage=call.related.opportunity_stage,
        case_id=call.related.case_id,
        quality=call.quality + (() if call.duration_seconds is not None else ("duration_missing",)),
        salesforce_id=call.who.salesforce_id,
        email=call.who.email,
        phone=call.who.phone,
        first_name=call.who.first_name,
        last_name=call.who.last_name,
        company=call.who.company,
        title=call.who.title,
        recording_url=call.recording_url,
        time_zone=call.who.time_zone,
    )
