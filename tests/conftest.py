"""Fixtures. The app (and its database engine) is built inside the test client's own
event loop by the app's lifespan — never in a fixture (its AsyncTestClient runs the app on
a loop of its own).

One option decides the database of the whole run: `--backend sqlite` (the default) or
`--backend postgresql`, which starts one throwaway PostgreSQL for the session (initdb into
a temporary directory, a free port) and gives every test a fresh database of its own.
`make test` runs the suite on both.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from contextsvc.api.app import create_app
from contextsvc.identity import IdentityGraph
from contextsvc.pipeline import ProfileCache, ProfileWriter, Writer
from contextsvc.settings import Settings
from contextsvc.store import create_engine, create_schema
from devservers.redis import ThrowawayRedis, binary
from tests import helpers
from tests.helpers import KEYS, PICKLIST, Recorder


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("CONTEXTSVC_TEST_BACKEND", "sqlite"),
        help="the database every test runs on (PostgreSQL: a throwaway server for the session)",
    )


def pytest_configure(config: pytest.Config) -> None:
    helpers.BACKEND = config.getoption("--backend")
    config.addinivalue_line("markers", "sqlite_only(reason): a test of SQLite itself; skipped on PostgreSQL")
    config.addinivalue_line(
        "markers",
        "backend_neutral(reason): what it checks does not depend on the database, so it runs once, "
        "in the SQLite tier (make test runs every other test on both)",
    )


# Why a test runs on SQLite only, by marker: a test of SQLite itself, or one whose subject
# (the Salesforce client, the scope scan, the browser) reads nothing the backend changes.
SKIPPED_ON_POSTGRESQL = {"sqlite_only": "SQLite only", "backend_neutral": "runs once, in the SQLite tier"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--backend") == "sqlite":
        return
    for item in items:
        for name, why in SKIPPED_ON_POSTGRESQL.items():
            marker = item.get_closest_marker(name)
            if marker is not None:
                item.add_marker(pytest.mark.skip(reason=f"{why}: {marker.args[0] if marker.args else ''}"))
                break


def pytest_report_header(config: pytest.Config) -> str:
    return f"contextsvc database backend: {config.getoption('--backend')}"


TEMPLATE = "contextsvc_template"


async def _schema_at_head(url: str) -> None:
    import contextsvc.service  # noqa: F401  (every package's tables on the metadata)
    from contextsvc.store import ensure_schema, metadata

    engine = create_engine(url)
    try:
        await ensure_schema(engine, metadata)
    finally:
        await engine.dispose()


class Databases:
    """Fresh, empty databases of the run's backend, one per call of `create`."""

    def __init__(self, backend: str, root: Path) -> None:
        self.backend = backend
        self.root = root
        self._numbers = itertools.count(1)
        self.server = None
        if backend == "postgresql":
            from devservers.postgres import ThrowawayPostgres

            self.server = ThrowawayPostgres().start()
            # Every test's database is a copy of one with the schema at the newest revision:
            # CREATE DATABASE ... TEMPLATE copies files, much faster than creating 40 tables.
            self.server.create_database(TEMPLATE)
            asyncio.run(_schema_at_head(self.server.url(TEMPLATE)))

        self._by_path: dict[Path, str] = {}

    def create(self, empty: bool = False) -> str:
        """A new database: with the schema at the newest revision, or truly empty."""
        number = next(self._numbers)
        if self.server is None:
            return f"sqlite+aiosqlite:///{self.root}/db{number}.sqlite"
        return self.server.create_database(f"test{number}", template=None if empty else TEMPLATE)

    def for_path(self, path: Path) -> str:
        """The database standing for a file path a test chose: that file on SQLite, a
        database made for it (once) on PostgreSQL."""
        if self.server is None:
            return f"sqlite+aiosqlite:///{path}"
        if path not in self._by_path:
            self._by_path[path] = self.create()
        return self._by_path[path]

    def drop_path_databases(self) -> None:
        for url in self._by_path.values():
            self.drop(url)
        self._by_path.clear()

    def drop(self, url: str) -> None:
        if self.server is not None:
            self.server.drop_database(url.rsplit("/", 1)[1])

    @contextmanager
    def fresh(self, empty: bool = False) -> Iterator[str]:
        url = self.create(empty)
        try:
            yield url
        finally:
            self.drop(url)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    found = Databases(request.config.getoption("--backend"), tmp_path_factory.mktemp("databases"))
    helpers.DATABASES = found  # for url_for(path) in test modules and helpers
    yield found
    found.close()


@pytest.fixture(autouse=True)
def _drop_databases_made_for_paths(databases: Databases) -> Iterator[None]:
    yield
    databases.drop_path_databases()


@pytest.fixture
def database_url(databases: Databases) -> Iterator[str]:
    """The test's own database, on the run's backend, holding no data."""
    with databases.fresh() as url:
        yield url


@pytest.fixture
def empty_database_url(databases: Databases) -> Iterator[str]:
    """The test's own database with not even a schema (migration tests)."""
    with databases.fresh(empty=True) as url:
        yield url


@pytest.fixture
def settings_for(database_url):
    def build(**overrides) -> Settings:
        return Settings.from_env({}, database_url=database_url, api_keys=KEYS, **overrides)

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


@pytest.fixture
async def observed(database_url):
    engine = create_engine(database_url)
    await create_schema(engine)
    recorder = Recorder()
    writer = Writer(engine, IdentityGraph, ProfileWriter(PICKLIST, 100), ProfileCache(100))
    writer.observe(recorder)
    await writer.start()
    yield writer, recorder
    await writer.stop()
    await engine.dispose()


@pytest.fixture
def redis_server(tmp_path) -> Iterator[ThrowawayRedis]:
    """A throwaway Redis (shared rate limits; several workers' change messages)."""
    if binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed (.ci/run installs Debian's redis-server)")
        pytest.skip("redis-server is not installed: apt-get install redis-server")
    with ThrowawayRedis(tmp_path / "redis") as server:
        yield server
