"""A standby server on the same database (CONTEXTSVC_STANDBY): not ready and refusing
work with 503 + Retry-After while another process writes; after a kill -9 of that process
it takes over within the leader timeout, and every call the first one acknowledged is
there."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.helpers import KEYS, call_event
from tests.live import kill_group, live_server

pytestmark = pytest.mark.live
WRITER = {"Authorization": "Bearer writer-key"}
READER = {"Authorization": "Bearer reader-key"}
PHONE = "+14155550142"


def test_a_standby_waits_then_takes_over_after_a_kill_with_every_acknowledged_call(database_url):
    with (
        live_server(database_url, KEYS) as (primary, primary_proc),
        live_server(database_url, KEYS, wait_for="/health/live", standby="true") as (standby, _),
    ):
        ready = httpx.get(f"{standby}/health/ready")
        assert ready.status_code == 503 and "standby" in ready.json()["checks"]["writer"]
        refused = httpx.post(f"{standby}/v1/calls", json=call_event("early", who={"phone": PHONE}), headers=WRITER)
        assert refused.status_code == 503 and refused.json()["code"] == "unavailable"
        assert refused.headers["retry-after"] == "1"
        acknowledged = []
        with httpx.Client(base_url=primary, headers=WRITER, timeout=10) as client:
            for i in range(40):
                response = client.post("/v1/calls", json=call_event(f"c{i}", minutes=i, who={"phone": PHONE}))
                assert response.status_code in (200, 201), response.text
                acknowledged.append(f"c{i}")
        kill_group(primary_proc)
        killed = time.monotonic()
        while httpx.get(f"{standby}/health/ready").status_code != 200:
            assert time.monotonic() - killed < 5.0, "the standby did not take over within the leader timeout"
            time.sleep(0.05)
        took_over_s = time.monotonic() - killed
        context = httpx.get(f"{standby}/v1/context/{PHONE}", params={"recent": 50}, headers=READER)
        assert context.status_code == 200, context.text
        served = {call["call_id"] for call in context.json()["recent_calls"]}
        assert served == set(acknowledged), f"took over in {took_over_s:.2f} s"
        accepted = httpx.post(f"{standby}/v1/calls", json=call_event("after", minutes=99), headers=WRITER)
        assert accepted.status_code in (200, 201)


def test_without_standby_a_second_server_still_refuses_the_database(database_url):
    with (
        live_server(database_url, KEYS),
        pytest.raises(RuntimeError, match="another contextsvc process"),
        live_server(database_url, KEYS),
    ):
        pass
