"""Calculated insights: exact after every commit, including replaced call versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers import ADMIN, READER, WRITER

DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)


def call(call_id: str, hour: int, direction: str = "outbound", disposition: str = "no_answer", **kw) -> dict:
    return {
        "call_id": call_id,
        "direction": direction,
        "started_at": (DAY + timedelta(hours=hour)).isoformat(),
        "disposition": disposition,
        "who": {"email": f"{call_id}@x.com"},
        **kw,
    }


async def _insight(api, name: str, **params) -> dict:
    response = await api.get(f"/v1/insights/{name}", params=params, headers=READER)
    assert response.status_code == 200, response.text
    return response.json()


async def test_contact_centre_metrics_by_queue_follow_replaced_versions(api):
    calls = [
        call("i1", 10, "inbound", "resolved", queue="sales", talk_seconds=100, hold_seconds=20, duration_seconds=130),
        call("i2", 10, "inbound", "abandoned", queue="sales", hold_seconds=30, duration_seconds=30),
        call("i3", 11, "inbound", "callback_scheduled", queue="sales", hold_seconds=20, duration_seconds=20),
        call("o1", 12, "outbound", "resolved", queue="sales", talk_seconds=60, duration_seconds=70),
        call("o2", 12, "outbound", "no_answer", queue="sales"),
        call("x1", 12, "outbound", "interested"),  # no queue: not contact-centre traffic
    ]
    await api.post("/v1/calls/batch", json={"calls": calls}, headers=ADMIN)
    [sales] = (await _insight(api, "contact-centre"))["rows"]
    assert sales == {
        "queue": "sales",
        "offered": 3,
        "answered": 1,
        "abandoned": 1,
        "callback_requests": 1,
        "callbacks_completed": 1,
        "callbacks_missed": 1,
        "answer_rate": 0.3333,
        "abandonment_rate": 0.3333,
        "avg_handle_seconds": 120.0,
    }
    # The abandoned call is corrected: an agent did pick up. Counters move, nothing double counts.
    fixed = call(
        "i2",
        10,
        "inbound",
        "resolved",
        queue="sales",
        talk_seconds=200,
        hold_seconds=40,
        duration_seconds=240,
        updated_at=(DAY + timedelta(days=1)).isoformat(),
    )
    assert (await api.post("/v1/calls", json=fixed, headers=ADMIN)).json()["status"] == "updated"
    [sales] = (await _insight(api, "contact-centre"))["rows"]
    assert (sales["offered"], sales["answered"], sales["abandoned"], sales["avg_handle_seconds"]) == (3, 2, 0, 180.0)
    empty = await _insight(api, "contact-centre", **{"from": "2020-01-01", "to": "2020-01-31"})
    assert empty["rows"] == [] and empty["range"] == {"from": "2020-01-01", "to": "2020-01-31"}


async def test_connect_rate_by_hour_and_weekday(api):
    calls = [
        call("a", 9, disposition="interested"),
        call("b", 9),
        call("c", 9),
        call("d", 14, disposition="interested"),
        call("e", 14, "inbound", "resolved"),
    ]
    await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)
    by_hour = await _insight(api, "connect-rate", by="hour")
    assert by_hour["rows"] == [
        {"hour": 9, "calls": 3, "connects": 1, "connect_rate": 0.3333},
        {"hour": 14, "calls": 1, "connects": 1, "connect_rate": 1.0},
    ]
    assert by_hour["freshness"]["how"].startswith("exact")
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[DAY.weekday()]
    both = await _insight(api, "connect-rate", by="weekday", direction="")
    assert both["rows"] == [{"weekday": weekday, "calls": 5, "connects": 3, "connect_rate": 0.6}]
    bad = await api.get("/v1/insights/connect-rate", params={"by": "minute"}, headers=READER)
    assert bad.status_code == 400 and bad.json()["fields"][0]["field"] == "by"


async def test_market_insights_use_loaded_account_attributes(api):
    markets = {
        "accounts": [
            {"account_id": "0015e00000ACC01", "industry": "Retail", "region": "EMEA"},
            {"account_id": "0015e00000ACC02", "industry": "Banking", "region": "EMEA"},
        ]
    }
    assert (await api.post("/v1/accounts", json=markets, headers=ADMIN)).json() == {"loaded": 2}
    acc1, acc2 = {"account_id": "0015e00000ACC01"}, {"account_id": "0015e00000ACC02"}
    calls = [  # retail: reached at the 2nd and 4th attempt; banking: never reached
        call("r1", 1, related=acc1, who={"email": "r@x.com"}),
        call("r2", 2, "outbound", "interested", related=acc1, who={"email": "r@x.com"}),
        *(call(f"s{i}", i, related=acc1, who={"email": "s@x.com"}) for i in range(3)),
        call(
            "s3",
            4,
            "outbound",
            "meeting_booked",
            who={"email": "s@x.com"},
            related={**acc1, "opportunity_id": "0065e00000OPP01", "opportunity_stage": "Qualification"},
        ),
        call("b1", 3, related=acc2, who={"email": "b@x.com"}),
    ]
    await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)
    rows = (await _insight(api, "first-connect", by="industry"))["rows"]
    assert rows == [
        {
            "key": {"industry": "Banking"},
            "people": 1,
            "reached": 0,
            "avg_attempts_to_first_connect": None,
            "median_attempts_to_first_connect": None,
        },
        {
            "key": {"industry": "Retail"},
            "people": 2,
            "reached": 2,
            "avg_attempts_to_first_connect": 3.0,
            "median_attempts_to_first_connect": 3.0,
        },
    ]
    [velocity] = (await _insight(api, "velocity", by="region"))["rows"]
    assert velocity["key"] == {"region": "EMEA"} and velocity["people"] == 3
    assert velocity["p50"] == round(2 * 7 / 30, 2) and sum(velocity["histogram"].values()) == 3
    stages = (await _insight(api, "stage-progression"))["rows"]
    assert stages == [{"stage": "Qualification", "opportunities": 1, "avg_calls": 1.0, "median_calls": 1}]
