"""The one rule for what an API key may see, decided from its scopes. Pure.

Every surface (context JSON and prompt, the agent action, MCP tools, the unified-person
view, the quarantine, error bodies) asks a Disclosure, never the scopes themselves:

- `pii:read` (or `admin`): phone numbers and email addresses in clear — in identifiers,
  free text (notes, dispositions as typed, names), quarantined bodies and error messages.
  Without it they are masked (`***-0142`, `b***@acme.com`) and quarantined bodies are
  withheld.
- `recordings:read` (or `admin`): recording links.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from contextsvc.privacy.masks import mask_email, mask_phone, mask_text

_OPAQUE_ID = re.compile(r"^(?:ind_[0-9a-f]{20}|seg_[0-9a-f]+|act_[0-9a-f]+)$")


class Disclosure(msgspec.Struct, frozen=True):
    pii: bool = True  # phone numbers and email addresses in clear
    recordings: bool = True  # recording_url of each call
    notes_max_chars: int = 280  # 0: no notes at all
    region: str = "US"  # how to read phone numbers written without a country code

    @classmethod
    def for_scopes(cls, scopes: frozenset[str], notes_max_chars: int = 280, region: str = "US") -> Disclosure:
        admin = "admin" in scopes
        return cls(admin or "pii:read" in scopes, admin or "recordings:read" in scopes, notes_max_chars, region)

    def text(self, value: str | None) -> str | None:
        """Free text as this key may see it."""
        if value is None or self.pii:
            return value
        return mask_text(value, self.region)

    def phone(self, value: str) -> str:
        return value if self.pii else mask_phone(value)

    def email(self, value: str) -> str:
        return value if self.pii else mask_email(value)

    def recording(self, url: str | None) -> str | None:
        return url if self.recordings else None

    def value(self, value: Any) -> Any:
        """Any JSON-like value (error details, evidence) with its free text masked; the
        service's own opaque ids are left as they are (random hex can look like digits)."""
        if self.pii:
            return value
        if isinstance(value, str):
            return value if _OPAQUE_ID.match(value) else mask_text(value, self.region)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value


FULL = Disclosure()
MASKED = Disclosure(pii=False, recordings=False)
