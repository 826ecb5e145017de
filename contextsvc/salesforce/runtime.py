"""The connector's process wiring: the database, the one Writer and the Salesforce API,
as the app's lifespan builds them. The CLI commands run inside `open_connector`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import requests
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.ingest.dispositions import Picklist
from contextsvc.ingest.normalise import Normaliser
from contextsvc.salesforce.client import SalesforceApi
from contextsvc.salesforce.sync import SalesforceSync
from contextsvc.settings import Settings
from contextsvc.store.engine import create_engine, create_schema
from contextsvc.store.writer import Writer


class Connector(msgspec.Struct):
    settings: Settings
    engine: AsyncEngine
    writer: Writer
    picklist: Picklist
    session: requests.Session | None = None  # tests: one that trusts the fake's CA

    def api(self) -> SalesforceApi:
        return SalesforceApi(self.settings, self.session)

    def sync(self, api: SalesforceApi, **kwargs) -> SalesforceSync:
        normaliser = Normaliser(self.picklist, self.settings.default_region)
        return SalesforceSync(api, self.engine, self.writer, normaliser, lookback_s=self.settings.salesforce_lookback_s, **kwargs)


@asynccontextmanager
async def open_connector(settings: Settings, session: requests.Session | None = None) -> AsyncIterator[Connector]:
    """Owns the database's writer for its duration: stop the server first on SQLite (one
    writer per database, as for `contextsvc rebuild`)."""
    from contextsvc.api.app import build_writer

    picklist = Picklist.load(Path(settings.seed_dir) / "dispositions.toml")
    engine = create_engine(settings.database_url)
    await create_schema(engine)
    writer = build_writer(settings, engine, picklist)
    await writer.start()
    try:
        yield Connector(settings, engine, writer, picklist, session)
    finally:
        await writer.stop()
        await engine.dispose()
