"""Test helpers for the Salesforce connector: a simulated org in the fake, and contexts
read back through the HTTP API for comparison."""

from __future__ import annotations

from collections.abc import Set
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import msgspec
from litestar.testing import AsyncTestClient

from contextsvc.api.app import create_app
from contextsvc.salesforce import SalesforceApi
from contextsvc.salesforce.writeback import parse_field_map, plan_writeback, push
from contextsvc.service import open_service
from contextsvc.settings import Settings
from contextsvc.store import create_engine
from simulator.cli import main as simulator
from simulator.salesforce import OBJECTS
from tests.fake_salesforce import RunningFake
from tests.helpers import ADMIN, KEYS, url_for

SMALL = ["days=14", "population.accounts=80", "population.reps=4"]
AS_OF = "2026-09-01T00:00:00+00:00"


def generate_org(out: Path) -> Path:
    assert simulator(["generate", "--out", str(out), "--salesforce", *sum((["--set", o] for o in SMALL), [])]) == 0
    return out


def read_ndjson(path: Path) -> list[dict]:
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


def load_org(fake: RunningFake, out: Path) -> dict[str, list[dict]]:
    org = {name: read_ndjson(out / "salesforce" / f"{name}.ndjson") for name in OBJECTS}
    for name, records in org.items():
        fake.org.load(name, records)
    return org


class Expected(msgspec.Struct):
    """One real call as simulator/salesforce.py wrote it: what the org holds of it at the
    first sync and at the second (None: nothing), and whether its direction is inferred."""

    call_id: str
    person: str | None
    shape: str
    change: str
    first: dict | None
    first_inferred: bool
    second: dict | None
    second_inferred: bool

    def at(self, phase: int) -> dict | None:
        return self.first if phase == 1 else self.second

    def inferred(self, phase: int) -> bool:
        return self.first_inferred if phase == 1 else self.second_inferred


def expected_calls(out: Path) -> list[Expected]:
    lines = (out / "salesforce" / "expected.ndjson").read_bytes().splitlines()
    return msgspec.json.Decoder(list[Expected]).decode(b"[" + b",".join(lines) + b"]")


def held(out: Path, phase: int) -> list[dict]:
    """The CallEvents the org amounts to at a sync, in the order a live feed sends them."""
    events = [event for e in expected_calls(out) if (event := e.at(phase)) is not None]
    return sorted(events, key=lambda e: (e["started_at"], e["call_id"]))


def apply_changes(fake: RunningFake, out: Path) -> int:
    """What happens in the org between the first sync and the second."""
    changes = read_ndjson(out / "salesforce" / "changes.ndjson")
    for change in changes:
        fake.org.apply(change)
    return len(changes)


def settings(db: Path, fake: RunningFake | None = None, **overrides) -> Settings:
    values: dict[str, object] = {"database_url": url_for(db), "api_keys": KEYS}
    if fake is not None:
        values.update(
            salesforce_instance_url=fake.instance_url,
            salesforce_session_id=fake.org.issue_token(),
            salesforce_page_size=200,
            salesforce_lookback_s=0,
        )
    return Settings.from_env({}, **{**values, **overrides})


@asynccontextmanager
async def api_on(db: Path):
    async with AsyncTestClient(app=create_app(settings(db))) as client:
        yield client


async def contexts(
    db: Path, lookups: list[str], as_of: str = AS_OF, unknown_ok: bool = False, ids: dict[str, str] | None = None
) -> dict[str, dict | None]:
    """The served context per lookup (individual ids blanked: they are random per store,
    and go into `ids`, lookup -> individual id, when given); None for a lookup the store
    does not know, when `unknown_ok`."""
    found: dict[str, dict | None] = {}
    async with api_on(db) as client:
        for lookup in lookups:
            response = await client.get(
                f"/v1/context/{quote(lookup, safe='')}", params={"as_of": as_of, "recent": 50}, headers=ADMIN
            )
            if unknown_ok and response.status_code == 404:
                found[lookup] = None
                continue
            if response.status_code == 409:  # a shared line: as many people on it in both stores
                found[lookup] = {"ambiguous": len(response.json()["details"]["candidates"])}
                continue
            assert response.status_code == 200, response.text
            body = response.json()
            if ids is not None:
                ids[lookup] = body["individual_id"]
            body["individual_id"] = None
            found[lookup] = body
    return found


