"""GET /v1/context/{lookup}/daily: the per-day series a chart draws adds up to the context's
windows, at any as_of, and looks people up like the context does. Plus /demo's page."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from importlib.resources import files

from tests.helpers import READER, WRITER, call_event

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ANN = {
    "salesforce_id": "0035e00000AAAAA",
    "phone": "(415) 555-0101",
    "email": "ann@northwind.com",
    "first_name": "Ann",
    "last_name": "Lee",
}
DISPOSITIONS = ["no_answer", "voicemail_left", "interested", "not_interested", None]


async def _daily(api, lookup: str, **params) -> dict:
    response = await api.get(f"/v1/context/{lookup}/daily", params=params, headers=READER)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_days_add_up_to_the_windows_now_and_looking_back(api):
    rng = random.Random(7)
    calls = [
        call_event(
            f"c{i}",
            started_at=(NOW - timedelta(days=rng.uniform(0, 120))).isoformat(),
            who=ANN,
            disposition=rng.choice(DISPOSITIONS),
        )
        for i in range(60)
    ]
    assert (await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)).status_code == 200
    for as_of in (NOW, NOW - timedelta(days=33, hours=5)):  # the second one is rebuilt from the call log
        params = {"as_of": as_of.isoformat()}
        context = (await api.get("/v1/context/ann@northwind.com", params=params, headers=READER)).json()
        daily = await _daily(api, "(415) 555-0101", days=90, **params)
        assert daily["individual_id"] == context["individual_id"]
        days = daily["days"]
        assert [d["day"] for d in days] == [(as_of.date() - timedelta(days=89 - i)).isoformat() for i in range(90)]
        for window in (7, 30, 90):
            last = days[-window:]
            expected = context["windows"][f"{window}d"]
            assert sum(d["calls"] for d in last) == expected["calls"]
            assert sum(d["connects"] for d in last) == expected["connects"]
            assert sum(d["talk_seconds"] for d in last) == expected["talk_seconds"]


async def test_bad_requests_and_unknown_people_are_clear_errors(api):
    assert (await api.get("/v1/context/ann@northwind.com/daily", params={"days": 0}, headers=READER)).status_code == 400
    assert (
        await api.get("/v1/context/ann@northwind.com/daily", params={"days": 401}, headers=READER)
    ).status_code == 400
    missing = await api.get("/v1/context/nobody@example.com/daily", headers=READER)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert (await api.get("/v1/context/ann@northwind.com/daily")).status_code == 401


async def test_the_demo_page_and_its_assets_are_served_without_a_key_and_without_outside_sources(api):
    page = await api.get("/demo/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    static = files("contextsvc.demo") / "static"
    assets = ["style.css", *(f"js/{p.name}" for p in (static / "js").iterdir())]
    assert len(assets) >= 8
    for asset in assets:
        response = await api.get(f"/demo/{asset}")
        assert response.status_code == 200, asset
        text = response.text.replace("http://www.w3.org/2000/svg", "")  # a namespace name, not a fetch
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, asset  # nothing from outside
    assert (await api.get("/demo/js/nope.js")).status_code == 404
