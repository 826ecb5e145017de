"""The simulator: deterministic, every event valid for the service, calibrated, verifiable."""

from __future__ import annotations

import hashlib
import re

import httpx
import msgspec
import pytest

from contextsvc.identity.lookup import LookupKey, parse_lookup
from contextsvc.ingest.dispositions import Picklist
from contextsvc.ingest.events import CallEvent
from contextsvc.ingest.normalise import Normaliser
from contextsvc.settings import REPO_ROOT
from simulator.calibration import calibrate
from simulator.cli import main as simulator
from simulator.demo import printed_number as demo_number
from simulator.population import build_world
from simulator.scenario import load
from simulator.traffic import Traffic
from simulator.verify import identity_scores

SMALL = ["days=14", "population.accounts=80", "population.reps=4"]


def generate(tmp_path, name, *overrides):
    out = tmp_path / name
    assert (
        simulator(["generate", "--out", str(out), "--set", "seed=7", *sum((["--set", o] for o in overrides), [])]) == 0
    )
    return {f: hashlib.sha256((out / f).read_bytes()).hexdigest() for f in ("calls.ndjson", "truth.ndjson")}


def test_same_seed_and_scenario_give_byte_identical_output(tmp_path):
    assert generate(tmp_path, "a", *SMALL) == generate(tmp_path, "b", *SMALL)
    assert generate(tmp_path, "c", *SMALL, "seed=8") != generate(tmp_path, "a", *SMALL)


@pytest.fixture(scope="module")
def default_calls():
    scenario = load("default")
    world = build_world(scenario)
    return world, list(Traffic(world, scenario).calls())


def test_every_event_is_accepted_by_the_service_decoder_in_strict_mode(default_calls):
    _, calls = default_calls
    normaliser = Normaliser(Picklist.load(REPO_ROOT / "seed" / "dispositions.toml"))
    for call in calls:
        event = msgspec.json.decode(msgspec.json.encode(call.event), type=CallEvent)
        normaliser.normalise(event, strict=True)  # raises on anything the public API would refuse


def test_the_mess_the_issue_asks_for_is_there(default_calls):
    world, calls = default_calls
    kinds = {(len(p.records), tuple(sorted(r.kind for r in p.records))) for p in world.people}
    assert (2, ("contact", "lead")) in kinds  # Lead/Contact duplicates and conversions
    assert any(r.converted_lead_id for p in world.people for r in p.records)
    assert any(a.switchboard for a in world.accounts)
    phones = [c.event["who"].get("phone", "") for c in calls]
    assert (
        any(p.startswith("+") for p in phones)
        and any(p.startswith("(") for p in phones)
        and any("x" in p for p in phones)
    )
    assert any("disposition" not in c.event for c in calls) and any(
        c.event["who"] == {} or "salesforce_id" not in c.event["who"] for c in calls
    )
    assert {c.event["direction"] for c in calls} == {"inbound", "outbound"}
    outcomes = {c.truth.outcome for c in calls}
    assert {"callback_scheduled", "abandoned", "transferred", "meeting_booked", "bad_number"} <= outcomes
    returned = [c for c in calls if c.event["direction"] == "outbound" and "attempt_number" not in c.event]
    assert returned and all("queue" in c.event for c in returned)  # agents returning queued callbacks
    web_dials = [c for c in calls if c.truth.person.startswith("W") and "attempt_number" in c.event]
    assert web_dials and web_dials[0].event["attempt_number"] == 1  # web leads get called back


def test_realised_rates_fall_within_the_reference_ranges(default_calls):
    _, calls = default_calls
    outside = [(r.name, round(r.value, 4), (r.low, r.high)) for r in calibrate(calls) if not r.within]
    assert not outside


def test_overrides_change_the_traffic():
    base = load("default", ["days=7"])
    more = load("default", ["days=7", "outbound.dials_per_rep_per_day=[80, 5]"])
    count = lambda s: sum(1 for c in Traffic(build_world(s), s).calls() if c.event["direction"] == "outbound")  # noqa: E731
    assert count(more) > count(base) * 1.3
    with pytest.raises(SystemExit):
        load("default", ["outbound.no_such_thing=1"])


def test_pairwise_identity_scores():
    truth = {"r1": "A", "r2": "A", "r3": "B", "r4": "B"}
    assert identity_scores(truth, {"r1": "x", "r2": "x", "r3": "y", "r4": "y"}) == (1.0, 1.0, 1.0)
    precision, recall, _ = identity_scores(truth, {"r1": "x", "r2": "x", "r3": "x", "r4": "x"})
    assert (precision, recall) == (2 / 6, 1.0)
    precision, recall, _ = identity_scores(truth, {"r1": "x", "r2": "y", "r3": "z", "r4": "w"})
    assert (precision, recall) == (1.0, 0.0)