async def post_over_http(db: Path, calls: list[dict]) -> None:
    async with api_on(db) as client:
        for start in range(0, len(calls), 1000):
            response = await client.post(
                "/v1/calls/batch",
                content=msgspec.json.encode({"calls": calls[start : start + 1000]}),
                headers={**ADMIN, "Content-Type": "application/json"},
            )
            assert response.status_code == 200
            assert set(response.json()["summary"]) == {"accepted"}, response.json()["summary"]


async def sync_once(db: Path, fake: RunningFake, config: dict | None = None, **sync_options):
    """One sync pass of the fake org into `db`; `config` overrides settings."""
    config_ = settings(db, fake, **(config or {}))
    async with open_service(config_) as service:
        return await service.salesforce_sync(SalesforceApi(config_, fake.session()), **sync_options).run_once()


def differences(a, b, path: str = "") -> list[str]:
    """Where two decoded JSON values differ, as 'path: a != b' lines (for assertion messages)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def lookups_of(events: list[dict]) -> set[str]:
    """How to find each person the events name: their Salesforce id, else the phone."""
    return {e["who"].get("salesforce_id") or e["who"].get("phone") for e in events if e["who"]} - {None}


async def assert_org_as_held(
    synced: Path, oracle: Path, out: Path, phase: int, known: Set[str] = frozenset()
) -> set[str]:
    """Every person's synced context equals the context of posting, over HTTP into a fresh
    store, the calls the simulator says the org held at that sync. `known`: lookups the
    synced store learnt before, which may now have no call left. The one thing a post
    cannot carry is a direction the connector inferred: counted separately, per person.
    Returns the lookups compared."""
    expected = [(e, event) for e in expected_calls(out) if (event := e.at(phase)) is not None]
    events = sorted((event for _, event in expected), key=lambda e: (e["started_at"], e["call_id"]))
    await post_over_http(oracle, events)
    lookups = sorted(lookups_of(events) | set(known))
    synced_contexts = await contexts(synced, lookups)
    person_of: dict[str, str] = {}
    posted_contexts = await contexts(oracle, lookups, unknown_ok=True, ids=person_of)
    inferred: dict[str, int] = {}
    for e, event in expected:
        if e.inferred(phase):
            person = person_of[event["who"]["salesforce_id"]]
            inferred[person] = inferred.get(person, 0) + 1
    mismatched = {}
    for lookup in lookups:
        mine, theirs = synced_contexts[lookup], posted_contexts[lookup]
        assert mine is not None  # read without unknown_ok: every lookup has a context
        if theirs is None:  # no call names them any more
            assert mine.get("summary", {}).get("calls") == 0, (lookup, mine)
            continue
        if "data_quality" in mine:
            count = inferred.get(person_of[lookup], 0)
            assert mine["data_quality"]["issues"].pop("direction_inferred", 0) == count, lookup
            if count:  # the prompt's "Data gaps" line names it too, and the budget trims by length
                for context in (mine, theirs):
                    context.pop("prompt"), context.pop("prompt_tokens")
        if mine != theirs:
            mismatched[lookup] = differences(mine, theirs)[:5]
    assert not mismatched, (len(mismatched), list(mismatched.items())[:3])
    return set(lookups)


async def write_back(db: Path, fake: RunningFake, now: datetime):
    """One write-back pass from `db` into the fake org: (considered, changes, report)."""
    config = settings(db, fake)
    engine = create_engine(config.database_url)
    try:
        considered, changes = await plan_writeback(engine, parse_field_map(config.salesforce_writeback_fields), now)
        report = await push(engine, SalesforceApi(config, fake.session()), changes, now)
    finally:
        await engine.dispose()
    return considered, changes, report
