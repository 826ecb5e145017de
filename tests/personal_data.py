"""The test's known personal data, in the spellings people use, and how to find any of
it in an answer: shared by the disclosure scan and the event-payload test."""

from __future__ import annotations

import re

PHONE_DIGITS = {"4155550187", "6285550144", "3325550166"}  # the person's, in notes, unknown
EMAIL_LOCALS = {"kim.park", "kpark.home", "nobody.here"}
RECORDING = "https://recordings.example.com/r/kim-park-777"
PHONE_FORMATS = [
    "+14155550187",
    "+1 415 555 0187",
    "(415) 555-0187",
    "415.555.0187",
    "415-555-0187",
    "4155550187",
    "1-415-555-0187",
    "00 1 415 555 0187",
    "011 1 415 555 0187",
]
EMAIL_FORMATS = ["kim.park@contoso.com", "Kim.Park@Contoso.com", "KIM.PARK@CONTOSO.COM"]
UNKNOWN = ["+1 332 555 0166", "(332) 555-0166", "nobody.here@contoso.com"]
CONTACT = "0035e00000KPark"
WHO = {
    "salesforce_id": CONTACT,
    "phone": "(415) 555-0187",
    "email": "Kim.Park@Contoso.com",
    "first_name": "Kim",
    "last_name": "Park",
    "company": "Contoso",
    "title": "CFO",
}
NOTES = "Mobile 628.555.0144, home email kpark.home@gmail.com; budget 40 seats."
_DIGIT_RUN = re.compile(r"\+?\d[\d\s().\-/]{5,}\d")


def leaks(text: str, recordings: bool) -> list[str]:
    """Which of the test's phones (in any spelling), emails and (unless allowed) recording
    links the text carries."""
    found = []
    lowered = text.lower()
    found += [local for local in EMAIL_LOCALS if local in lowered]
    for run in _DIGIT_RUN.findall(text.replace("\\u00a0", " ")):
        digits = re.sub(r"\D", "", run)
        found += [number for number in PHONE_DIGITS if number in digits]
    if not recordings and "kim-park-777" in lowered:
        found.append("recording")
    return found
