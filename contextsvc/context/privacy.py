"""A context as the caller may see it. Pure.

What a key may see is decided once, by its Disclosure (contextsvc/privacy); this module
applies it to every field of a context that can carry personal data: identifiers, the
person's name, title and company, dispositions as typed (each recent call's and the
summary's last one), notes, opportunity stages, unmapped disposition texts, recording
links. Applied to the assembled context before the prompt is rendered, so the token
count is that of the text actually served, and memoised per Disclosure (reads.py) so a
warm read pays nothing for it.
"""

from __future__ import annotations

from contextsvc.context.assemble import CallContext
from contextsvc.privacy import Disclosure


def trim(text: str, limit: int) -> str | None:
    if limit <= 0:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def redact(context: CallContext, disclosure: Disclosure) -> CallContext:
    """The context as this caller may see it (the argument is changed in place and returned)."""
    if disclosure.pii and disclosure.recordings and disclosure.notes_max_chars >= _longest_note(context):
        return context
    text = disclosure.text
    if not disclosure.pii:
        person = context.person
        ids = person.identifiers
        ids.emails = [disclosure.email(e) for e in ids.emails]
        ids.phones = [disclosure.phone(p) for p in ids.phones]
        for name in ("name", "first_name", "last_name", "title", "company"):
            setattr(person, name, text(getattr(person, name)))
        context.summary.last_disposition = text(context.summary.last_disposition)
        for record in context.related:
            record.stage = text(record.stage)
        if context.reachability is not None:  # the listed numbers are the person's own
            for listing in context.reachability.dnc_listings:
                listing.number = disclosure.phone(listing.number)
        for signal in context.signals:
            if signal.code == "on_dnc_list":
                signal.evidence = {
                    **signal.evidence,
                    "numbers": [disclosure.phone(n) for n in signal.evidence["numbers"]],
                }
        masked: dict[str, int] = {}
        for original, count in context.data_quality.unmapped_dispositions.items():
            key = text(original) or original
            masked[key] = masked.get(key, 0) + count
        context.data_quality.unmapped_dispositions = masked
    for call in context.recent_calls:
        if call.notes:
            call.notes = trim(text(call.notes) or "", disclosure.notes_max_chars)
        call.disposition_text = text(call.disposition_text)
        call.opportunity_stage = text(call.opportunity_stage)
        call.recording_url = disclosure.recording(call.recording_url)
    return context


def _longest_note(context: CallContext) -> int:
    return max((len(c.notes) for c in context.recent_calls if c.notes), default=0)
