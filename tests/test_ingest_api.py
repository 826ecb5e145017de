"""POST /v1/calls and /v1/calls/batch: versioning, validation, quarantine, auth."""

from __future__ import annotations

from tests.helpers import ADMIN, READER, WRITER, call_event


async def post(api, body, headers=WRITER):
    return await api.post("/v1/calls", json=body, headers=headers)


async def test_a_new_call_is_accepted_and_resolved_to_a_person(api):
    response = await post(api, call_event("c1"))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "accepted" and body["individual_id"].startswith("ind_")


async def test_resending_the_same_call_is_a_no_op(api):
    first = (await post(api, call_event("c1"))).json()
    again = await post(api, call_event("c1"))
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["individual_id"] == first["individual_id"]
    person = (await api.get(f"/v1/individuals/{first['individual_id']}", headers=READER)).json()
    assert person["calls"] == 1


async def test_a_newer_version_replaces_and_an_older_one_is_ignored(api):
    await post(api, call_event("c1", disposition=None, updated_at="2026-11-02T15:05:00Z"))
    newer = await post(api, call_event("c1", disposition="meeting_booked", updated_at="2026-11-02T16:00:00Z"))
    assert newer.json()["status"] == "updated"
    older = await post(api, call_event("c1", disposition="no_answer", updated_at="2026-11-02T15:30:00Z"))
    assert older.status_code == 200
    assert older.json()["status"] == "stale"
    assert "newer version" in older.json()["message"]


async def test_same_version_with_different_content_is_a_conflict(api):
    await post(api, call_event("c1", updated_at="2026-11-02T15:05:00Z"))
    clash = await post(api, call_event("c1", disposition="not_interested", updated_at="2026-11-02T15:05:00Z"))
    assert clash.status_code == 409
    assert clash.json()["code"] == "conflicting_replay"


