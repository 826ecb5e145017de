"""What an event carries: the server-sent-event stream and webhooks deliver ids, picklist
codes, flags and times — never a phone number, an email address, notes or a disposition
as typed — so no key and no receiver learns personal data from them."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import call_event, until, url_for
from tests.live import free_port, live_server
from tests.personal_data import NOTES, RECORDING, WHO, leaks
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.live  # starts a server process

ADMIN = {"Authorization": "Bearer admin-key"}
MASKED = {"Authorization": "Bearer reader-key"}


def _events(stream_lines, count: int) -> list[str]:
    events, data = [], None
    for line in stream_lines:
        if line.startswith("data:"):
            data = line[5:].strip()
        elif not line and data is not None:
            events.append(data)
            data = None
            if len(events) == count:
                return events
    raise AssertionError("the stream ended")


async def test_stream_and_webhook_events_carry_no_personal_data(tmp_path):
    receiver = Receiver(free_port())
    receiver.up()
    settings = {name: str(value).lower() for name, value in Receiver.SETTINGS.items()}  # as the environment has them
    try:
        with (
            live_server(url_for(tmp_path / "events.db"), "admin-key,reader-key:context:read", **settings) as (base, _),
            httpx.Client(base_url=base, timeout=15) as client,
        ):
            for target in ({"type": "stream"}, {"type": "webhook", "url": receiver.url}):
                for rule in (
                    {"trigger": {"type": "call_flag", "flags": ["voicemail", "callback", "connect"]}},
                    {"trigger": {"type": "threshold", "attribute": "summary.calls", "op": ">=", "value": 2}},
                ):
                    body = {"name": f"{target['type']} {rule['trigger']['type']}", **rule, "target": target}
                    assert client.post("/v1/activations", json=body, headers=ADMIN).status_code == 201
            with client.stream("GET", "/v1/events/stream", headers=MASKED) as stream:
                lines = stream.iter_lines()
                assert next(lines) == ": connected"
                calls = [
                    call_event(
                        "e1",
                        who=WHO,
                        notes=NOTES,
                        recording_url=RECORDING,
                        disposition="Left VM, call back 415 555 0187",
                    ),
                    call_event("e2", minutes=5, who=WHO, notes=NOTES, disposition="call_back_later"),
                    call_event("e3", minutes=9, who=WHO, notes=NOTES, disposition="voicemail_left"),
                ]
                response = client.post("/v1/calls/batch", json={"calls": calls}, headers=ADMIN)
                assert response.json()["summary"] == {"accepted": 3}
                # e1's free text maps to no flag; e2 (callback, connect), e3 (voicemail), the threshold
                streamed = _events(lines, 3)
            await until_delivered(receiver, 3)
        assert len(receiver.requests) >= 3
        for payload in [*streamed, *(body.decode() for _, body, _ in receiver.requests)]:
            assert leaks(payload, recordings=False) == [], payload
            assert "Contoso" not in payload and "Kim" not in payload  # not even the name
    finally:
        receiver.down()


async def until_delivered(receiver: Receiver, count: int) -> None:
    async def arrived():
        return len(receiver.requests) >= count

    assert await until(arrived, 15)
