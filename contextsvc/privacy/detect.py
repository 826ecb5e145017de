"""Personal data in free text: phone numbers and email addresses, found in one way.

Every place that looks for them (masking what a key may not see, erasure finding the
quarantined bodies that name a person) uses these two functions, so what is masked and
what is erased never disagree.

Phones: `phonenumbers.PhoneNumberMatcher` at `Leniency.POSSIBLE` in the configured
default region (CONTEXTSVC_DEFAULT_REGION). POSSIBLE accepts any digit sequence of a
possible length, not only numbers valid in today's numbering plan: masking errs on the
side of hiding a number, and test numbers such as 555-01xx are not "valid". Before the
matcher runs, the text is rewritten character for character (same length, so matches map
back onto the original): line breaks and tabs become spaces (a number wrapped over two
lines), `_` becomes `-`, and a `00` international prefix becomes `+` (the matcher knows
only the default region's own prefix, 011 in the US). Numbers written without a country
code are read in the default region; a national number of another country (UK `020 …`
with region US) is not recognised.

Emails: local part of letters, digits and `.!#$%&'*+/=?^_`{|}~-`, an `@`, and a domain of
dot-separated labels (letters, digits, inner hyphens) ending in a label of letters.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

LENIENCY = Leniency.POSSIBLE
EMAIL = re.compile(
    r"[\w.!#$%&'*+/=?^`{|}~-]+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?![\w-])",
    re.UNICODE,
)
_DIGIT = re.compile(r"\d")
_MIN_DIGITS = 7  # fewer digits than this cannot be a phone number anywhere
_SAME_LENGTH = str.maketrans({"\n": " ", "\r": " ", "\t": " ", "\v": " ", "\f": " ", "\u00a0": " ", "_": "-"})
_IDD_00 = re.compile(r"(?<![\d+])00(?=[\s.\-]?[1-9])")


class PhoneSpan:
    __slots__ = ("start", "end", "raw", "e164")

    def __init__(self, start: int, end: int, raw: str, e164: str) -> None:
        self.start, self.end, self.raw, self.e164 = start, end, raw, e164


def find_phones(text: str, region: str) -> list[PhoneSpan]:
    """Every phone number in the text, in order, with its span and E.164 form."""
    if len(_DIGIT.findall(text)) < _MIN_DIGITS:
        return []
    prepared = _IDD_00.sub("+ ", text.translate(_SAME_LENGTH))
    found = []
    for match in PhoneNumberMatcher(prepared, region, leniency=LENIENCY):
        raw = text[match.start : match.end]
        found.append(
            PhoneSpan(match.start, match.end, raw, phonenumbers.format_number(match.number, PhoneNumberFormat.E164))
        )
    return found


def find_emails(text: str) -> list[re.Match[str]]:
    return list(EMAIL.finditer(text)) if "@" in text else []


def phones_in(text: str, region: str) -> set[str]:
    """The E.164 numbers a text carries."""
    return {span.e164 for span in find_phones(text, region)}


def emails_in(text: str) -> set[str]:
    """The (lower-cased) addresses a text carries."""
    return {m.group(0).lower() for m in find_emails(text)}
