"""The core records every stage shares: a Call as the call log stores it, the Person
evidence on it, what it is related to, and the text types of the wire format.

Below ingest and identity: every package may import it, and it imports none of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True, description="ISO 8601 with a timezone")]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)]
ShortText = Annotated[str, msgspec.Meta(max_length=255)]
Direction = Literal["inbound", "outbound", "internal"]


class Related(msgspec.Struct, gc=False, forbid_unknown_fields=True, omit_defaults=True):
    account_id: ShortText | None = None
    opportunity_id: ShortText | None = None
    opportunity_stage: ShortText | None = None
    case_id: ShortText | None = None


class Person(msgspec.Struct, gc=False, omit_defaults=True, frozen=True):
    """The caller's identifiers after normalisation: the evidence identity resolution uses."""

    salesforce_id: str | None = None  # 18-char
    salesforce_kind: str | None = None  # contact | lead
    converted_lead_id: str | None = None  # 18-char Lead id
    phone: str | None = None  # E.164
    phone_extension: str | None = None
    phone_raw: str | None = None  # kept when it could not be normalised (lenient mode)
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    time_zone: str | None = None  # IANA name, validated

    @property
    def is_empty(self) -> bool:
        return not (self.salesforce_id or self.phone or self.email or self.last_name or self.first_name)


class Call(msgspec.Struct, gc=False, omit_defaults=True, frozen=True):
    """One call as stored in the call log (the source of truth)."""

    call_id: str
    direction: str
    started_at: datetime  # UTC
    version: datetime  # UTC; updated_at, or started_at when the source sent no version
    who: Person
    related: Related
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    talk_seconds: int | None = None
    ring_seconds: int | None = None
    hold_seconds: int | None = None
    disposition: str | None = None  # picklist code; None when missing or unmapped
    disposition_text: str | None = None  # what the source sent, verbatim
    attempt_number: int | None = None
    rep_id: str | None = None
    queue: str | None = None
    notes: str | None = None
    recording_url: str | None = None
    source: str | None = None
    quality: tuple[str, ...] = ()  # data-quality flags, e.g. "disposition_unmapped"


encode_call = msgspec.json.Encoder().encode
decode_call = msgspec.json.Decoder(Call).decode
