"""Finding and masking personal data in free text: one matcher (contextsvc/privacy) for
masking and erasure, checked on a corpus of the ways people write numbers and addresses."""

from __future__ import annotations

import re

import pytest

from contextsvc.privacy import Disclosure, emails_in, mask_text, phones_in

NUMBER = "+12125550113"
# How one US number is written in notes, dispositions and CRM fields.
US_SPELLINGS = [
    "+12125550113",
    "+1 212 555 0113",
    "+1-212-555-0113",
    "+1.212.555.0113",
    "+1 (212) 555-0113",
    "(212) 555-0113",
    "(212)555-0113",
    "(212)-555-0113",
    "212-555-0113",
    "212.555.0113",
    "212 555 0113",
    "212/555-0113",
    "212_555_0113",
    "2125550113",
    "1-212-555-0113",
    "1 212 555 0113",
    "12125550113",
    "00 1 212 555 0113",  # the international prefix most of the world dials
    "001 212 555 0113",
    "0012125550113",
    "00-1-212-555-0113",
    "011 1 212 555 0113",  # the US international prefix
    "011-1-212-555-0113",
    "+1 212 555 0113 ext. 42",
    "212-555-0113 x42",
    "212-555-0113,ext 42",
    "2125550113#42",
    "212-555-\n0113",  # wrapped over two lines
    "(212)\n555-0113",
    "212 - 555 - 0113",
    "212. 555. 0113",
    "212–555–0113",  # en dashes
    "212\u00a0555\u00a00113",  # non-breaking spaces
    "2 1 2 5 5 5 0 1 1 3",
    "tel:+12125550113",
]
INTERNATIONAL = {
    "+44 20 7946 0958": "+442079460958",
    "0044 20 7946 0958": "+442079460958",
    "00-44-20-7946-0958": "+442079460958",
    "+49 30 12345678": "+493012345678",
    "0049 30 12345678": "+493012345678",
    "+33 1 23 45 67 89": "+33123456789",
}
EMAILS = [
    "dana.lee@northwind.com",
    "Dana.Lee@Northwind.COM",
    "dana.lee+crm@northwind.com",
    "dana_lee@mail.northwind.co.uk",
    "o'brien@northwind.ie",
    "josé.núñez@exämple.de",
]
NOT_PERSONAL = [
    "Met 2026-10-30 at 15:04, budget $12,000 for 40 seats.",
    "Quote Q-2026 sent; 3 licences at 99.50 each.",
    "Follow up on case 0055e00000AbCdE and opportunity 0065e00000XyZab.",
    "ind_0191f2c3d4e5f6a7b8c9 asked about pricing",
]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@pytest.mark.parametrize("spelling", US_SPELLINGS)
def test_every_spelling_of_a_us_number_is_found_and_masked(spelling):
    text = f"Left VM, call back on {spelling} after 3pm."
    assert phones_in(text, "US") == {NUMBER}
    masked = mask_text(text, "US")
    assert "2125550113" not in _digits(masked)
    assert "***-0113" in masked and masked.startswith("Left VM, call back on ") and masked.endswith(" after 3pm.")


@pytest.mark.parametrize(("spelling", "e164"), INTERNATIONAL.items())
def test_international_numbers_are_found_with_either_prefix(spelling, e164):
    text = f"Her London office: {spelling}."
    assert phones_in(text, "US") == {e164}
    assert e164[-6:] not in _digits(mask_text(text, "US"))


def test_the_region_decides_how_national_numbers_are_read():
    assert phones_in("ring 020 7946 0958", "GB") == {"+442079460958"}
    assert phones_in("ring 030 12345678", "DE") == {"+493012345678"}


def test_several_numbers_in_one_text_are_all_masked():
    text = "Main +1 212 555 0113, mobile (415) 555-0199, fax 00 44 20 7946 0958."
    assert phones_in(text, "US") == {"+12125550113", "+14155550199", "+442079460958"}
    assert mask_text(text, "US") == "Main ***-0113, mobile ***-0199, fax ***-0958."


@pytest.mark.parametrize("address", EMAILS)
def test_emails_are_found_and_masked_keeping_the_domain(address):
    text = f"Write to <{address}>; or mailto:{address}."
    assert emails_in(text) == {address.lower()}
    masked = mask_text(text, "US")
    local, _, domain = address.partition("@")
    assert local not in masked and local.lower() not in masked.lower()
    assert f"{local[0]}***@{domain}" in masked


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_dates_amounts_and_record_ids_are_left_alone(text):
    assert phones_in(text, "US") == set() and emails_in(text) == set()
    assert mask_text(text, "US") == text


def test_masking_errs_on_the_side_of_hiding():
    """A seven-digit order number could be a local phone number: it is masked too."""
    assert mask_text("order 1002003", "US") == "order ***-2003"


def test_the_disclosure_rule_follows_the_scopes():
    assert not Disclosure.for_scopes(frozenset({"context:read"})).pii
    assert Disclosure.for_scopes(frozenset({"context:read", "pii:read"})).pii
    assert Disclosure.for_scopes(frozenset({"admin"})).pii and Disclosure.for_scopes(frozenset({"admin"})).recordings
    plain = Disclosure.for_scopes(frozenset({"calls:write"}))
    assert not plain.recordings and plain.recording("https://r/1") is None
    assert plain.value({"lookup": {"value": "+12125550113"}, "candidates": ["ind_0191f2c3d4e5f6a7b8c9"]}) == {
        "lookup": {"value": "***-0113"},
        "candidates": ["ind_0191f2c3d4e5f6a7b8c9"],
    }
