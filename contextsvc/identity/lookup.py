"""Parse what a client typed into a lookup key: individual id, Salesforce id, email or phone."""

from __future__ import annotations

import re

import msgspec

from contextsvc.errors import FieldError, ValidationFailed
from contextsvc.identity.identifiers import (
    SALESFORCE_PERSON_PREFIXES,
    InvalidIdentifier,
    normalise_email,
    normalise_phone,
    normalise_salesforce_id,
)

_INDIVIDUAL_ID = re.compile(r"^ind_[0-9a-f]{20}$")
_SFID_SHAPE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")


class LookupKey(msgspec.Struct, frozen=True):
    kind: str  # individual_id | salesforce_id | email | phone
    value: str


def parse_lookup(text: str, default_region: str = "US") -> LookupKey:
    raw = text.strip()
    if _INDIVIDUAL_ID.match(raw):
        return LookupKey("individual_id", raw)
    try:
        if "@" in raw:
            return LookupKey("email", normalise_email(raw))
        # Ids always contain a letter in practice; all-digit strings are phones.
        if (
            _SFID_SHAPE.match(raw)
            and raw[:3].upper() in {p.upper() for p in SALESFORCE_PERSON_PREFIXES}
            and any(c.isalpha() for c in raw[3:])
        ):
            return LookupKey("salesforce_id", normalise_salesforce_id(raw))
        return LookupKey("phone", normalise_phone(raw, default_region).e164)
    except InvalidIdentifier as exc:
        raise ValidationFailed(
            "the lookup is not an individual id, Contact/Lead id, email address or phone number",
            [FieldError("lookup", exc.code, exc.message)],
            code="invalid_lookup",
        ) from None
