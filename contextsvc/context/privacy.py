"""What a caller may see of a context: phone numbers and email addresses only with
`pii:read`, recording links only with `recordings:read`, notes cut to a set length. Pure.

Applied to the assembled context before the prompt is rendered, so the token count is
that of the text actually served, and memoised per Disclosure (reads.py) so a warm read
pays nothing for it.
"""

from __future__ import annotations

import re

import msgspec
from phonenumbers import Leniency, PhoneNumberMatcher

from contextsvc.context.assemble import CallContext

_EMAIL = re.compile(r"[\w.%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_DIGIT = re.compile(r"\d")
MASK = "***"


class Disclosure(msgspec.Struct, frozen=True):
    pii: bool = True  # phone numbers and email addresses in clear
    recordings: bool = True  # recording_url of each call
    notes_max_chars: int = 280  # 0: no notes at all
    region: str = "US"  # how to read phone numbers written without a country code


FULL = Disclosure()


def mask_email(address: str) -> str:
    """bob.smith@acme.com -> b***@acme.com (the company domain is kept: it says who they work for)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}{MASK}@{domain}"


def mask_phone(number: str) -> str:
    """+12125550142 -> ***-0142: enough to tell two numbers apart, not to dial one."""
    digits = "".join(_DIGIT.findall(number))
    return f"{MASK}-{digits[-4:]}" if len(digits) >= 4 else MASK


def mask_text(text: str, region: str) -> str:
    """Every email address and anything that could be a phone number, masked. Errs on the
    side of masking: a 7-digit order number is masked too."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    if len(_DIGIT.findall(text)) < 7:  # nothing long enough to be a phone number
        return text
    found = list(PhoneNumberMatcher(text, region, leniency=Leniency.POSSIBLE))
    for match in reversed(found):
        text = text[: match.start] + mask_phone(match.raw_string) + text[match.end :]
    return text


def trim(text: str, limit: int) -> str | None:
    if limit <= 0:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def redact(context: CallContext, disclosure: Disclosure) -> CallContext:
    """The context as this caller may see it (the argument is changed in place and returned)."""
    if disclosure.pii and disclosure.recordings and disclosure.notes_max_chars >= _longest_note(context):
        return context
    if not disclosure.pii:
        ids = context.person.identifiers
        ids.emails = [mask_email(e) for e in ids.emails]
        ids.phones = [mask_phone(p) for p in ids.phones]
        if context.reachability is not None:  # the listed numbers are the person's own
            for listing in context.reachability.dnc_listings:
                listing.number = mask_phone(listing.number)
        for signal in context.signals:
            if signal.code == "on_dnc_list":
                signal.evidence = {**signal.evidence, "numbers": [mask_phone(n) for n in signal.evidence["numbers"]]}
    for call in context.recent_calls:
        if call.notes:
            notes = call.notes if disclosure.pii else mask_text(call.notes, disclosure.region)
            call.notes = trim(notes, disclosure.notes_max_chars)
        if call.disposition_text and not disclosure.pii:
            call.disposition_text = mask_text(call.disposition_text, disclosure.region)
        if not disclosure.recordings:
            call.recording_url = None
    if not disclosure.pii:
        masked: dict[str, int] = {}
        for text, count in context.data_quality.unmapped_dispositions.items():
            key = mask_text(text, disclosure.region)
            masked[key] = masked.get(key, 0) + count
        context.data_quality.unmapped_dispositions = masked
    return context


def _longest_note(context: CallContext) -> int:
    return max((len(c.notes) for c in context.recent_calls if c.notes), default=0)
