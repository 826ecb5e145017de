"""Identifier normalisation: Salesforce ids, phones (E.164), emails, names, companies.

Pure functions. Each returns the normalised value or raises InvalidIdentifier with a
machine-readable code, so the caller decides whether bad input is fatal or only flagged.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import msgspec
import phonenumbers


class InvalidIdentifier(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- Salesforce ids ------------------------------------------------------------------

SALESFORCE_PERSON_PREFIXES = {"003": "contact", "00Q": "lead"}
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SFID_CHARS = re.compile(r"^[0-9A-Za-z]+$")


def _case_suffix(id15: str) -> str:
    """Salesforce's 3-char checksum: for each 5-char chunk, a bit per upper-case letter."""
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for offset, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << offset
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def _restore_case(id18: str) -> str:
    """An 18-char id is case-insensitive: its suffix says which of the first 15 are upper."""
    chars = list(id18[:15].lower())
    for chunk, suffix_char in enumerate(id18[15:].upper()):
        bits = _SUFFIX_ALPHABET.index(suffix_char)
        for offset in range(5):
            if bits & (1 << offset):
                chars[chunk * 5 + offset] = chars[chunk * 5 + offset].upper()
    return "".join(chars)


@lru_cache(maxsize=200_000)
def normalise_salesforce_id(raw: str) -> str:
    """Any 15- or 18-char Salesforce id -> its canonical 18-char form (cached: a person's
    id recurs on every one of their calls)."""
    value = raw.strip()
    if not _SFID_CHARS.match(value) or len(value) not in (15, 18):
        raise InvalidIdentifier("invalid_salesforce_id", "a Salesforce id has 15 or 18 letters and digits")
    if len(value) == 15:
        return value + _case_suffix(value)
    if any(c.upper() not in _SUFFIX_ALPHABET for c in value[15:]):
        raise InvalidIdentifier("invalid_salesforce_id", "the last 3 characters are not a valid id checksum")
    restored = _restore_case(value)
    return restored[:15] + _case_suffix(restored[:15])


def person_record_kind(id18: str) -> str:
    """'contact' or 'lead' for a person id; anything else is not a person."""
    kind = SALESFORCE_PERSON_PREFIXES.get(id18[:3])
    if kind is None:
        raise InvalidIdentifier(
            "not_a_person_id", "expected a Contact (003…) or Lead (00Q…) id, got prefix " + id18[:3]
        )
    return kind


# --- Phones --------------------------------------------------------------------------


class Phone(msgspec.Struct, gc=False, frozen=True):
    e164: str
    extension: str | None = None


_PUNCTUATION = str.maketrans("", "", " .-()/\t\u00a0")


def normalise_phone(raw: str, region: str = "US") -> Phone:
    """Any common phone format -> E.164 plus extension kept apart."""
    # Separators never change the number, so "(212) 555-0142" and "212.555.0142" share
    # one cache entry: the same numbers recur across a prospect's whole call history,
    # and phonenumbers' parse is the most expensive step of normalising a call.
    return _parse_phone(raw.translate(_PUNCTUATION), region)


@lru_cache(maxsize=200_000)
def _parse_phone(raw: str, region: str) -> Phone:
    text = raw.strip()
    if text.startswith("00"):  # international prefix written as 00 (E.123 habit in Europe)
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier("invalid_phone", f"not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidIdentifier("invalid_phone", "not a possible phone number for its country")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164=e164, extension=parsed.extension or None)


# --- Emails --------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FREE_MAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "ymail.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "mail.com",
        "zoho.com",
        "yandex.com",
        "comcast.net",
        "verizon.net",
        "att.net",
    ]
)


def normalise_email(raw: str) -> str:
    value = raw.strip().lower()
    if not _EMAIL.match(value):
        raise InvalidIdentifier("invalid_email", "an email address looks like name@domain.tld")
    return value


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[1]


def company_domain(email: str) -> str | None:
    """The email's domain when it identifies an employer (not gmail.com and the like)."""
    domain = email_domain(email)
    return None if domain in FREE_MAIL_DOMAINS else domain


# --- Names and companies -------------------------------------------------------------

_NOT_LETTER = re.compile(r"[^a-z]+")
_COMPANY_SUFFIXES = frozenset(
    [
        "inc",
        "incorporated",
        "llc",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "company",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "srl",
        "bv",
        "nv",
        "pty",
        "lp",
        "llp",
        "the",
    ]
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=100_000)
def name_key(name: str) -> str:
    """'José' / 'jose ' / "O'Brien" -> 'jose' / 'jose' / 'obrien'."""
    return _NOT_LETTER.sub("", _fold(name))


@lru_cache(maxsize=100_000)
def company_key(company: str) -> str:
    """'Acme, Inc.' / 'ACME Corporation' / 'The Acme Co' -> 'acme'."""
    words = re.split(r"[^0-9a-z]+", _fold(company).replace("&", " and "))
    kept = [w for w in words if w and w not in _COMPANY_SUFFIXES]
    return " ".join(kept)
