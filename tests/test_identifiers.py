"""Identifier normalisation: the evidence identity resolution stands on."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contextsvc.identity.identifiers import (
    InvalidIdentifier,
    company_key,
    normalise_email,
    normalise_phone,
    normalise_salesforce_id,
)
from contextsvc.identity.lookup import parse_lookup

# Every format docs/sources.md names for one New York number: NANP with parentheses,
# dots, dashes, E.123 with spaces, the 00 international prefix, bare digits, extensions.
SAME_NUMBER = [
    "(212) 555-0142",
    "(212)555-0142",
    "212.555.0142",
    "212-555-0142",
    "212 555 0142",
    "2125550142",
    "12125550142",
    "1-212-555-0142",
    "+1 212 555 0142",
    "+1-212-555-0142",
    "+12125550142",
    "001 212 555 0142",
    "0012125550142",
    " +1 (212) 555-0142 ",
]


@pytest.mark.parametrize("raw", SAME_NUMBER)
def test_every_common_format_gives_the_same_e164(raw):
    assert normalise_phone(raw, "US").e164 == "+12125550142"
    assert normalise_phone(raw, "US").extension is None


@pytest.mark.parametrize(
    "raw, ext", [("212-555-0142 x204", "204"), ("(212) 555-0142 ext. 7", "7"), ("+1 212 555 0142 ext 99", "99")]
)
def test_extensions_are_kept_apart_from_the_number(raw, ext):
    phone = normalise_phone(raw, "US")
    assert (phone.e164, phone.extension) == ("+12125550142", ext)


@pytest.mark.parametrize("raw", ["+44 20 7946 0958", "0044 20 7946 0958", "+442079460958", "0044-20-7946-0958"])
def test_international_numbers(raw):
    assert normalise_phone(raw, "US").e164 == "+442079460958"


def test_default_region_reads_national_numbers():
    assert normalise_phone("020 7946 0958", "GB").e164 == "+442079460958"


@pytest.mark.parametrize("raw", ["", "abc", "123", "555-01", "+999 1234"])
def test_garbage_is_not_a_phone(raw):
    with pytest.raises(InvalidIdentifier) as info:
        normalise_phone(raw, "US")
    assert info.value.code == "invalid_phone"


def test_fifteen_char_ids_gain_their_checksum():
    assert normalise_salesforce_id("0035e00000ABcdE") == "0035e00000ABcdEAAT"
    # The worked example from Salesforce's own help article on 15- vs 18-char ids.
    assert normalise_salesforce_id("001A0000006Vm9r") == "001A0000006Vm9rIAC"


def test_eighteen_char_ids_are_case_insensitive():
    canonical = normalise_salesforce_id("0035e00000ABcdE")
    assert normalise_salesforce_id(canonical.lower()) == canonical
    assert normalise_salesforce_id(canonical.upper()) == canonical
    assert normalise_salesforce_id(canonical) == canonical


_ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@given(st.text(alphabet=_ID_CHARS, min_size=12, max_size=12))
def test_fifteen_and_eighteen_char_forms_always_agree(body):
    id15 = "003" + body
    id18 = normalise_salesforce_id(id15)
    assert len(id18) == 18 and id18.startswith(id15)
    assert normalise_salesforce_id(id18.lower()) == id18
    assert normalise_salesforce_id(id18.swapcase()) == id18


@pytest.mark.parametrize("raw", ["003", "0035e00000ABcd", "0035e00000ABcdE!!", "0035e00000ABcdE-AA"])
def test_malformed_ids_are_rejected(raw):
    with pytest.raises(InvalidIdentifier):
        normalise_salesforce_id(raw)


def test_emails_are_trimmed_and_lower_cased():
    assert normalise_email("  Bob.Smith@ACME.com ") == "bob.smith@acme.com"
    with pytest.raises(InvalidIdentifier):
        normalise_email("bob at acme")


def test_company_suffixes_and_case_do_not_matter():
    assert company_key("Acme, Inc.") == company_key("ACME Corporation") == company_key("The Acme Co") == "acme"
    assert company_key("Acme Labs") != company_key("Acme")


@pytest.mark.parametrize(
    "text, kind",
    [
        ("ind_0660c594018daa9607ce", "individual_id"),
        ("0035e00000ABcdE", "salesforce_id"),
        ("0035E00000ABCDEAAT", "salesforce_id"),
        ("00Q5e00000XyZab", "salesforce_id"),
        ("Bob@Acme.com", "email"),
        ("(212) 555-0142", "phone"),
        ("+442079460958", "phone"),
    ],
)
def test_lookups_are_recognised_by_shape(text, kind):
    assert parse_lookup(text).kind == kind
