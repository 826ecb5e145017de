"""GET /v1/events/stream against a real server: events arrive as the call commits, and a
reconnect with Last-Event-ID replays what was missed."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from tests.helpers import call_event, url_for
from tests.live import live_server

pytestmark = pytest.mark.live  # starts a server process, a TLS fake or the simulator

KEY = {"Authorization": "Bearer k"}


def _next_event(lines) -> dict:
    event = {}
    for line in lines:
        if not line:
            if "data" in event:
                return event
            continue
        field, _, value = line.partition(":")
        if field:  # lines starting with ":" are comments (connected, keep-alive)
            event[field] = value.lstrip()
    raise AssertionError("the stream ended")


def test_the_stream_carries_flagged_calls_live_and_replays_after_a_reconnect(tmp_path):
    with (
        live_server(url_for(tmp_path / "db.sqlite"), "k") as (base, _),
        httpx.Client(base_url=base, headers=KEY, timeout=10) as client,
    ):
        rule = {
            "name": "dnc",
            "trigger": {"type": "call_flag", "flags": ["do_not_call"]},
            "target": {"type": "stream"},
        }
        assert client.post("/v1/activations", json=rule).status_code == 201
        with client.stream("GET", "/v1/events/stream") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == ": connected"
            client.post("/v1/calls", json=call_event("c1", disposition="do_not_call"))
            first = _next_event(lines)
        assert first["event"] == "call_flagged"
        payload = msgspec.json.decode(first["data"])
        assert payload["event_uuid"] == first["id"] and "do_not_call" in payload["current_value"]["flags"]
        # Missed while disconnected, replayed on reconnect.
        client.post("/v1/calls", json=call_event("c2", minutes=5, disposition="Don't call again"))
        with client.stream("GET", "/v1/events/stream", headers={"Last-Event-ID": first["id"]}) as stream:
            missed = _next_event(stream.iter_lines())
        assert msgspec.json.decode(missed["data"])["current_value"]["call_id"] == "c2"
