"""Validate and normalise a CallEvent into the Call record the rest of the path uses.

Strict mode (the public API) rejects anything it cannot interpret. Lenient mode (trusted
sources: admin keys, the Salesforce connector) keeps messy values verbatim and flags them
as data-quality issues instead — CRM history is messy and still worth having.
"""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

from contextsvc.calls import Call, Person, Related
from contextsvc.errors import FieldError, ValidationFailed
from contextsvc.identity import InvalidIdentifier, normalise_email, normalise_phone, normalise_salesforce_id, person_record_kind
from contextsvc.ingest.dispositions import Picklist
from contextsvc.ingest.events import CallEvent
from contextsvc.timeutil import zone

UTC = timezone.utc


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


class Normaliser:
    def __init__(self, picklist: Picklist, default_region: str = "US") -> None:
        self.picklist = picklist
        self.default_region = default_region

    def normalise(self, event: CallEvent, *, strict: bool) -> Call:
        errors: list[FieldError] = []
        quality: list[str] = []

        def problem(field: str, code: str, message: str) -> None:
            if strict:
                errors.append(FieldError(field, code, message))
            else:
                quality.append(code)

        started_at = event.started_at.astimezone(UTC)
        ended_at = _utc(event.ended_at)
        if ended_at is not None and ended_at < started_at:
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
                            f"unknown disposition {disposition_text!r}; valid codes: "
                            + ", ".join(self.picklist.codes),
                        )
                    )
                else:
                    quality.append("disposition_unmapped")

        who = self._person(event, problem, errors)
        if who.is_empty:
            quality.append("person_missing")

        if errors:
            raise ValidationFailed("the call event is invalid", errors)
        return Call(
            call_id=event.call_id.strip(),
            direction=event.direction,
            started_at=started_at,
            version=_utc(event.updated_at) or started_at,
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
                problem("who.time_zone", "invalid_time_zone",
                        f"{zone_name!r} is not an IANA time zone name (e.g. America/Chicago, Europe/Berlin)")
            else:
                fields["time_zone"] = zone_name
        return Person(**fields)
