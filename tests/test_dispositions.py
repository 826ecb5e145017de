"""The disposition picklist shipped in seed/."""

import pytest

from contextsvc.ingest.dispositions import Picklist
from contextsvc.settings import REPO_ROOT

REQUIRED = [
    "no_answer",
    "busy",
    "bad_number",
    "voicemail_left",
    "voicemail_no_message",
    "gatekeeper",
    "wrong_person",
    "hung_up",
    "not_interested",
    "call_back_later",
    "send_info",
    "referral",
    "interested",
    "meeting_booked",
    "do_not_call",
    "abandoned",
    "resolved",
    "transferred",
]
CONNECTS = {
    "hung_up",
    "not_interested",
    "call_back_later",
    "send_info",
    "referral",
    "interested",
    "meeting_booked",
    "do_not_call",
    "resolved",
    "transferred",
}


@pytest.fixture(scope="module")
def picklist():
    return Picklist.load(REPO_ROOT / "seed" / "dispositions.toml")


def test_every_required_code_is_present(picklist):
    assert set(REQUIRED) <= set(picklist.codes)


def test_connect_flag_is_set_exactly_on_right_party_conversations(picklist):
    assert {d.code for d in picklist.by_code.values() if d.connect} == CONNECTS


def test_semantic_flags(picklist):
    flags = picklist.by_code
    assert flags["meeting_booked"].meeting and flags["meeting_booked"].positive
    assert flags["do_not_call"].do_not_call and flags["do_not_call"].negative
    assert flags["voicemail_left"].voicemail and not flags["voicemail_left"].human_answered
    assert flags["bad_number"].bad_number
    assert flags["call_back_later"].callback
    assert flags["gatekeeper"].human_answered and not flags["gatekeeper"].connect


@pytest.mark.parametrize(
    "text, code",
    [
        ("Left VM", "voicemail_left"),
        ("left-vm", "voicemail_left"),
        ("Left Voicemail", "voicemail_left"),
        ("No Answer", "no_answer"),
        ("NO ANSWER.", "no_answer"),
        ("Not Interested", "not_interested"),
        ("Don't call again", "do_not_call"),
        ("Wrong Number", "bad_number"),
        ("Demo booked", "meeting_booked"),
        ("meeting_booked", "meeting_booked"),
        ("Call back later", "call_back_later"),
    ],
)
def test_free_text_maps_through_aliases(picklist, text, code):
    assert picklist.match(text) == code


def test_unknown_text_maps_to_nothing(picklist):
    assert picklist.match("Spoke to his dog") is None


def test_an_alias_to_an_unknown_code_is_refused():
    from contextsvc.ingest.dispositions import Disposition

    with pytest.raises(ValueError):
        Picklist([Disposition("busy", "Busy")], {"engaged": "bussy"})
