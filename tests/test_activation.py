"""Activation: rules fire on flagged calls, segment changes and threshold crossings;
webhooks are signed, retried, durable across restarts, and dead-lettered visibly."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest

from contextsvc.activation.signing import verify
from tests.helpers import ADMIN, READER, WRITER, call_event, deliveries, until
from tests.live import free_port
from tests.webhook_receiver import Receiver

FAST_RETRIES = {
    "webhook_retry_base_ms": 50,
    "webhook_retry_max_ms": 200,
    "webhook_max_attempts": 100,
    **Receiver.SETTINGS,
}


@pytest.fixture
def receiver():
    receiver = Receiver(free_port())
    yield receiver
    receiver.down()


async def test_rules_are_validated(api):
    bad_flag = {"name": "x", "trigger": {"type": "call_flag", "flags": ["sold"]}, "target": {"type": "stream"}}
    response = await api.post("/v1/activations", json=bad_flag, headers=ADMIN)
    assert response.status_code == 422 and response.json()["fields"][0]["field"] == "trigger.flags"
    threshold = {
        "name": "x",
        "trigger": {"type": "threshold", "attribute": "windows.8d.calls", "op": ">=", "value": 3},
        "target": {"type": "stream"},
    }
    response = await api.post("/v1/activations", json=threshold, headers=ADMIN)
    assert response.status_code == 422 and "windows.7d.calls" in response.json()["details"]["valid_attributes"]
    no_url = {"name": "x", "trigger": {"type": "call_flag", "flags": ["meeting"]}, "target": {"type": "webhook"}}
    assert (await api.post("/v1/activations", json=no_url, headers=ADMIN)).status_code == 422
    assert (await api.post("/v1/activations", json=bad_flag, headers=READER)).status_code == 403


async def test_a_webhook_receiver_down_then_up_gets_every_event_with_stable_keys(client_for, receiver):
    receiver.fail_first = 2  # once up, it still fails twice: those events are redelivered
    async with client_for(**FAST_RETRIES) as api:
        rule = {
            "name": "meeting booked",
            "trigger": {"type": "call_flag", "flags": ["meeting"]},
            "target": {"type": "webhook", "url": receiver.url},
        }
        created = (await api.post("/v1/activations", json=rule, headers=ADMIN)).json()
        secret = created["target"]["secret"]
        assert "secret" not in (await api.get(f"/v1/activations/{created['id']}", headers=ADMIN)).json()["target"]
        calls = [
            call_event(f"m{i}", minutes=i, disposition="meeting_booked", who={"email": f"p{i}@x.com"}) for i in range(6)
        ]
        calls.append(call_event("n1", disposition="no_answer", who={"email": "q@x.com"}))
        assert (await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)).status_code == 200

        async def failed_once():
            page = await deliveries(api)
            return all(d["attempts"] >= 1 for d in page["deliveries"]) and page

        page = await until(failed_once)
        assert page["counts"] == {"pending": 6, "delivered": 0, "dead": 0}
        assert "ConnectError" in page["deliveries"][0]["last_error"]
    # Restart with the receiver still down: the outbox is durable.
    async with client_for(**FAST_RETRIES) as api:
        assert (await deliveries(api))["counts"]["pending"] == 6
        receiver.up()

        async def all_delivered():
            page = await deliveries(api)
            return page["counts"]["delivered"] == 6 and page

        page = await until(all_delivered)
        assert page, "not every event was delivered"
    keys = {d["event_uuid"] for d in page["deliveries"]}
    accepted = [(h, body) for h, body, status in receiver.requests if status == 204]
    assert sorted(h["idempotency-key"] for h, _ in accepted) == sorted(keys)  # each event once, none lost
    refused = [h["idempotency-key"] for h, _, status in receiver.requests if status == 500]
    assert len(refused) == 2 and set(refused) <= keys  # redelivered under the same key
    for headers, body in accepted:
        event = msgspec.json.decode(body)
        assert event["event_uuid"] == headers["idempotency-key"]
        assert event["event_type"] == "call_flagged" and event["action_name"] == "meeting booked"
        assert event["current_value"]["disposition"] == "meeting_booked"
        assert verify(secret, headers["x-contextsvc-timestamp"], body, headers["x-contextsvc-signature"], time.time())
        assert not verify(
            "whsec_wrong_secret_000",
            headers["x-contextsvc-timestamp"],
            body,
            headers["x-contextsvc-signature"],
            time.time(),
        )


async def test_dead_letters_are_listed_and_redriven(client_for, receiver):
    async with client_for(
        webhook_retry_base_ms=20, webhook_retry_max_ms=40, webhook_max_attempts=2, **Receiver.SETTINGS
    ) as api:
        segment = {"name": "talked", "condition": {"attribute": "summary.connects", "op": ">=", "value": 1}}
        segment_id = (await api.post("/v1/segments", json=segment, headers=ADMIN)).json()["id"]
        rule = {
            "name": "entered",
            "trigger": {"type": "segment", "segment_id": segment_id, "on": ["enter", "leave"]},
            "target": {"type": "webhook", "url": receiver.url, "secret": "a-secret-of-16-chars"},
        }
        rule_id = (await api.post("/v1/activations", json=rule, headers=ADMIN)).json()["id"]
        assert (await api.delete(f"/v1/segments/{segment_id}", headers=ADMIN)).status_code == 409
        await api.post("/v1/calls", json=call_event("c1", who={"email": "a@x.com"}), headers=WRITER)

        async def dead():
            page = (await api.get("/v1/activations/dead-letters", headers=ADMIN)).json()
            return page["deliveries"] and page

        page = await until(dead)
        [letter] = page["deliveries"]
        assert letter["attempts"] == 2 and letter["event_type"] == "segment_entered" and letter["rule_id"] == rule_id
        receiver.up()
        redriven = await api.post("/v1/activations/dead-letters/redrive", headers=ADMIN)
        assert redriven.json() == {"redriven": 1}

        async def delivered():
            return (await deliveries(api, status="delivered"))["deliveries"]

        assert await until(delivered)
    [(headers, body, _)] = receiver.requests
    assert headers["idempotency-key"] == letter["event_uuid"]
    assert msgspec.json.decode(body)["current_value"] == {"segment_id": segment_id, "member": True, "cause": "ingest"}


async def test_a_threshold_fires_once_when_crossed(client_for, receiver):
    receiver.up()
    rule = {
        "name": "busy week",
        "trigger": {"type": "threshold", "attribute": "summary.calls", "op": ">=", "value": 3},
        "target": {"type": "webhook", "url": receiver.url},
    }
    async with client_for(**Receiver.SETTINGS) as api:
        assert (await api.post("/v1/activations", json=rule, headers=ADMIN)).status_code == 201
        for i in range(5):  # crosses at the third call, stays above after
            await api.post("/v1/calls", json=call_event(f"t{i}", minutes=i, who={"email": "t@x.com"}), headers=WRITER)

        async def delivered():
            return (await deliveries(api, status="delivered"))["deliveries"]

        [delivery] = await until(delivered)
        await asyncio.sleep(0.3)
        assert len(receiver.requests) == 1 and delivery["event_type"] == "threshold_crossed"
        assert (await api.get("/v1/segments", headers=READER)).json()["segments"] == []  # its segment is hidden


def _webhook(url: str) -> dict:
    return {
        "name": "hook",
        "trigger": {"type": "call_flag", "flags": ["meeting"]},
        "target": {"type": "webhook", "url": url},
    }


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost:8443/hook",  # a name that resolves to loopback
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://192.168.1.20/hook",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "http://203.0.113.10/hook",  # plain http, outside development
    ],
)
async def test_webhooks_to_internal_addresses_are_refused_at_registration(api, url):
    response = await api.post("/v1/activations", json=_webhook(url), headers=ADMIN)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "unsafe_target" and body["fields"][0]["field"] == "target.url"
    assert (await api.get("/v1/activations", headers=ADMIN)).json()["rules"] == []


async def test_the_allow_list_admits_an_on_premise_receiver_and_nothing_else(client_for):
    async with client_for(outbound_allow="10.1.2.0/24,hooks.internal") as api:
        assert (
            await api.post("/v1/activations", json=_webhook("https://10.1.2.7/hook"), headers=ADMIN)
        ).status_code == 201
        assert (
            await api.post("/v1/activations", json=_webhook("https://10.1.3.7/hook"), headers=ADMIN)
        ).status_code == 422
        assert (
            await api.post("/v1/activations", json=_webhook("http://10.1.2.7/hook"), headers=ADMIN)
        ).status_code == 422


async def test_a_target_that_turns_internal_after_registration_is_not_called(client_for, receiver):
    """DNS can change between registration and delivery: every attempt checks again."""
    receiver.up()
    async with client_for(**FAST_RETRIES) as api:
        assert (await api.post("/v1/activations", json=_webhook(receiver.url), headers=ADMIN)).status_code == 201
        service = api.app.state.service
        service.branches.activation.outbound.networks.clear()  # as if the name now pointed inside
        await api.post("/v1/calls", json=call_event("m1", disposition="meeting_booked"), headers=WRITER)

        async def refused():
            page = await deliveries(api, status="pending")
            return [d for d in page["deliveries"] if d["attempts"] >= 1]

        [delivery] = await until(refused)
    assert delivery["last_error"].startswith("refused target: 127.0.0.1 resolves to 127.0.0.1, a loopback address")
    assert receiver.requests == []
