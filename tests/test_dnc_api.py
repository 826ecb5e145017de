"""Do-not-call lists through the API: loading in any format (JSON or CSV), idempotence,
removal, persistence across a restart, and what a context, the agent action and a
segment show for a listed person — never a stale memoised answer."""

from __future__ import annotations

from tests.helpers import ADMIN, READER, WRITER, call_event

# 16:00 UTC is 10 am in Chicago (312) in November: inside the calling window.
AS_OF = "2026-11-18T16:00:00Z"
DANA = {"phone": "(312) 555-0142", "first_name": "Dana", "last_name": "Lee", "company": "Northwind"}
SAM = {"phone": "(312) 555-0177", "first_name": "Sam", "last_name": "Ortiz", "company": "Contoso"}


async def _seed(api) -> None:
    calls = [call_event("d1", who=DANA), call_event("s1", minutes=5, who=SAM)]
    response = await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)
    assert response.status_code == 200, response.text


async def _context(api, lookup: str, headers=ADMIN, **params) -> dict:
    response = await api.get(f"/v1/context/{lookup}", params={"as_of": AS_OF, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_listed_person_shows_do_not_call_with_the_list_as_evidence(api):
    await _seed(api)
    before = await _context(api, "3125550142")  # memoised now: the load below must not be hidden by it
    assert before["reachability"]["callable_now"] is True and before["reachability"]["do_not_call"] is False
    load = {
        "list": "National DNC",
        "source": "US National Do Not Call Registry",
        "numbers": ["312-555-0142", "+1 (312) 555 0100", "bogus", "13125550101"],
    }
    response = await api.post("/v1/dnc", json=load, headers=ADMIN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["added"], body["already_listed"], body["invalid"], body["numbers_on_list"]) == (3, 0, 1, 3)
    assert body["invalid_examples"] == [{"line": 3, "value": "bogus", "reason": "invalid_phone"}]

    dana = await _context(api, "3125550142")
    reach = dana["reachability"]
    assert reach["do_not_call"] is True and reach["callable_now"] is False and reach["window_open"] is True
    assert reach["dnc_listings"] == [
        {
            "list": "National DNC",
            "source": "US National Do Not Call Registry",
            "number": "+13125550142",
            "expires_on": None,
        }
    ]
    assert dana["signals"][0]["code"] == "on_dnc_list" and dana["signals"][0]["evidence"]["lists"] == ["National DNC"]
    assert "do-not-call list 'National DNC'" in dana["prompt"]
    assert (await _context(api, "3125550177"))["reachability"]["do_not_call"] is False  # Sam is not listed

    agent = (
        await api.post("/v1/agent/call-context", json={"phone": "312 555 0142", "as_of": AS_OF}, headers=ADMIN)
    ).json()
    assert agent["do_not_call"] is True and agent["callable_now"] is False
    assert agent["local_time"] == "2026-11-18T10:00:00-06:00" and agent["time_zone"] == "America/Chicago"
    assert "on_dnc_list" in agent["signal_codes"]

    # Again: idempotent. Then the number comes off, and so does the flag.
    again = (await api.post("/v1/dnc", json=load, headers=ADMIN)).json()
    assert (again["added"], again["already_listed"], again["numbers_on_list"]) == (0, 3, 3)
    removed = await api.delete("/v1/dnc/National DNC/numbers/(312) 555-0142", headers=ADMIN)
    assert removed.status_code == 200 and removed.json() == {"list": "National DNC", "removed": 1}
    assert (await _context(api, "3125550142"))["reachability"]["do_not_call"] is False
    assert (await api.delete("/v1/dnc/National DNC/numbers/3125550142", headers=ADMIN)).status_code == 404


async def test_csv_upload_expiry_masking_and_restart(client_for):
    csv = "phone,name\n(312) 555-0177,Sam\n312.555.0188,x\n"
    async with client_for() as api:
        await _seed(api)
        response = await api.post(
            "/v1/dnc",
            params={"list": "Company DNC", "expires_on": "2026-11-19"},
            content=csv.encode(),
            headers={**ADMIN, "Content-Type": "text/csv"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["added"] == 2
        masked = await _context(api, "3125550177", headers=READER)  # no pii:read
        assert masked["reachability"]["dnc_listings"][0]["number"] == "***-0177"
        assert masked["signals"][0]["evidence"]["numbers"] == ["***-0177"]
        assert "5550177" not in str(masked)
    async with client_for() as api:  # restarted: the list was loaded from the database
        sam = await _context(api, "3125550177")
        assert sam["reachability"]["do_not_call"] is True
        assert sam["reachability"]["dnc_listings"][0]["expires_on"] == "2026-11-19"
        expired = await _context(api, "3125550177", as_of="2026-11-19T16:00:00Z")  # from that day on: not listed
        assert expired["reachability"]["do_not_call"] is False
        [summary] = (await api.get("/v1/dnc", headers=ADMIN)).json()
        assert summary["name"] == "Company DNC" and summary["numbers"] == 2
        gone = await api.delete("/v1/dnc/Company DNC", headers=ADMIN)
        assert gone.json() == {"list": "Company DNC", "removed": 2}
        assert (await _context(api, "3125550177"))["reachability"]["do_not_call"] is False


async def test_bad_uploads_are_refused_with_structured_errors(api):
    assert (await api.post("/v1/dnc", json={"list": "x", "numbers": ["a"]}, headers=READER)).status_code == 403
    none_valid = await api.post("/v1/dnc", json={"list": "x", "numbers": ["a", "b"]}, headers=ADMIN)
    assert none_valid.status_code == 422 and none_valid.json()["details"]["invalid"] == 2
    unnamed = await api.post("/v1/dnc", content=b"3125550142\n", headers={**ADMIN, "Content-Type": "text/csv"})
    assert unnamed.status_code == 422 and unnamed.json()["fields"][0]["field"] == "list"
    assert (await api.post("/v1/dnc", json={"numbers": ["3125550142"]}, headers=ADMIN)).status_code == 422
    assert (await api.delete("/v1/dnc/nothing-here", headers=ADMIN)).status_code == 404


async def test_segments_follow_dnc_lists_and_refuse_time_of_day_attributes(api):
    await _seed(api)
    spec = {"name": "Listed", "condition": {"attribute": "reachability.on_dnc_list", "op": "=", "value": True}}
    segment = (await api.post("/v1/segments", json=spec, headers=ADMIN)).json()
    assert segment["members"] == 0
    await api.post("/v1/dnc", json={"list": "National DNC", "numbers": ["3125550142"]}, headers=ADMIN)
    listed = (await api.get(f"/v1/segments/{segment['id']}", headers=ADMIN)).json()
    assert listed["members"] == 1
    context = await _context(api, "3125550142")
    assert [s["name"] for s in context["segments"]] == ["Listed"]
    now = {"name": "Callable", "condition": {"attribute": "reachability.callable_now", "op": "=", "value": True}}
    refused = await api.post("/v1/segments", json=now, headers=ADMIN)
    assert refused.status_code == 422
    assert refused.json()["fields"][0]["code"] == "attribute_not_segmentable"


async def test_who_time_zone_and_account_region_outrank_the_phone(api):
    explicit = call_event("t1", who={**DANA, "time_zone": "Europe/Paris"})
    assert (await api.post("/v1/calls", json=explicit, headers=WRITER)).status_code == 201
    reach = (await _context(api, "3125550142"))["reachability"]
    assert (reach["time_zone"], reach["time_zone_source"], reach["rule"]) == ("Europe/Paris", "call", "FR")
    bad = call_event("t2", who={**SAM, "time_zone": "Mars/Olympus"})
    response = await api.post("/v1/calls", json=bad, headers=WRITER)
    assert response.status_code == 422 and response.json()["fields"][0]["field"] == "who.time_zone"

    account = call_event("t3", who=SAM, related={"account_id": "0015e00000ACC01"})
    await api.post("/v1/calls", json=account, headers=WRITER)
    assert (await _context(api, "3125550177"))["reachability"]["time_zone_source"] == "phone"
    markets = {"accounts": [{"account_id": "0015e00000ACC01", "industry": "Retail", "region": "DE"}]}
    assert (await api.post("/v1/accounts", json=markets, headers=ADMIN)).status_code == 200
    reach = (await _context(api, "3125550177"))["reachability"]
    assert (reach["time_zone"], reach["time_zone_source"]) == ("Europe/Berlin", "account")