def test_salesforce_records_are_consistent_with_the_calls(tmp_path):
    out = tmp_path / "sf"
    assert simulator(["generate", "--out", str(out), "--salesforce", *sum((["--set", o] for o in SMALL), [])]) == 0

    def read(name: str) -> list:
        return [msgspec.json.decode(line) for line in (out / "salesforce" / f"{name}.ndjson").read_bytes().splitlines()]

    contacts, leads, tasks, voice = read("Contact"), read("Lead"), read("Task"), read("VoiceCall")
    accounts = {a["Id"] for a in read("Account")}
    people = {r["Id"] for r in contacts} | {r["Id"] for r in leads}
    calls = {e["call_id"]: e for e in map(msgspec.json.decode, (out / "calls.ndjson").read_bytes().splitlines())}
    assert tasks and {t["TaskSubtype"] for t in tasks} == {"Call"}
    assert all(t["WhoId"] in people for t in tasks)
    # CTI Tasks carry the call id, another id or nothing in CallObject; manual logs no CallType.
    cti = [t for t in tasks if t["CallType"]]
    assert all(t["CallType"].lower() == calls[t["CallObject"]]["direction"] for t in cti if t["CallObject"] in calls)
    assert {t["CallObject"] is None for t in cti} == {True, False} and any(
        t["CallObject"] not in calls for t in cti if t["CallObject"]
    )
    manual = [t for t in tasks if not t["CallType"]]
    assert manual and all(t["CallObject"] is None and t["CallDurationInSeconds"] is None for t in manual)
    assert all(c["AccountId"] in accounts for c in contacts)
    converted = [lead for lead in leads if lead["IsConverted"]]
    assert converted and all(lead["ConvertedContactId"] in people for lead in converted)
    task_ids = {t["Id"] for t in tasks}
    assert all(v["VendorCallKey"] in calls and v["ActivityId"] in task_ids | {None} for v in voice)
    assert {v["ActivityId"] is None for v in voice} == {True, False} and {
        v["RelatedRecordId"] is None for v in voice
    } == {True, False}
    assert {"Callback", "Inbound", "Outbound"} <= {v["CallType"] for v in voice}
    assert any(t.get("IsDeleted") for t in tasks)  # the recycle bin, as queryAll returns it
    assert all(len(r["Id"]) == 18 for r in contacts + leads + tasks + voice)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", t["SystemModstamp"]) for t in tasks)
    # Every real call that reached the org is in the truth, once, at both syncs.
    truth = [msgspec.json.decode(line) for line in (out / "salesforce" / "expected.ndjson").read_bytes().splitlines()]
    assert len({e["call_id"] for e in truth}) == len(truth) == len(calls)
    held = [e["first"]["call_id"] for e in truth if e["first"]]
    assert len(held) == len(set(held)) and set(held) >= {
        t["CallObject"] for t in cti if t["CallObject"] in calls and not t.get("IsDeleted")
    }


async def test_the_stream_client_retries_a_503_after_its_retry_after():
    from simulator.stream import post_retrying

    answers = iter([503, 503, 201])
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        status = next(answers)
        headers = {"Retry-After": "0"} if status == 503 else {}
        return httpx.Response(status, json={"status": "accepted"}, headers=headers)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://service") as client:
        response = await post_retrying(client, "/v1/calls", {"call_id": "c1"})
        assert response.status_code == 201 and seen == ["/v1/calls"] * 3
        # Past its deadline it gives the 503 back instead of waiting for ever.
        answers = iter([503] * 3)
        response = await post_retrying(client, "/v1/calls", {"call_id": "c2"}, give_up_after_s=0)
        assert response.status_code == 503


async def test_the_stream_client_repeats_a_call_whose_leader_was_lost_but_no_other_502():
    from simulator.stream import post_retrying

    answers = iter([(502, "leader_lost"), (201, "accepted"), (502, "bad_gateway")])

    def handler(request: httpx.Request) -> httpx.Response:
        status, code = next(answers)
        return httpx.Response(status, json={"code": code, "status": code})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://service") as client:
        # A worker's leader died with the call: perhaps applied, and a call is idempotent.
        assert (await post_retrying(client, "/v1/calls", {"call_id": "c1"}, give_up_after_s=0.2)).status_code == 201
        # Any other 502 is the caller's to judge.
        assert (await post_retrying(client, "/v1/calls", {"call_id": "c2"})).status_code == 502


@pytest.mark.parametrize("e164", ["+14155550101", "+442079460958", "+493012345678"])
def test_the_demo_prints_each_showcase_number_so_the_service_finds_it(e164):
    # make run prints a curl per showcase person; a London or Berlin number written in US
    # style ("(420) 794-60958") would be refused as not a possible number.
    printed = demo_number(e164)
    assert parse_lookup(printed) == LookupKey("phone", e164)
