"""Builds tests/data/premigration.sqlite.gz: a database as the service made it before schema
migrations existed, with calls, merged people, segments, market attributes and quality
counters in it, and tests/data/premigration-calls.ndjson.gz, the calls it was made from.

Only the HTTP API is used, so the script runs against any version of the service; it was
run with the code of the commit before migrations were added, put first on the path:

    git worktree add /tmp/pre <commit>
    PYTHONPATH=/tmp/pre .venv/bin/python tests/data/make_premigration_db.py

tests/test_migrations.py upgrades a copy to the newest schema and checks that every
context it serves equals the context served from the same calls ingested afresh.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import sqlite3
import sys
from pathlib import Path

from litestar.testing import AsyncTestClient

from contextsvc.api.app import create_app
from contextsvc.settings import REPO_ROOT, Settings
from simulator.population import build_world
from simulator.scenario import load
from simulator.traffic import Traffic

HERE = Path(__file__).parent
ADMIN = {"Authorization": "Bearer admin-key"}
SCENARIO = ["seed=11", "days=4", "population.accounts=8", 'start="2026-10-01T00:00:00Z"']


def calls() -> list[dict]:
    scenario = load("default", SCENARIO)
    return [call.event for call in Traffic(build_world(scenario), scenario).calls()]


def accounts(events: list[dict]) -> list[dict]:
    ids = sorted({e["related"]["account_id"] for e in events if e.get("related", {}).get("account_id")})
    industries = ["Software", "Manufacturing", "Healthcare"]
    return [
        {"account_id": a, "industry": industries[i % 3], "region": "EMEA" if i % 2 else "NA"} for i, a in enumerate(ids)
    ]


async def build(database: Path, events: list[dict]) -> None:
    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{database}", api_keys="admin-key")
    async with AsyncTestClient(app=create_app(settings)) as api:
        for path in sorted((REPO_ROOT / "seed" / "segments").glob("*.json")):
            response = await api.post(
                "/v1/segments", content=path.read_bytes(), headers={**ADMIN, "Content-Type": "application/json"}
            )
            assert response.status_code == 201, response.text
        markets = await api.post("/v1/accounts", json={"accounts": accounts(events)}, headers=ADMIN)
        assert markets.status_code == 200, markets.text
        for start in range(0, len(events), 500):
            response = await api.post("/v1/calls/batch", json={"calls": events[start : start + 500]}, headers=ADMIN)
            assert response.status_code == 200, response.text


def main() -> int:
    events = calls()
    database = HERE / "premigration.sqlite"
    database.unlink(missing_ok=True)
    asyncio.run(build(database, events))
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    with sqlite3.connect(database) as conn:
        conn.execute("VACUUM")
    with gzip.open(HERE / "premigration-calls.ndjson.gz", "wt") as out:
        out.writelines(json.dumps(e, sort_keys=True) + "\n" for e in events)
    with database.open("rb") as raw, gzip.open(database.with_suffix(".sqlite.gz"), "wb") as out:
        shutil.copyfileobj(raw, out)
    print(f"{database.name}: {len(events):,} calls, {database.stat().st_size:,} bytes", file=sys.stderr)
    database.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
