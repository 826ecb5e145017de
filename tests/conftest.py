"""Fixtures. The app (and its database engine) is built inside the test client's own
event loop by the app's lifespan — never in a fixture (its AsyncTestClient runs the app on a loop of its own)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from litestar.testing import AsyncTestClient

from contextsvc.api.app import create_app
from contextsvc.settings import Settings
from sqlalchemy import text

from contextsvc.identity import IdentityGraph
from contextsvc.pipeline import BatchObserver, ProfileCache, ProfileWriter, Writer
from contextsvc.store import create_engine, create_schema
from tests.helpers import KEYS, PICKLIST



@pytest.fixture
def settings_for(tmp_path):
    def build(**overrides) -> Settings:
        return Settings.from_env(
            {}, database_url=f"sqlite+aiosqlite:///{tmp_path}/test.db", api_keys=KEYS, **overrides
        )

    return build


@pytest.fixture
def client_for(settings_for):
    """`async with client_for(**settings) as client`: a fresh app on the test's database.
    Opening it twice in one test restarts the service on the same database."""

    @asynccontextmanager
    async def open_client(**overrides):
        async with AsyncTestClient(app=create_app(settings_for(**overrides))) as client:
            yield client

    return open_client


@pytest.fixture
async def api(client_for):
    async with client_for() as client:
        yield client


@pytest.fixture(scope="module")
def org_dir(tmp_path_factory):
    """A simulator-generated Salesforce org (records as NDJSON), once per test module."""
    from tests.salesforce_org import generate_org

    return generate_org(tmp_path_factory.mktemp("org"))


@pytest.fixture
def fake(tmp_path):
    """The fake Salesforce, served over TLS, for one test."""
    from tests.fake_salesforce import RunningFake

    running = RunningFake(tmp_path)
    yield running
    running.close()


class Recorder(BatchObserver):
    def __init__(self) -> None:
        self.loads = 0
        self.seen = []
        self.committed = []
        self.veto = False
        self.crash_after = False

    def load(self, conn) -> None:
        self.loads += 1

    def in_transaction(self, conn, changes) -> None:
        calls_in_tx = conn.execute(text("select count(*) from calls")).scalar()
        self.seen.append((changes, calls_in_tx))
        if self.veto:
            raise RuntimeError("observer refused")

    def after_commit(self, changes) -> None:
        self.committed.append(changes)
        if self.crash_after:
            raise RuntimeError("dispatcher hiccup")


@pytest.fixture
async def observed(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/o.db")
    await create_schema(engine)
    recorder = Recorder()
    writer = Writer(engine, IdentityGraph, ProfileWriter(PICKLIST, 100), ProfileCache(100))
    writer.observe(recorder)
    await writer.start()
    yield writer, recorder
    await writer.stop()
    await engine.dispose()
