"""The load test's world: a seeded database, the people to read, the calls still to come.

A simulator scenario is cut at `history_days`: everything before is ingested in-process
(seconds, through the service's own writer), everything after is the tail that the Locust
writers post as calls "end". Read targets are real people with every lookup the service
answers uniquely, checked against the identity graph itself, so no read can 404 or hit
a shared line by accident.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import phonenumbers

from contextsvc.identity import IdentityGraph, normalise_email, normalise_phone
from contextsvc.pipeline import load_graph
from contextsvc.service import open_database
from contextsvc.settings import Settings
from loadtests.profiles import Profile
from simulator.demo import seed
from simulator.population import World, build_world
from simulator.scenario import load
from simulator.traffic import SimCall, Traffic

PHONE_FORMATS = ("({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "{a}{b}{c}", "1-{a}-{b}-{c}")


class Lookup(msgspec.Struct, array_like=True):
    kind: str  # individual_id | phone | email | contact_id
    text: str  # as an agent would send it


class Target(msgspec.Struct):
    individual_id: str
    lookups: list[Lookup]


class Dataset(msgspec.Struct):
    world: World
    history: list[SimCall]
    tail: list[SimCall]


def build(profile: Profile, now: datetime | None = None) -> Dataset:
    """The scenario ends yesterday, so no call lies in the future."""
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    scenario = load("default", list(profile.scenario))
    start = today - timedelta(days=scenario.days)
    scenario = load("default", [*profile.scenario, f'start="{start.strftime("%Y-%m-%dT%H:%M:%SZ")}"'])
    cut = (start + timedelta(days=profile.history_days)).strftime("%Y-%m-%d")
    world = build_world(scenario)
    history, tail = [], []
    wanted = profile.tail_calls()
    for call in Traffic(world, scenario).calls():
        if call.event["started_at"] < cut:
            history.append(call)
        else:
            tail.append(call)
            if len(tail) >= wanted:
                break
    return Dataset(world, history, tail)


def seed_database(settings: Settings, dataset: Dataset) -> int:
    return asyncio.run(seed(settings, dataset.history))


def _graph(settings: Settings) -> IdentityGraph:
    async def run() -> IdentityGraph:
        async with open_database(settings) as engine, engine.connect() as conn:
            graph: IdentityGraph = await conn.run_sync(load_graph, IdentityGraph)
            return graph

    return asyncio.run(run())


def targets(settings: Settings, dataset: Dataset) -> list[Target]:
    """Everyone with history, busiest first (read popularity follows call volume), each with
    the lookups that resolve to exactly them: individual id, phone in several formats,
    email in another case, and the Contact id as 15 and 18 characters."""
    graph = _graph(settings)
    # A call linked to a record always has a true person (only internal calls have none).
    calls_of = Counter(c.truth.person for c in dataset.history if c.truth.record_id and c.truth.person)
    used_records = {c.truth.record_id for c in dataset.history if c.truth.record_id}
    people = {p.id: p for p in dataset.world.people}
    out = []
    for person_id, _ in sorted(calls_of.items(), key=lambda kv: (-kv[1], kv[0])):
        person = people[person_id]
        records = [r for r in person.records if r.record_id in used_records]
        found = graph.lookup("salesforce_id", records[0].record_id)
        if len(found) != 1:
            continue
        individual = found[0]
        lookups = [Lookup("individual_id", individual)]
        for record in records:
            if record.kind == "contact" and graph.lookup("salesforce_id", record.record_id) == [individual]:
                lookups += [Lookup("contact_id", record.record_id[:15]), Lookup("contact_id", record.record_id)]
            if record.email and graph.lookup("email", normalise_email(record.email)) == [individual]:
                lookups.append(Lookup("email", record.email.upper() if len(lookups) % 2 else record.email))
        if person.phone and graph.lookup("phone", normalise_phone(person.phone).e164) == [individual]:
            parsed = phonenumbers.parse(person.phone)
            if parsed.country_code == 1:  # the NANP spellings a US dialer sends
                national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
                digits = "".join(ch for ch in national if ch.isdigit())
                a, b, c = digits[:3], digits[3:6], digits[6:]
                lookups += [Lookup("phone", f.format(a=a, b=b, c=c)) for f in PHONE_FORMATS]
            else:  # London and Berlin numbers: without their country code they would read as US ones
                lookups += [
                    Lookup("phone", phonenumbers.format_number(parsed, style))
                    for style in (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
                ]
        out.append(Target(individual, lookups))
    return out


def write(out: Path, settings: Settings, dataset: Dataset) -> tuple[int, int]:
    """targets.json and tail.ndjson for the Locust process; returns (targets, tail calls)."""
    found = targets(settings, dataset)
    (out / "targets.json").write_bytes(msgspec.json.encode(found))
    with (out / "tail.ndjson").open("wb") as fh:
        for call in dataset.tail:
            fh.write(msgspec.json.encode(call.event) + b"\n")
    return len(found), len(dataset.tail)
