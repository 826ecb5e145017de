"""The `call` trigger: every call that lands becomes one `call_logged` event, whatever its
outcome, with the person it resolved to and how (the live floor of the demo console)."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest

from tests.helpers import ADMIN, WRITER, call_event
from tests.live import free_port
from tests.webhook_receiver import Receiver

FAST_RETRIES = {
    "webhook_retry_base_ms": 50,
    "webhook_retry_max_ms": 200,
    "webhook_max_attempts": 100,
    **Receiver.SETTINGS,
}
ANN = {
    "salesforce_id": "0035e00000AAAAA",
    "email": "ann.lee@northwind.com",
    "first_name": "Ann",
    "last_name": "Lee",
    "company": "Northwind",
}
RAJ = {
    "salesforce_id": "00Q5e00000BBBBB",
    "phone": "+1 415 555 0101",
    "first_name": "Raj",
    "last_name": "Patel",
    "company": "Contoso",
}


@pytest.fixture
def receiver():
    receiver = Receiver(free_port())
    receiver.up()
    yield receiver
    receiver.down()


async def _events(receiver: Receiver, count: int, seconds: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + seconds
    while len(receiver.requests) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return [msgspec.json.decode(body) for _, body, status in receiver.requests if status == 204]


async def _rule(api, name: str, trigger: dict, url: str) -> None:
    body = {"name": name, "trigger": trigger, "target": {"type": "webhook", "url": url}}
    response = await api.post("/v1/activations", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text


async def test_every_call_is_one_event_with_its_person_and_how_it_was_resolved(client_for, receiver):
    async with client_for(**FAST_RETRIES) as api:
        await _rule(api, "floor", {"type": "call"}, receiver.url)
        posts = [
            call_event("c1", 0, who=ANN, disposition="no_answer"),  # a new person, an outcome with no flag
            call_event("c2", 1, who=RAJ, disposition=None),  # another new person, no disposition at all
            # Raj's number with Ann's Contact id: joins Ann, and merges Raj into her.
            call_event("c3", 2, who={"salesforce_id": ANN["salesforce_id"], "phone": "(415) 555-0101"}),
            call_event("c4", 3, who={"email": "ANN.LEE@northwind.com"}, disposition="meeting_booked"),
        ]
        for body in posts:  # one at a time, so each call's resolution sees the ones before
            assert (await api.post("/v1/calls", json=body, headers=WRITER)).status_code == 201
        events = await _events(receiver, 4)
    # One event per call. Due events are delivered concurrently, so they may arrive in any
    # order (as from any webhook source); each carries its call id.
    by_call = {e["current_value"]["call_id"]: e for e in events}
    assert sorted(by_call) == ["c1", "c2", "c3", "c4"] and len(events) == 4
    assert {e["event_type"] for e in events} == {"call_logged"} and {e["source_object"] for e in events} == {"call"}
    first, second, merging, by_email = (by_call[c]["current_value"] for c in ("c1", "c2", "c3", "c4"))
    assert first["resolution"] == {"rule": "new", "merged": []} and first["connect"] is False
    assert first["disposition"] == "no_answer" and second["disposition"] is None
    assert merging["individual_id"] == first["individual_id"]
    assert merging["resolution"]["merged"] == [{"merged_id": second["individual_id"], "rule": "phone"}]
    assert by_email["resolution"] == {"rule": "email", "merged": []} and by_email["connect"] is True
    assert by_email["individual_id"] == first["individual_id"]
    # No personal data in an event, for any receiver: no number, address, name or company.
    # The number as E.164 or as posted ("555" alone also matches a timestamp's microseconds).
    for trace in ("4155550101", "555 0101", "555-0101", "@", "Ann", "Lee", "Raj", "Patel", "Northwind", "Contoso"):
        assert trace not in str(events), trace


async def test_a_new_version_is_an_event_with_the_previous_disposition(client_for, receiver):
    """Also for call_flag rules: a version that adds a flag fires with what it replaced."""
    async with client_for(**FAST_RETRIES) as api:
        await _rule(api, "floor", {"type": "call"}, receiver.url)
        await _rule(api, "meetings", {"type": "call_flag", "flags": ["meeting"]}, receiver.url)
        first = call_event("v1", who=ANN, disposition="no_answer", updated_at="2026-11-02T15:05:00+00:00")
        again = {**first, "disposition": "meeting_booked", "updated_at": "2026-11-02T15:09:00+00:00"}
        assert (await api.post("/v1/calls", json=first, headers=WRITER)).status_code == 201
        response = await api.post("/v1/calls", json=again, headers=WRITER)
        assert response.json()["status"] == "updated", response.text
        events = await _events(receiver, 3)
    by_type = {}
    for event in events:
        by_type.setdefault(event["event_type"], []).append(event)
    assert [e["current_value"]["disposition"] for e in by_type["call_logged"]] == ["no_answer", "meeting_booked"]
    assert by_type["call_logged"][1]["previous_value"] == {"disposition": "no_answer"}
    [flagged] = by_type["call_flagged"]
    assert flagged["previous_value"] == {"disposition": "no_answer"}


async def test_without_a_call_rule_no_call_events_are_made(client_for, receiver):
    async with client_for(**FAST_RETRIES) as api:
        await _rule(api, "meetings", {"type": "call_flag", "flags": ["meeting"]}, receiver.url)
        calls = [
            call_event("a", who=ANN, disposition="no_answer"),
            call_event("b", 1, who=ANN, disposition="meeting_booked"),
        ]
        assert (await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)).status_code == 200
        events = await _events(receiver, 1)
    assert [e["event_type"] for e in events] == ["call_flagged"]
