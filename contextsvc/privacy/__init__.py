"""Personal data: finding phone numbers and emails in free text (one matcher for every
use), masking them, and the one rule deciding from a key's scopes what it may see."""

from __future__ import annotations

from contextsvc.privacy.detect import EMAIL, LENIENCY, PhoneSpan, emails_in, find_emails, find_phones, phones_in
from contextsvc.privacy.disclosure import FULL, MASKED, Disclosure
from contextsvc.privacy.masks import MASK, mask_email, mask_phone, mask_text

__all__ = [
    "Disclosure",
    "EMAIL",
    "emails_in",
    "find_emails",
    "find_phones",
    "FULL",
    "LENIENCY",
    "MASK",
    "mask_email",
    "mask_phone",
    "mask_text",
    "MASKED",
    "PhoneSpan",
    "phones_in",
]
