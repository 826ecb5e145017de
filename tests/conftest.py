"""Fixtures. The app (and its database engine) is built inside the test client's own
event loop by the app's lifespan — never in a fixture (stack-notes.md §2.2)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from litestar.testing import AsyncTestClient

from contextsvc.api.app import create_app
from contextsvc.settings import Settings

ADMIN = {"Authorization": "Bearer admin-key"}
WRITER = {"X-API-Key": "writer-key"}
READER = {"Authorization": "Bearer reader-key"}
KEYS = "admin-key,writer-key:calls:write,reader-key:context:read"


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
