"""Test helpers for the Salesforce connector: a simulated org in the fake, and contexts
read back through the HTTP API for comparison."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
from litestar.testing import AsyncTestClient

from contextsvc.api.app import create_app
from contextsvc.salesforce import SalesforceApi
from contextsvc.service import open_service
from contextsvc.settings import Settings
from simulator.cli import main as simulator
from simulator.salesforce import OBJECTS
from tests.helpers import ADMIN, KEYS
from tests.fake_salesforce import RunningFake
from tests.helpers import url_for

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


def settings(db: Path, fake: RunningFake | None = None, **overrides) -> Settings:
    values = {"database_url": url_for(db), "api_keys": KEYS}
    if fake is not None:
        values.update(salesforce_instance_url=fake.instance_url, salesforce_session_id=fake.org.issue_token(),
                      salesforce_page_size=200, salesforce_lookback_s=0)
    return Settings.from_env({}, **{**values, **overrides})


@asynccontextmanager
async def api_on(db: Path):
    async with AsyncTestClient(app=create_app(settings(db))) as client:
        yield client


async def contexts(db: Path, lookups: list[str], as_of: str = AS_OF) -> dict[str, dict]:
    """The served context per lookup (individual ids blanked: they are random per store)."""
    found = {}
    async with api_on(db) as client:
        for lookup in lookups:
            response = await client.get(f"/v1/context/{lookup}", params={"as_of": as_of, "recent": 50}, headers=ADMIN)
            assert response.status_code == 200, response.text
            body = response.json()
            body["individual_id"] = None
            found[lookup] = body
    return found


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
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
