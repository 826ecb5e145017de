"""GET /v1/individuals/{lookup}: identifiers with their rules, merges, lookups after merges."""

from __future__ import annotations

from tests.helpers import ADMIN, READER, WRITER, call_event

LEAD = "00Q5e00000XyZab"
CONTACT = "0035e00000ABcdE"


async def ingest(api, *calls):
    response = await api.post("/v1/calls/batch", json={"calls": list(calls)}, headers=WRITER)
    assert response.status_code == 200, response.text
    return response.json()["results"]


async def person(api, lookup, headers=ADMIN):
    return await api.get(f"/v1/individuals/{lookup}", headers=headers)


async def test_every_identifier_finds_the_person_in_any_format(api):
    [result] = await ingest(
        api,
        call_event(
            "c1",
            who={
                "salesforce_id": CONTACT,
                "phone": "212.555.0142",
                "email": "Bob.Smith@Acme.com",
                "first_name": "Bob",
                "last_name": "Smith",
                "company": "Acme",
                "title": "CFO",
            },
        ),
    )
    individual_id = result["individual_id"]
    for lookup in [
        individual_id,
        CONTACT,
        CONTACT + "AAT",
        (CONTACT + "AAT").lower(),
        "(212) 555-0142",
        "+12125550142",
        "bob.smith@ACME.com",
    ]:
        response = await person(api, lookup)
        assert response.status_code == 200, lookup
        assert response.json()["id"] == individual_id
    body = (await person(api, individual_id)).json()
    assert (body["first_name"], body["last_name"], body["company"], body["title"]) == ("Bob", "Smith", "Acme", "CFO")
    kinds = {(i["kind"], i["value"]) for i in body["identifiers"]}
    assert {("salesforce_id", CONTACT + "AAT"), ("phone", "+12125550142"), ("email", "bob.smith@acme.com")} <= kinds
    assert all(i["rule"] == "new" and i["evidence"]["call_id"] == "c1" for i in body["identifiers"])


async def test_without_pii_read_phones_and_emails_are_masked(api):
    who = {"salesforce_id": CONTACT, "phone": "212.555.0142", "email": "Bob.Smith@Acme.com", "last_name": "Smith"}
    await ingest(api, call_event("c1", who=who), call_event("c2", who={"phone": "+1 212 555 0142"}))
    masked = (await person(api, "(212) 555-0142", READER)).json()
    kinds = {(i["kind"], i["value"], (i["display"] or "").lower()) for i in masked["identifiers"]}
    assert ("phone", "***-0142", "***-0142") in kinds and ("email", "b***@acme.com", "b***@acme.com") in kinds
    assert ("salesforce_id", CONTACT + "AAT", "contact") in kinds  # record ids are not personal data here
    text = str(masked).lower()
    assert "5550142" not in text.replace("-", "").replace(" ", "") and "bob.smith" not in text


async def test_unknown_lookups_are_404_and_garbage_is_422(api):
    missing = await person(api, "+12125550999")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    garbage = await person(api, "not a thing")
    assert garbage.status_code == 422 and garbage.json()["code"] == "invalid_lookup"


async def test_lead_conversion_merges_exactly_and_old_ids_lead_to_the_survivor(api):
    lead_calls = [
        call_event(f"l{i}", minutes=i, who={"salesforce_id": LEAD, "email": "bob@gmail.com", "last_name": "Smith"})
        for i in range(3)
    ]
    contact_calls = [
        call_event(
            f"k{i}",
            minutes=10 + i,
            who={"salesforce_id": CONTACT, "phone": "+12125550142", "first_name": "Robert", "last_name": "Smith"},
        )
        for i in range(4)
    ]
    lead_id = (await ingest(api, *lead_calls))[0]["individual_id"]
    contact_id = (await ingest(api, *contact_calls))[0]["individual_id"]
    assert lead_id != contact_id
    [converted] = await ingest(
        api, call_event("k9", minutes=30, who={"salesforce_id": CONTACT, "converted_lead_id": LEAD})
    )
    survivor = converted["individual_id"]
    assert survivor == min(lead_id, contact_id)
    merged_away = max(lead_id, contact_id)

    body = (await person(api, survivor)).json()
    assert body["calls"] == 3 + 4 + 1  # every call of both, once
    assert body["merged_ids"] == [merged_away]
    [merge] = body["merges"]
    assert merge["rule"] == "lead_conversion" and merge["evidence"]["lead_id"].startswith(LEAD)
    assert {i["linked_to"] for i in body["identifiers"]} == {lead_id, contact_id}

    for lookup in [merged_away, LEAD, CONTACT, "bob@gmail.com", "+12125550142"]:
        response = (await person(api, lookup)).json()
        assert response["id"] == survivor, lookup
    assert (await person(api, merged_away)).json()["requested_id"] == merged_away


