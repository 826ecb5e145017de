"""CallEvent: the wire type for one phone call, aligned with Salesforce Task and VoiceCall.

The field-by-field mapping to Task and VoiceCall is in docs/call-event.md.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from contextsvc.calls import AwareDatetime, Direction, Related, Seconds, ShortText


class Who(msgspec.Struct, gc=False, forbid_unknown_fields=True, omit_defaults=True):
    """The person on the other end, as the source system knows them."""

    salesforce_id: ShortText | None = None  # Contact (003…) or Lead (00Q…), 15 or 18 chars
    # The Lead this Contact was converted from: evidence that both are one person.
    converted_lead_id: ShortText | None = None
    phone: ShortText | None = None
    email: ShortText | None = None
    first_name: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    last_name: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    company: ShortText | None = None
    title: ShortText | None = None
    # IANA name (America/Chicago): where the person is, when the source knows it. The
    # strongest evidence of their local time; otherwise it is inferred (reachability/).
    time_zone: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class CallEvent(msgspec.Struct, gc=False, forbid_unknown_fields=True, omit_defaults=True):
    call_id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    direction: Direction
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    duration_seconds: Seconds | None = None
    talk_seconds: Seconds | None = None
    ring_seconds: Seconds | None = None
    hold_seconds: Seconds | None = None
    disposition: ShortText | None = None
    attempt_number: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None
    rep_id: ShortText | None = None
    queue: ShortText | None = None
    who: Who = msgspec.field(default_factory=Who)
    related: Related = msgspec.field(default_factory=Related)
    notes: Annotated[str, msgspec.Meta(max_length=32_000)] | None = None
    recording_url: Annotated[str, msgspec.Meta(max_length=2_000)] | None = None
    source: ShortText | None = None
    # Version of this call record: a newer updated_at replaces the stored call.
    updated_at: AwareDatetime | None = None
