"""Schema migrations: an empty database and a migrated one get the same schema; a database
made before migrations existed upgrades and serves the same contexts; an old schema is
upgraded on SQLite and refused on PostgreSQL with the command to run."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text

import contextsvc.service  # noqa: F401  (registers every package's tables on the metadata)
from contextsvc.api.app import create_app
from contextsvc.cli import main as contextsvc_cli
from contextsvc.insights import tables as t_insights
from contextsvc.service import open_database
from contextsvc.settings import Settings
from contextsvc.store import SchemaOutdated, create_engine, ensure_schema, head_revision, metadata, revision_of
from contextsvc.store import tables as t
from contextsvc.store.migrate import _config
from tests.helpers import ADMIN, KEYS, fetch_all
from tests.live import free_port
from tests.salesforce_org import differences

DATA = Path(__file__).parent / "data"
AS_OF = "2026-10-06T00:00:00Z"  # after the last call of the pre-migration database


def _differences(conn) -> list:
    return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)


async def _migrate(url: str, revision: str) -> None:
    """Run the migrations themselves (not the create-and-stamp shortcut) up to `revision`."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(metadata, sync), revision))
    await engine.dispose()


async def test_every_migration_in_turn_gives_the_schema_an_empty_database_is_created_with(databases):
    with databases.fresh(empty=True) as migrated, databases.fresh(empty=True) as created:
        await _migrate(migrated, "head")
        async with open_database(Settings.from_env({}, database_url=created)) as engine, engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
            assert await revision_of(engine) == head_revision()
        engine = create_engine(migrated)
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
        await engine.dispose()


async def test_an_old_schema_is_upgraded_on_sqlite_and_refused_on_postgresql(empty_database_url):
    database_url = empty_database_url
    await _migrate(database_url, "0001")
    engine = create_engine(database_url)
    try:
        if engine.dialect.name == "sqlite":
            assert await ensure_schema(engine, metadata) == head_revision()
        else:
            with pytest.raises(SchemaOutdated, match="run `contextsvc db upgrade`"):
                await ensure_schema(engine, metadata)
            assert await revision_of(engine) == "0001"  # untouched
            assert await ensure_schema(engine, metadata, upgrade=True) == head_revision()
    finally:
        await engine.dispose()


@pytest.mark.live  # runs contextsvc serve in a subprocess
async def test_a_server_on_an_old_postgresql_schema_does_not_start_and_says_why(empty_database_url):
    database_url = empty_database_url
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite upgrades itself")
    await _migrate(database_url, "0001")
    env = {**os.environ, "CONTEXTSVC_DATABASE_URL": database_url, "CONTEXTSVC_API_KEYS": "k"}
    done = subprocess.run(
        [sys.executable, "-m", "contextsvc.cli", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "run `contextsvc db upgrade`" in done.stderr and "Traceback" not in done.stderr


def test_the_db_commands_create_show_and_list_the_schema(empty_database_url, monkeypatch, capsys):
    monkeypatch.setenv("CONTEXTSVC_DATABASE_URL", empty_database_url)
    assert contextsvc_cli(["db", "current"]) == 1  # nothing yet
    assert contextsvc_cli(["db", "upgrade"]) == 0
    assert contextsvc_cli(["db", "upgrade"]) == 0  # again: a no-op
    assert contextsvc_cli(["db", "current"]) == 0
    assert contextsvc_cli(["db", "history"]) == 0
    out = capsys.readouterr().out
    assert f"upgraded the schema from nothing to {head_revision()}" in out
    assert "at the newest revision already" in out and "0001" in out and "0002" in out


def _premigration(tmp_path: Path) -> tuple[Path, list[dict]]:
    database = tmp_path / "premigration.sqlite"
    with gzip.open(DATA / "premigration.sqlite.gz", "rb") as packed, database.open("wb") as out:
        shutil.copyfileobj(packed, out)
    with gzip.open(DATA / "premigration-calls.ndjson.gz", "rt") as lines:
        events = [msgspec.json.decode(line) for line in lines]
    return database, events


async def _contexts(api, lookups: list[str]) -> dict[str, dict]:
    found = {}
    for lookup in lookups:
        response = await api.get(f"/v1/context/{lookup}", params={"as_of": AS_OF, "recent": 50}, headers=ADMIN)
        assert response.status_code == 200, response.text
        body = response.json()
        body["individual_id"] = None  # random per database
        body["segments"] = sorted(s["name"] for s in body["segments"])
        found[lookup] = body
    return found


@pytest.mark.sqlite_only("the database made before migrations is an SQLite file")
async def test_a_database_from_before_migrations_upgrades_and_serves_the_same_contexts(tmp_path):
    database, events = _premigration(tmp_path)
    url = f"sqlite+aiosqlite:///{database}"
    before = {
        table: sorted(map(tuple, await fetch_all(url, select(table))))
        for table in (t.calls, t.identifiers, t.individuals, t.merges)
    }
    assert not await fetch_all(url, text("SELECT name FROM sqlite_master WHERE name = 'alembic_version'"))
    a = t_insights.account_attributes.c
    markets = [
        {"account_id": r.account_id, "industry": r.industry, "region": r.region}
        for r in await fetch_all(url, select(a.account_id, a.industry, a.region))
    ]
    assert markets

    lookups = sorted({e["who"]["salesforce_id"] for e in events if e.get("who", {}).get("salesforce_id")})
    async with AsyncTestClient(app=create_app(Settings.from_env({}, database_url=url, api_keys=KEYS))) as api:
        upgraded = await _contexts(api, lookups)  # the server upgraded the file as it started
        segments = (await api.get("/v1/segments", headers=ADMIN)).json()["segments"]
    assert await revision_of(create_engine(url)) == head_revision()
    for table, rows in before.items():
        assert sorted(map(tuple, await fetch_all(url, select(table)))) == rows, f"{table.name} changed"
    assert sorted(s["name"] for s in segments) == sorted(
        msgspec.json.decode(p.read_bytes())["name"] for p in (DATA.parent.parent / "seed" / "segments").glob("*.json")
    )

    # The same calls, segments and markets ingested afresh by this version of the service.
    fresh = f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite'}"
    async with AsyncTestClient(app=create_app(Settings.from_env({}, database_url=fresh, api_keys=KEYS))) as api:
        for path in sorted((DATA.parent.parent / "seed" / "segments").glob("*.json")):
            assert (
                await api.post(
                    "/v1/segments", content=path.read_bytes(), headers={**ADMIN, "Content-Type": "application/json"}
                )
            ).status_code == 201
        response = await api.post("/v1/accounts", json={"accounts": markets}, headers=ADMIN)
        assert response.status_code == 200, response.text
        for start in range(0, len(events), 500):
            response = await api.post("/v1/calls/batch", json={"calls": events[start : start + 500]}, headers=ADMIN)
            assert response.status_code == 200
        fresh_contexts = await _contexts(api, lookups)
    mismatched = {k: differences(upgraded[k], fresh_contexts[k]) for k in lookups if upgraded[k] != fresh_contexts[k]}
    assert mismatched == {}
    assert len(lookups) > 50 and sum(c["summary"]["calls"] for c in upgraded.values()) > 500
