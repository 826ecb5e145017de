"""Degradation alerts on simulator traffic: one rep stops logging dispositions and linking
people from a given day. The alert must name that rep within one day of degraded data, and
clean traffic must never raise one."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import groupby

import msgspec
import pytest

from simulator.population import build_world
from simulator.scenario import load
from simulator.traffic import Traffic
from tests.helpers import READER, WRITER

SMALL = ["days=19", "population.accounts=80", "population.reps=4"]
DEGRADE_FROM = 15  # a Tuesday: scenarios start on a Monday
SEEDS = (1, 2, 3)


def scenario_days(seed: int, *overrides: str):
    scenario = load("default", [*SMALL, f"seed={seed}", *overrides])
    world = build_world(scenario)
    traffic = Traffic(world, scenario)
    calls = list(traffic.calls())
    return traffic, [
        (day, list(day_calls)) for day, day_calls in groupby(calls, key=lambda c: c.event["started_at"][:10])
    ]


async def post_day(client, day_calls) -> None:
    response = await client.post("/v1/calls/batch", json={"calls": [c.event for c in day_calls]}, headers=WRITER)
    assert response.status_code == 200 and set(response.json()["summary"]) == {"accepted"}


async def alerts(client) -> list[dict]:
    response = await client.get("/v1/quality/alerts", headers=READER)
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("seed", SEEDS)
async def test_clean_traffic_never_raises_an_alert(client_for, seed):
    _, days = scenario_days(seed)
    async with client_for() as client:
        for _, day_calls in days:
            await post_day(client, day_calls)
        assert await alerts(client) == []


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_rep_whose_logging_degrades_is_flagged_within_a_day(client_for, seed):
    traffic, days = scenario_days(seed, "degradation.rep=1", f"degradation.from_day={DEGRADE_FROM}")
    degraded_day = date.fromisoformat(traffic.degradation_truth()["from"][:10])
    rep = traffic.degraded_rep
    degraded_calls = {c.truth.call_id for _, day_calls in days for c in day_calls if c.truth.degraded}
    assert degraded_calls, "the scenario degrades nothing"
    async with client_for() as client:
        for day, day_calls in days:
            await post_day(client, day_calls)
            raised = await alerts(client)
            if date.fromisoformat(day) <= degraded_day:
                # Before degraded data, and while its first day is still open: silence.
                assert raised == []
            if date.fromisoformat(day) == degraded_day + timedelta(days=1):
                break
        # The first call of the next day closes the degraded day: the alert is there.
        on_rep = [a for a in raised if a["dimension"] == "rep" and a["value"] == rep]
        assert {a["metric"] for a in on_rep} >= {"no_disposition", "no_crm_record"}
        for alert in on_rep:
            assert alert["day"] == degraded_day.isoformat()
            assert alert["rate_now"] >= 2 * alert["rate_before"] and alert["calls_now"] >= 30
            assert alert["sample_call_ids"] and set(alert["sample_call_ids"]) <= degraded_calls
        for _, later_calls in days[days.index((day, day_calls)) + 1 :]:
            await post_day(client, later_calls)
        raised = await alerts(client)
    # Other dimensions the rep's calls feed (their queue, the source) may be flagged too,
    # but never before the degradation and never another rep; a lasting degradation is
    # reported once, not again every day.
    assert all(a["day"] >= degraded_day.isoformat() for a in raised)
    assert {a["value"] for a in raised if a["dimension"] == "rep"} == {rep}
    keys = [(a["dimension"], a["value"], a["metric"]) for a in raised]
    assert len(keys) == len(set(keys))


async def test_alerts_and_the_evaluation_point_survive_a_restart(client_for):
    traffic, days = scenario_days(1, "degradation.rep=1", f"degradation.from_day={DEGRADE_FROM}")
    split = DEGRADE_FROM + 1  # the degraded day is still open when the service restarts
    async with client_for() as client:
        for _, day_calls in days[:split]:
            await post_day(client, day_calls)
        assert await alerts(client) == []
    async with client_for() as client:
        await post_day(client, days[split][1])
        raised = await alerts(client)
        assert {a["metric"] for a in raised if a["value"] == traffic.degraded_rep} >= {
            "no_disposition",
            "no_crm_record",
        }
    async with client_for() as client:
        assert await alerts(client) == raised
        for _, day_calls in days[split + 1 :]:
            await post_day(client, day_calls)
        keys = [(a["dimension"], a["value"], a["metric"]) for a in await alerts(client)]
        assert len(keys) == len(set(keys))


async def test_an_alert_is_delivered_as_an_activation_event(client_for):
    from tests.helpers import ADMIN, deliveries, until
    from tests.live import free_port
    from tests.webhook_receiver import Receiver

    receiver = Receiver(free_port())
    receiver.up()
    try:
        traffic, days = scenario_days(SEEDS[0], "degradation.rep=1", f"degradation.from_day={DEGRADE_FROM}")
        async with client_for(**Receiver.SETTINGS) as client:
            rule = {
                "name": "logging degraded",
                "trigger": {"type": "event", "event_type": "quality_alert_raised"},
                "target": {"type": "webhook", "url": receiver.url},
            }
            assert (await client.post("/v1/activations", json=rule, headers=ADMIN)).status_code == 201
            for _, day_calls in days:
                await post_day(client, day_calls)
            stored = await alerts(client)

            async def delivered():
                page = await deliveries(client, status="delivered")
                return len(page["deliveries"]) == len(stored) and page["deliveries"]

            deliveries = await until(delivered)
    finally:
        receiver.down()
    assert stored and deliveries, "the degraded scenario must raise alerts, each delivered"
    assert {d["event_type"] for d in deliveries} == {"quality_alert_raised"}
    payloads = [msgspec.json.decode(body) for _, body, status in receiver.requests if status < 300]
    assert {p["source_id"] for p in payloads} == {str(a["id"]) for a in stored}
    rep_alert = next(p for p in payloads if p["current_value"]["dimension"] == "rep")
    assert rep_alert["current_value"]["value"] == traffic.degraded_rep and rep_alert["current_value"]["sample_call_ids"]
