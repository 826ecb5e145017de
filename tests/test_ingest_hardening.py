"""One bad item never sinks a batch; the quarantine is bounded and says what it dropped;
future versions, control characters and bodies that are not JSON are refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from tests.helpers import ADMIN, WRITER, call_event

JSON = {"content-type": "application/json"}


def _item(call_id: str, **fields) -> bytes:
    return json.dumps(call_event(call_id, **fields)).encode()


def _bad_items() -> dict[str, tuple[bytes, str, str]]:
    """reason -> (raw item, expected field, expected code)."""
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    good = _item("shape")
    return {
        "utf8": (
            good.replace(b'"rep-1"', b'"rep-\xff\xfe"').replace(b'"shape"', b'"bad-utf8"'),
            "rep_id",
            "invalid_utf8",
        ),
        "deep": (good[:-1] + b', "related": ' + b"[" * 1000 + b"]" * 1000 + b"}", "related", "too_deep"),
        "year1": (_item("bad-year1", started_at="0001-01-01T00:00:00+14:00"), "started_at", "out_of_range"),
        "year9999": (_item("bad-year9999", ended_at="9999-12-31T23:59:59-12:00"), "ended_at", "out_of_range"),
        "future": (_item("bad-future", updated_at=future), "updated_at", "in_the_future"),
        "nul": (_item("bad\u0000nul"), "call_id", "control_character"),
        "control": (_item("bad-control", rep_id="rep\u0007"), "rep_id", "control_character"),
        "nul_text": (_item("bad-nul-text", notes="a\u0000b"), "notes", "nul_character"),
        "not_object": (b"42", "body", "invalid_value"),
        "missing": (
            json.dumps({"call_id": "bad-missing", "started_at": "2026-11-02T15:00:00Z"}).encode(),
            "direction",
            "missing_field",
        ),
    }


async def test_a_1000_item_batch_stores_every_good_item_and_quarantines_each_bad_one(api):
    bad = _bad_items()
    good = [_item(f"g{n}", minutes=n) for n in range(1000 - len(bad))]
    items = good[:500] + [raw for raw, _, _ in bad.values()] + good[500:]
    response = await api.post(
        "/v1/calls/batch", content=b'{"calls": [' + b", ".join(items) + b"]}", headers={**WRITER, **JSON}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["summary"] == {"accepted": len(good), "rejected": len(bad)}
    rejected = [r for r in body["results"] if r["status"] == "rejected"]
    assert [r["index"] for r in rejected] == list(range(500, 500 + len(bad)))
    for result, (name, (_, field, code)) in zip(rejected, bad.items(), strict=True):
        assert (result["errors"][0]["field"], result["errors"][0]["code"]) == (field, code), name
        assert result["quarantine_id"] >= 1
    kept = (await api.get("/v1/quarantine", headers=ADMIN)).json()["items"]
    assert [item["reason"] for item in kept] == [code for _, _, code in bad.values()]
    utf8 = kept[0]
    assert utf8.get("body") is None and base64.b64decode(utf8["body_base64"]) == bad["utf8"][0]  # the bytes as sent
    assert kept[1]["size"] == len(bad["deep"][0]) and not kept[1]["truncated"]
    for name in ("g0", "g499", f"g{len(good) - 1}"):
        assert (await api.get(f"/v1/context/{_individual(body, name)}", headers=ADMIN)).status_code == 200
    again = await api.post(
        "/v1/calls/batch", content=b'{"calls": [' + b", ".join(items) + b"]}", headers={**WRITER, **JSON}
    )
    assert again.json()["summary"] == {"duplicate": len(good), "rejected": len(bad)}  # a retry is safe


def _individual(batch: dict, call_id: str) -> str:
    return next(r["individual_id"] for r in batch["results"] if r.get("call_id") == call_id)


async def test_only_a_body_that_is_not_a_batch_is_refused_whole(api):
    for raw in (b"[1, 2]", b'{"calls": 3}', b'{"calls": [], "extra": 1}', b"{not json", b"\xff\xfe"):
        response = await api.post("/v1/calls/batch", content=raw, headers={**WRITER, **JSON})
        assert response.status_code == 422, raw
        assert response.json()["details"]["quarantine_id"] >= 1


async def test_a_single_bad_call_is_a_422_naming_the_field(api):
    for raw, field, code in _bad_items().values():
        response = await api.post("/v1/calls", content=raw, headers={**WRITER, **JSON})
        assert response.status_code == 422, raw[:80]
        assert (response.json()["fields"][0]["field"], response.json()["fields"][0]["code"]) == (field, code)


async def test_a_version_from_the_far_future_cannot_lock_a_call(client_for):
    future = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    async with client_for(ingest_max_future_seconds=3600) as api:
        refused = await api.post("/v1/calls", json=call_event("v1", updated_at=future), headers=WRITER)
        assert refused.status_code == 422 and refused.json()["fields"][0]["code"] == "in_the_future"
        assert (
            await api.post("/v1/calls", json=call_event("v1", updated_at="2026-11-03T00:00:00Z"), headers=WRITER)
        ).status_code == 201
        corrected = await api.post(
            "/v1/calls",
            json=call_event("v1", disposition="meeting_booked", updated_at="2026-11-04T00:00:00Z"),
            headers=WRITER,
        )
        assert corrected.json()["status"] == "updated"


async def test_ingest_requires_a_json_content_type(api):
    body = json.dumps(call_event("ct")).encode()
    for media_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {**WRITER, **({"content-type": media_type} if media_type else {})}
        for path in ("/v1/calls", "/v1/calls/batch"):
            response = await api.post(path, content=body, headers=headers)
            assert response.status_code == 415, (path, media_type)
            assert response.json()["code"] == "unsupported_media_type"
    assert (
        await api.post("/v1/calls", content=body, headers={**WRITER, "content-type": "application/json; charset=utf-8"})
    ).status_code == 201
    assert (await api.get("/v1/quarantine", headers=ADMIN)).json()["items"] == []  # nothing was read


async def test_the_quarantine_keeps_a_capped_part_of_each_body_and_evicts_oldest_within_its_budget(client_for):
    async with client_for(quarantine_item_bytes=1000, quarantine_budget_bytes=5000) as api:
        big = _item("big", notes="n" * 20_000, direction="sideways")
        response = await api.post("/v1/calls", content=big, headers={**WRITER, **JSON})
        assert response.status_code == 422
        [kept] = (await api.get("/v1/quarantine", headers=ADMIN)).json()["items"]
        assert (kept["size"], kept["kept"], kept["truncated"]) == (len(big), 1000, True)
        assert kept["body"] == big[:1000].decode() and kept["call_id"] == "big"
        for n in range(10):
            await api.post(
                "/v1/calls", content=_item(f"q{n}", notes="m" * 5000, direction="sideways"), headers={**WRITER, **JSON}
            )
        page = (await api.get("/v1/quarantine", headers=ADMIN)).json()
        assert [item["call_id"] for item in page["items"]] == ["q5", "q6", "q7", "q8", "q9"]  # the newest that fit
        budget = page["budget"]
        assert budget["kept_bytes"] <= 5000 and budget["limit_bytes"] == 5000
        assert (budget["items"], budget["kept_bytes"], budget["evicted_items"], budget["evicted_bytes"]) == (
            5,
            5000,
            6,
            6000,
        )
        assert budget["last_evicted_at"] is not None


async def test_quarantine_listings_are_paged_by_bytes(client_for):
    async with client_for(quarantine_item_bytes=2000) as api:
        for n in range(6):
            await api.post(
                "/v1/calls", content=_item(f"p{n}", notes="x" * 3000, direction="sideways"), headers={**WRITER, **JSON}
            )
        seen, after, pages = [], 0, 0
        while after is not None:
            page = (await api.get("/v1/quarantine", params={"after": after, "max_bytes": 4500}, headers=ADMIN)).json()
            assert sum(item["kept"] for item in page["items"]) <= 4500
            seen += [item["call_id"] for item in page["items"]]
            after, pages = page["next_after"], pages + 1
    assert seen == [f"p{n}" for n in range(6)] and pages == 3


async def test_quarantined_bodies_are_only_for_keys_that_may_see_personal_data(api):
    body = _item(
        "pii", who={"phone": "(415) 555-0187", "email": "kim.park@contoso.com"}, disposition="call back on 415 555 0187"
    )
    response = await api.post("/v1/calls", content=body, headers={**WRITER, **JSON})
    assert response.status_code == 422
    assert "555 0187" not in response.text and "***-0187" in response.text  # the error echoes the value, masked
    [withheld] = (await api.get("/v1/quarantine", headers=WRITER)).json()["items"]
    [clear] = (await api.get("/v1/quarantine", headers=ADMIN)).json()["items"]
    assert withheld["body_withheld"] and "body" not in withheld and withheld["reason"] == "unknown_disposition"
    assert "kim.park" not in json.dumps(withheld) and "0187" in json.dumps(withheld["errors"])
    assert clear["body"] == body.decode() and not clear.get("body_withheld")
