"""Validate and normalise a CallEvent into the Call record the rest of the path uses.

Strict mode (the public API) rejects anything it cannot interpret. Lenient mode (trusted
sources: admin keys, the Salesforce connector) keeps messy values verbatim and flags them
as data-quality issues instead — CRM history is messy and still worth having.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from contextsvc.calls import Call, Person, Related
from contextsvc.errors import FieldError, ValidationFailed
from contextsvc.identity import (
    InvalidIdentifier,
    normalise_email,
    normalise_phone,
    normalise_salesforce_id,
    person_record_kind,
)
from contextsvc.ingest.dispositions import Picklist
from contextsvc.ingest.events import CallEvent
from contextsvc.timeutil import EARLIEST, LATEST, supported_utc, zone

UTC = UTC
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Ids are compared, indexed and sent back to other systems: no control characters at all.
# Free text may hold tabs and line breaks, but never NUL (PostgreSQL text refuses it).
_ID_FIELDS = ("call_id", "rep_id", "queue", "source")
_WHO_ID_FIELDS = ("salesforce_id", "converted_lead_id")
_WHO_TEXT_FIELDS = ("phone", "email", "first_name", "last_name", "company", "title")
_RELATED_ID_FIELDS = ("account_id", "opportunity_id", "case_id")


def _character_problems(event: CallEvent) -> list[FieldError]:
    found = []

    def ids(prefix: str, holder: object, names: tuple[str, ...]) -> None:
        for name in names:
            value = getattr(holder, name)
            if value is not None and _CONTROL.search(value):
                found.append(FieldError(prefix + name, "control_character", "ids may not contain control characters"))

    def texts(prefix: str, holder: object, names: tuple[str, ...]) -> None:
        for name in names:
            value = getattr(holder, name)
            if value is not None and "\x00" in value:
                found.append(FieldError(prefix + name, "nul_character", "text may not contain NUL (U+0000)"))

    ids("", event, _ID_FIELDS)
    ids("who.", event.who, _WHO_ID_FIELDS)
    ids("related.", event.related, _RELATED_ID_FIELDS)
    texts("", event, ("disposition", "notes", "recording_url"))
    texts("who.", event.who, _WHO_TEXT_FIELDS)
    texts("related.", event.related, ("opportunity_stage",))
    return found


def _when(field: str, value: datetime | None, not_after: datetime | None, errors: list[FieldError]) -> datetime | None:
    """The time in UTC if it is in the supported range and not in the future (beyond the skew)."""
    if value is None:
        return None
    utc = supported_utc(value)
    if utc is None:
        errors.append(
            FieldError(field, "out_of_range", f"{field} must lie between {EARLIEST.date()} and {LATEST.date()} (UTC)")
        )
    elif not_after is not None and utc > not_after:
        errors.append(
            FieldError(
                field,
                "in_the_future",
                f"{field} {utc.isoformat()} is later than the latest accepted, {not_after.isoformat()}",
            )
        )
        return None
    return utc


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


class Normaliser:
    def __init__(self, picklist: Picklist, default_region: str = "US") -> None:
        self.picklist = picklist
        self.default_region = default_region

    def normalise(
        self, event: CallEvent, *, strict: bool, not_after: datetime | None = None, scan_characters: bool = True
    ) -> Call:
        """not_after: the latest started_at, ended_at or updated_at accepted (the time
        received plus the allowed skew); a version from the far future would make every
        later correction of the call "stale". scan_characters=False: the caller knows the
        event holds no control character (its JSON had no escape and no DEL byte)."""
        errors: list[FieldError] = _character_problems(event) if scan_characters else []
        quality: list[str] = []

        def problem(field: str, code: str, message: str) -> None:
            if strict:
                errors.append(FieldError(field, code, message))
            else:
                quality.append(code)

        started_at = _when("started_at", event.started_at, not_after, errors)
        ended_at = _when("ended_at", event.ended_at, not_after, errors)
        version = _when("updated_at", event.updated_at, not_after, errors)
        if ended_at is not None and started_at is not None and ended_at < started_at:
            errors.append(FieldError("ended_at", "ended_before_start", "ended_at is before started_at"))
        for part in ("talk_seconds", "ring_seconds", "hold_seconds"):
            value = getattr(event, part)
            if value is not None and event.duration_seconds is not None and value > event.duration_seconds:
                errors.append(FieldError(part, "exceeds_duration", f"{part} is longer than duration_seconds"))

        disposition, disposition_text = None, _clean(event.disposition)
        if disposition_text is None:
            quality.append("disposition_missing")
        else:
            disposition = self.picklist.match(disposition_text)
            if disposition is None:
                if strict:
                    errors.append(
                        FieldError(
                            "disposition",
                            "unknown_disposition",
                            f"unknown disposition {disposition_text!r}; valid codes: " + ", ".join(self.picklist.codes),
                        )
                    )
                else:
                    quality.append("disposition_unmapped")

        who = self._person(event, problem, errors)
        if who.is_empty:
            quality.append("person_missing")

        if errors:
            raise ValidationFailed("the call event is invalid", errors)
        assert started_at is not None  # a required field: no error means it was read
        return Call(
            call_id=event.call_id.strip(),
            direction=event.direction,
            started_at=started_at,
            version=version or started_at,
            who=who,
            related=Related(
                account_id=self._record_id(event.related.account_id),
                opportunity_id=self._record_id(event.related.opportunity_id),
                opportunity_stage=_clean(event.related.opportunity_stage),
                case_id=self._record_id(event.related.case_id),
            ),
            ended_at=ended_at,
            duration_seconds=event.duration_seconds,
            talk_seconds=event.talk_seconds,
            ring_seconds=event.ring_seconds,
            hold_seconds=event.hold_seconds,
            disposition=disposition,
            disposition_text=disposition_text,
            attempt_number=event.attempt_number,
            rep_id=_clean(event.rep_id),
            queue=_clean(event.queue),
            notes=event.notes.strip() or None if event.notes else None,
            recording_url=_clean(event.recording_url),
            source=_clean(event.source),
            quality=tuple(quality),
        )

    @staticmethod
    def _record_id(raw: str | None) -> str | None:
        """Related record ids are compared as 18-char ids when they look like Salesforce ids."""
        raw = _clean(raw)
        if raw is None:
            return None
        try:
            return normalise_salesforce_id(raw)
        except InvalidIdentifier:
            return raw

    def _person(self, event: CallEvent, problem, errors: list[FieldError]) -> Person:
        raw = event.who
        fields: dict[str, str | None] = {}
        if raw.salesforce_id and raw.salesforce_id.strip():
            try:
                sfid = normalise_salesforce_id(raw.salesforce_id)
                fields["salesforce_kind"] = person_record_kind(sfid)
                fields["salesforce_id"] = sfid
            except InvalidIdentifier as exc:
                # A wrong id would link the call to the wrong person: never guessed around.
                errors.append(FieldError("who.salesforce_id", exc.code, exc.message))
        if raw.converted_lead_id and raw.converted_lead_id.strip():
            try:
                lead = normalise_salesforce_id(raw.converted_lead_id)
                if person_record_kind(lead) != "lead":
                    raise ValueError
                fields["converted_lead_id"] = lead
            except (InvalidIdentifier, ValueError):
                errors.append(FieldError("who.converted_lead_id", "not_a_lead_id", "expected a Lead id (00Q…)"))
        if raw.phone and raw.phone.strip():
            try:
                phone = normalise_phone(raw.phone, self.default_region)
                fields["phone"], fields["phone_extension"] = phone.e164, phone.extension
            except InvalidIdentifier as exc:
                problem("who.phone", exc.code, exc.message)
                fields["phone_raw"] = raw.phone.strip()
        if raw.email and raw.email.strip():
            try:
                fields["email"] = normalise_email(raw.email)
            except InvalidIdentifier as exc:
                problem("who.email", exc.code, exc.message)
        for name in ("first_name", "last_name", "company", "title"):
            fields[name] = _clean(getattr(raw, name))
        zone_name = _clean(raw.time_zone)
        if zone_name is not None:
            if zone(zone_name) is None:
                problem(
                    "who.time_zone",
                    "invalid_time_zone",
                    f"{zone_name!r} is not an IANA time zone name (e.g. America/Chicago, Europe/Berlin)",
                )
            else:
                fields["time_zone"] = zone_name
        return Person(**fields)