async def test_naive_timestamps_are_rejected_with_the_field_named(api):
    response = await post(api, call_event("c1", started_at="2026-11-02T15:00:00"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["fields"][0]["field"] == "started_at"
    assert "timezone" in body["fields"][0]["message"]


async def test_unknown_disposition_on_the_public_api_lists_the_valid_codes(api):
    response = await post(api, call_event("c1", disposition="Spoke to his dog"))
    assert response.status_code == 422
    [error] = response.json()["fields"]
    assert error["field"] == "disposition" and error["code"] == "unknown_disposition"
    assert "meeting_booked" in error["message"] and "voicemail_left" in error["message"]


async def test_free_text_dispositions_map_through_aliases(api):
    response = await post(api, call_event("c1", disposition="Left VM"))
    assert response.status_code == 201


async def test_trusted_sources_keep_unknown_dispositions_verbatim(api):
    response = await post(api, call_event("c1", disposition="Spoke to his dog"), headers=ADMIN)
    assert response.status_code == 201
    assert (await api.get("/v1/quarantine", headers=ADMIN)).json()["items"] == []


async def test_cross_field_errors_are_all_reported(api):
    response = await post(
        api, call_event("c1", ended_at="2026-11-02T14:00:00Z", duration_seconds=10, talk_seconds=20, ring_seconds=30)
    )
    fields = {e["field"] for e in response.json()["fields"]}
    assert fields == {"ended_at", "talk_seconds", "ring_seconds"}


async def test_every_rejected_body_is_kept_in_quarantine_verbatim(api):
    bodies = [
        b'{"call_id": "q1", "direction": "sideways", "started_at": "2026-11-02T15:00:00Z"}',
        b'{"call_id": "q2", "direction": "outbound"}',
        b'{"call_id": "q3", "direction": "outbound", "started_at": "2026-11-02T15:00:00Z", "colour": "red"}',
        b"{not json",
        b'{"call_id": "q5", "direction": "outbound", "started_at": "2026-11-02T15:00:00Z", '
        b'"who": {"salesforce_id": "001000000000001"}}',
    ]
    for raw in bodies:
        response = await api.post("/v1/calls", content=raw, headers={**WRITER, "content-type": "application/json"})
        assert response.status_code == 422
        assert response.json()["details"]["quarantine_id"] >= 1
    items = (await api.get("/v1/quarantine", headers=ADMIN)).json()["items"]
    assert [i["body"].encode() for i in items] == bodies
    assert [i["reason"] for i in items] == [
        "invalid_value",
        "missing_field",
        "unknown_field",
        "malformed_json",
        "not_a_person_id",
    ]
    assert [i["errors"][0]["field"] for i in items[:3]] == ["direction", "started_at", "colour"]
    assert items[0]["call_id"] == "q1"


async def test_batch_reports_a_result_per_item_and_loses_nothing(api):
    calls = [call_event(f"b{i}", minutes=i) for i in range(5)]
    calls.append(call_event("b0"))  # duplicate of the first
    calls.append(call_event("bad", started_at="yesterday"))
    calls.append(call_event("b1", minutes=1, disposition="meeting_booked", updated_at="2026-11-03T00:00:00Z"))
    response = await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["accepted"] * 5 + ["duplicate", "rejected", "updated"]
    assert [r["index"] for r in body["results"]] == list(range(8))
    assert body["summary"] == {"accepted": 5, "duplicate": 1, "rejected": 1, "updated": 1}
    assert body["results"][6]["errors"][0]["field"] == "started_at"
    [kept] = (await api.get("/v1/quarantine", headers=ADMIN)).json()["items"]
    assert kept["channel"] == "POST /v1/calls/batch[6]" and '"yesterday"' in kept["body"]


async def test_a_malformed_batch_body_is_quarantined_whole(api):
    response = await api.post("/v1/calls/batch", json=[call_event("x")], headers=WRITER)
    assert response.status_code == 422
    [kept] = (await api.get("/v1/quarantine", headers=WRITER)).json()["items"]
    assert kept["channel"] == "POST /v1/calls/batch" and kept["call_id"] is None


async def test_batches_over_5000_items_are_refused(api):
    calls = [call_event(f"b{i}") for i in range(5001)]
    response = await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)
    assert response.status_code == 422
    assert response.json()["code"] == "batch_too_large"


async def test_replaying_a_whole_stream_changes_nothing(api):
    stream = [
        call_event(f"s{i}", minutes=i, who={"phone": f"+1212555{i % 7:04d}", "last_name": f"P{i % 7}"})
        for i in range(40)
    ]
    stream += [
        call_event(
            "s3",
            minutes=3,
            disposition="meeting_booked",
            updated_at="2026-11-05T00:00:00Z",
            who={"phone": "+12125550003", "last_name": "P3"},
        )
    ]
    first = (await api.post("/v1/calls/batch", json={"calls": stream}, headers=WRITER)).json()
    people = {r["individual_id"] for r in first["results"]}
    replay = (await api.post("/v1/calls/batch", json={"calls": stream}, headers=WRITER)).json()
    # Everything is a duplicate except s3's original version, now older than the stored one.
    assert replay["summary"] == {"duplicate": 40, "stale": 1}
    assert {r["individual_id"] for r in replay["results"]} == people
    counts = [(await api.get(f"/v1/individuals/{p}", headers=READER)).json()["calls"] for p in sorted(people)]
    assert sum(counts) == 40


async def test_out_of_order_versions_keep_the_newest(api):
    versions = ["2026-11-02T15:10:00Z", "2026-11-02T15:30:00Z", "2026-11-02T15:20:00Z", "2026-11-02T15:00:00Z"]
    dispositions = ["no_answer", "meeting_booked", "interested", "busy"]
    statuses = []
    for version, disposition in zip(versions, dispositions, strict=True):
        response = await post(api, call_event("c1", disposition=disposition, updated_at=version))
        statuses.append(response.json()["status"])
    assert statuses == ["accepted", "updated", "stale", "stale"]


# --- auth ---------------------------------------------------------------------------------


async def test_requests_without_a_key_are_401(api):
    response = await api.post("/v1/calls", json=call_event("c1"))
    assert response.status_code == 401
    assert response.json()["code"] == "missing_api_key"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_wrong_key_is_401(api):
    response = await api.post("/v1/calls", json=call_event("c1"), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"


async def test_a_key_without_the_scope_is_403(api):
    response = await api.post("/v1/calls", json=call_event("c1"), headers=READER)
    assert response.status_code == 403
    assert response.json()["details"] == {"required_scope": "calls:write"}
    response = await api.get("/v1/individuals/+12125550142", headers=WRITER)
    assert response.status_code == 403


async def test_health_is_open_and_checks_the_database(api):
    response = await api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"writer": "ok", "database": "ok", "writes": "ok"}}


async def test_unknown_routes_get_the_same_error_shape(api):
    response = await api.get("/v1/nothing-here", headers=ADMIN)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
