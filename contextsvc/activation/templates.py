"""The record a `salesforce` target sends for an event: its field templates filled from
the event and the person it is about. Pure.

A field's value is a JSON scalar sent as it is, or a string with {placeholders} in
Python's format syntax ({{ and }} for literal braces; a format spec applies, e.g.
{action_name:.40} keeps 40 characters). A string that is one placeholder alone keeps
the value's type (a number stays a number); in a longer string every value is written
out. A field whose value comes out empty (null, or a path this event lacks) is left out,
so Salesforce's default applies (e.g. a Task without OwnerId belongs to the integration
user).

Placeholders:
- the event's own fields: event_uuid, action_name, event_type, event_time (ISO 8601 UTC),
  source_object, source_id, rule_id; `event`, the whole event as JSON text
- event_date, the event's UTC day (YYYY-MM-DD, what a Salesforce date field takes), and
  event_date+N, N days later (a Task's ActivityDate)
- current_value.<path>, previous_value.<path>: into the event's values, e.g.
  current_value.rep_id
- person.<field>: the Salesforce records of the person the event is about, as their
  profile knows them when the event is made (PERSON_FIELDS); person.salesforce_id is their
  Contact, else their Lead — the record a Task's WhoId names

Like every event, a record carries ids, codes and times, never a name, phone number,
email address or note: the template comes from an API key, whose scopes nothing here can
apply. A Task shows its person through WhoId, in Salesforce, under Salesforce's sharing.
"""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Any

import msgspec

from contextsvc.activation.model import ChangeEvent, SalesforceTarget
from contextsvc.errors import FieldError

EVENT_FIELDS = ("event_uuid", "action_name", "event_type", "event_time", "source_object", "source_id", "rule_id")
PERSON_FIELDS = ("individual_id", "salesforce_id", "contact_id", "lead_id")
MAX_DAYS = 3650
_formatter = string.Formatter()
_encode = msgspec.json.Encoder().encode


class PersonRef(msgspec.Struct, frozen=True):
    """Who an event is about, for templates (person.*): ids only."""

    individual_id: str
    contact_id: str | None = None
    lead_id: str | None = None

    @property
    def salesforce_id(self) -> str | None:
        """The record a Task names: a Contact before a Lead (a converted Lead refuses new Tasks)."""
        return self.contact_id or self.lead_id


def _day_offset(name: str) -> int | None:
    """event_date -> 0, event_date+3 -> 3; None when the name is not one of these."""
    if name == "event_date":
        return 0
    head, plus, days = name.partition("+")
    if head == "event_date" and plus and days.isdigit() and int(days) <= MAX_DAYS:
        return int(days)
    return None


def _problem(name: str) -> str | None:
    """Why a placeholder name is not one we can fill, or None."""
    root, _, rest = name.partition(".")
    if name in EVENT_FIELDS or name == "event" or _day_offset(name) is not None:
        return None
    if root in ("current_value", "previous_value") and rest and all(rest.split(".")):
        return None
    if root == "person" and rest in PERSON_FIELDS:
        return None
    return (
        f"unknown placeholder {{{name}}}: use {', '.join(EVENT_FIELDS)}, event, event_date, event_date+N "
        f"(N <= {MAX_DAYS}), current_value.<path>, previous_value.<path> or person.<{'|'.join(PERSON_FIELDS)}>"
    )


def check(target: SalesforceTarget) -> list[FieldError]:
    """Everything wrong with a target's templates, as field errors (empty: fine)."""
    errors = []
    for field, template in target.fields.items():
        where = f"target.fields.{field}"
        if field in ("Id", target.uuid_field):
            errors.append(
                FieldError(
                    where,
                    "invalid_value",
                    f"{field} is set by contextsvc (the event uuid goes in {target.uuid_field}); leave it out",
                )
            )
        if not isinstance(template, str):
            continue
        try:
            parts = list(_formatter.parse(template))
        except ValueError as exc:
            errors.append(FieldError(where, "invalid_template", f"{exc} (write {{{{ and }}}} for literal braces)"))
            continue
        for _, name, _, conversion in parts:
            if name is None:
                continue
            problem = "a placeholder needs a name" if not name else _problem(name)
            if conversion:
                problem = f"{{{name}!{conversion}}}: conversions are not supported"
            if problem:
                errors.append(FieldError(where, "invalid_template", problem))
    if not target.uuid_field.endswith("__c"):
        errors.append(
            FieldError(
                "target.uuid_field", "invalid_value", "the event uuid goes in a custom field (its API name ends in __c)"
            )
        )
    if target.sobject == "Task" and target.fields.get("TaskSubtype") == "Call":
        errors.append(
            FieldError(
                "target.fields.TaskSubtype",
                "invalid_value",
                "a Task with TaskSubtype Call would come back through the Salesforce sync as a call",
            )
        )
    return errors


def _lookup(name: str, event: ChangeEvent, person: PersonRef | None) -> Any:
    root, _, rest = name.partition(".")
    if name == "event":
        return _encode(event).decode()
    if name == "event_time":
        return event.event_time.isoformat()
    if name in EVENT_FIELDS:
        return getattr(event, name)
    days = _day_offset(name)
    if days is not None:
        return (event.event_time.date() + timedelta(days=days)).isoformat()
    if root == "person":
        return getattr(person, rest) if person is not None else None
    value: Any = event.current_value if root == "current_value" else event.previous_value
    for step in rest.split("."):
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def _text(value: Any, spec: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (dict, list)):
        value = _encode(value).decode()
    try:
        return format(value, spec)
    except (TypeError, ValueError):  # a spec for another type (".2f" on text): the value as it is
        return str(value)


def _fill(template: str, event: ChangeEvent, person: PersonRef | None) -> Any:
    parts = list(_formatter.parse(template))
    if len(parts) == 1 and not parts[0][0] and parts[0][1] and not parts[0][2]:
        value = _lookup(parts[0][1], event, person)  # one placeholder alone: the value's own type
        return _encode(value).decode() if isinstance(value, (dict, list)) else value
    out = []
    for literal, name, spec, _ in parts:
        out.append(literal)
        if name:
            out.append(_text(_lookup(name, event, person), spec or ""))
    return "".join(out) or None


def render(target: SalesforceTarget, event: ChangeEvent, person: PersonRef | None) -> dict[str, Any]:
    """The record's fields for this event (checked templates only: see check). A platform
    event carries the uuid in its body; an upsert names it in the URL instead."""
    record = {}
    for field, template in target.fields.items():
        value = _fill(template, event, person) if isinstance(template, str) else template
        if value is not None and value != "":
            record[field] = value
    if target.publishes:
        record[target.uuid_field] = event.event_uuid
    return record


def resource(target: SalesforceTarget, event_uuid: str) -> str:
    """Where the record goes, as the deliveries list shows it."""
    if target.publishes:
        return f"salesforce:{target.sobject}"
    return f"salesforce:{target.sobject}/{target.uuid_field}/{event_uuid}"
