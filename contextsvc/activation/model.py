"""Activation rules and the events they produce. Pure.

An Occurrence is something that happened (a flagged call landed, someone entered a
segment, a quality alert was raised); a rule whose trigger matches it turns it into a
ChangeEvent for its target. Events are modelled on Salesforce Data Cloud's data-change
events (data actions): action name, event type, event time, uuid, current and previous
values, the source object — see README "Activation".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from contextsvc.ingest import OUTCOME_FLAGS

Url = Annotated[str, msgspec.Meta(pattern=r"^https?://", max_length=2000)]
CALL_FLAGS = ("connect", *OUTCOME_FLAGS)  # "high intent" is positive or meeting


class CallFlagTrigger(msgspec.Struct, tag="call_flag", tag_field="type", forbid_unknown_fields=True):
    """A call lands whose disposition carries any of these flags; with `segment_id`, only
    when the person is a member of that segment once the call has landed (e.g. a
    voicemail left for someone with high intent)."""

    flags: list[str]
    segment_id: str | None = None


class CallTrigger(msgspec.Struct, tag="call", tag_field="type", forbid_unknown_fields=True):
    """Every call that lands (a new call or a new version of one), whatever its outcome,
    with the person it resolved to and how: for live dashboards and for mirroring calls."""


class SegmentTrigger(msgspec.Struct, tag="segment", tag_field="type", forbid_unknown_fields=True):
    """Someone (or an account) enters or leaves a segment."""

    segment_id: str
    on: list[Literal["enter", "leave"]] = msgspec.field(default_factory=lambda: ["enter"])


class ThresholdTrigger(msgspec.Struct, tag="threshold", tag_field="type", forbid_unknown_fields=True):
    """An attribute crosses a threshold: the comparison turns from false to true (on ingest
    or as days pass), e.g. windows.7d.calls >= 5."""

    attribute: str
    op: str
    value: Any
    subject: Literal["individual", "account"] = "individual"


class EventTrigger(msgspec.Struct, tag="event", tag_field="type", forbid_unknown_fields=True):
    """An event another producer emits, by type (e.g. quality_alert_raised)."""

    event_type: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


Trigger = CallFlagTrigger | CallTrigger | SegmentTrigger | ThresholdTrigger | EventTrigger


class WebhookTarget(msgspec.Struct, tag="webhook", tag_field="type", forbid_unknown_fields=True):
    url: Url
    secret: Annotated[str, msgspec.Meta(min_length=16, max_length=200)] | None = None  # generated when absent


class StreamTarget(msgspec.Struct, tag="stream", tag_field="type", forbid_unknown_fields=True):
    """GET /v1/events/stream (server-sent events), for dashboards."""


ApiName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=80)]
FieldTemplate = Annotated[str, msgspec.Meta(max_length=32_000)]


class SalesforceTarget(msgspec.Struct, tag="salesforce", tag_field="type", forbid_unknown_fields=True):
    """A Salesforce record per event, its fields filled from the event (templates.py):
    a Task (or any sObject) upserted on `uuid_field`, an External ID carrying the event
    uuid, so a retried delivery never makes a second record; or, for a platform event
    (an sObject ending in __e), a message published with the uuid in `uuid_field`."""

    fields: Annotated[
        dict[ApiName, FieldTemplate | int | float | bool | None], msgspec.Meta(min_length=1, max_length=100)
    ]
    sobject: ApiName = "Task"
    uuid_field: ApiName = "Contextsvc_Event_Id__c"

    @property
    def publishes(self) -> bool:
        """A platform event: published (insert only), not upserted."""
        return self.sobject.endswith("__e")


Target = WebhookTarget | StreamTarget | SalesforceTarget


def target_type(target: Target) -> str:
    """The `type` tag of a target: webhook, stream or salesforce."""
    return str(type(target).__struct_config__.tag)


class RuleSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_ .:-]+$")]
    trigger: Trigger
    target: Target


class Occurrence(msgspec.Struct, frozen=True):
    """What happened, before any rule turns it into an event."""

    event_type: (
        str  # call_logged | call_flagged | segment_entered | segment_left | threshold_crossed | <producer's type>
    )
    source_object: str  # individual | account | call | ...
    source_id: str
    at_us: int
    current_value: dict[str, Any]
    previous_value: dict[str, Any] | None = None
    segment_id: str | None = None  # segment events: which segment
    flags: tuple[str, ...] = ()  # call events: the disposition's flags


class ChangeEvent(msgspec.Struct):
    """One event for one rule; its uuid is the idempotency key of every delivery attempt."""

    event_uuid: str  # Data Cloud: EventUuid
    action_name: str  # the rule's name (Data Cloud: ActionDeveloperName)
    event_type: str  # (EventType)
    event_time: datetime  # when the change was committed (EventPublishDateTime)
    source_object: str  # (SourceObjectDeveloperName)
    source_id: str
    current_value: dict[str, Any]  # (PayloadCurrentValue)
    previous_value: dict[str, Any] | None  # (PayloadPreviousValue)
    rule_id: str


def matches(trigger: Trigger, occurrence: Occurrence, hidden_segment_id: str | None) -> bool:
    if isinstance(trigger, CallFlagTrigger):
        return occurrence.event_type == "call_flagged" and any(f in trigger.flags for f in occurrence.flags)
    if isinstance(trigger, CallTrigger):
        return occurrence.event_type == "call_logged"
    if isinstance(trigger, SegmentTrigger):
        return occurrence.segment_id == trigger.segment_id and (
            (occurrence.event_type == "segment_entered" and "enter" in trigger.on)
            or (occurrence.event_type == "segment_left" and "leave" in trigger.on)
        )
    if isinstance(trigger, ThresholdTrigger):
        return occurrence.segment_id == hidden_segment_id and occurrence.event_type == "segment_entered"
    return occurrence.event_type == trigger.event_type
