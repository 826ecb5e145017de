"""How personal data looks to a key that may not see it. Pure."""

from __future__ import annotations

import re

from contextsvc.privacy.detect import EMAIL, find_phones

MASK = "***"
_DIGIT = re.compile(r"\d")


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
    if "@" in text:
        text = EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    for span in reversed(find_phones(text, region)):
        text = text[: span.start] + mask_phone(span.e164) + text[span.end :]
    return text