async def test_a_shared_line_lookup_explains_the_ambiguity(api):
    board = "+12125550000"
    await ingest(
        api,
        *[
            call_event(f"c{i}", who={"phone": board, "first_name": first, "last_name": last})
            for i, (first, last) in enumerate([("Ann", "Lee"), ("Raj", "Patel")])
        ],
    )
    response = await person(api, board)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "ambiguous_lookup" and len(body["details"]["candidates"]) == 2


async def test_identity_survives_a_restart(client_for):
    async with client_for() as api:
        [first] = await ingest(
            api,
            call_event(
                "c1", who={"phone": "+12125550142", "first_name": "Bob", "last_name": "Smith", "company": "Acme"}
            ),
        )
    async with client_for() as api:  # a new process on the same database
        [again] = await ingest(api, call_event("c2", who={"phone": "212-555-0142"}))
        [fuzzy] = await ingest(
            api, call_event("c3", who={"first_name": "Robert", "last_name": "Smith", "company": "ACME Inc"})
        )
        [dup] = await ingest(
            api,
            call_event(
                "c1", who={"phone": "+12125550142", "first_name": "Bob", "last_name": "Smith", "company": "Acme"}
            ),
        )
    assert again["individual_id"] == fuzzy["individual_id"] == first["individual_id"]
    assert (again["status"], fuzzy["status"], dup["status"]) == ("accepted", "accepted", "duplicate")


async def test_a_shared_line_stays_shared_after_merges_and_a_restart(client_for):
    board = "+12125550000"
    people = [("Ann", "Lee", "ann@x.com"), ("Raj", "Patel", "raj@x.com"), ("Tom", "Ng", "tom@x.com")]
    async with client_for(shared_line_threshold=2) as api:
        await ingest(
            api,
            *[
                call_event(f"c{i}", who={"phone": board, "first_name": first, "last_name": last, "email": email})
                for i, (first, last, email) in enumerate(people)
            ],
        )
        # Raj turns out to be Ann's duplicate record: fewer people on the number now.
        await ingest(
            api,
            call_event("m", who={"email": "raj@x.com", "salesforce_id": LEAD}),
            call_event("m2", who={"email": "ann@x.com", "salesforce_id": LEAD}),
        )
        [live] = await ingest(api, call_event("probe1", who={"phone": board, "first_name": "Ann", "last_name": "Lee"}))
    async with client_for(shared_line_threshold=2) as api:
        [restored] = await ingest(
            api, call_event("probe2", who={"phone": board, "first_name": "Ann", "last_name": "Lee"})
        )
    # Neither probe is linked through the switchboard: each is a new person, live and restored.
    assert live["individual_id"] != restored["individual_id"]
    async with client_for(shared_line_threshold=2) as api:
        ann = (await person(api, "ann@x.com")).json()
        assert ann["calls"] == 4  # c0, c1 (Raj, merged in), m and m2: never the probes


async def test_display_fields_follow_the_newest_call_even_across_a_merge(api):
    await ingest(
        api,
        call_event(
            "a",
            minutes=10,
            who={
                "salesforce_id": LEAD,
                "first_name": "Robert",
                "last_name": "Smith",
                "title": "VP Sales",
                "email": "rs@acme.com",
            },
        ),
    )
    await ingest(
        api,
        call_event(
            "b", minutes=0, who={"salesforce_id": CONTACT, "first_name": "Bob", "last_name": "Smith", "company": "Acme"}
        ),
    )
    [merged] = await ingest(api, call_event("c", minutes=5, who={"salesforce_id": CONTACT, "email": "rs@acme.com"}))
    body = (await person(api, merged["individual_id"])).json()
    # Newest call naming each field: first name and title from "a" (minute 10), company from "b".
    assert (body["first_name"], body["title"], body["company"]) == ("Robert", "VP Sales", "Acme")
