"""The Salesforce sync as a job of the server: a pass every CONTEXTSVC_SALESFORCE_SYNC_INTERVAL_S
through the server's own writer (in order with ingest), write-back after it when enabled,
and on demand (POST /v1/admin/salesforce/sync). Its state is what admins see."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
import requests
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.errors import Conflict
from contextsvc.salesforce.client import SalesforceApi, SalesforceProblem, auth_mode
from contextsvc.salesforce.sync import SalesforceSync, SyncReport, sync_with_backoff
from contextsvc.salesforce.writeback import WritebackReport, parse_field_map, plan_writeback, push
from contextsvc.settings import Settings

log = logging.getLogger(__name__)


class SyncState(msgspec.Struct):
    configured: bool
    auth_mode: str | None
    interval_s: float
    writeback: bool  # write-back runs after each pass
    running: bool = False
    passes: int = 0
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    next_run_at: datetime | None = None
    last_report: SyncReport | None = None  # records read and changed per sObject, calls by result
    last_writeback: WritebackReport | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class SalesforceJob:
    """One pass at a time, whoever asks (the schedule or an admin)."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        make_sync: Callable[[SalesforceApi], SalesforceSync],
        session: Callable[[], requests.Session] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.make_sync = make_sync
        self.session = session  # tests: one that trusts the fake Salesforce's CA
        try:
            mode: str | None = auth_mode(settings)
        except SalesforceProblem:
            mode = None
        self.state = SyncState(
            mode is not None, mode, settings.salesforce_sync_interval_s, settings.salesforce_writeback_after_sync
        )
        self._lock = asyncio.Lock()
        self._api: SalesforceApi | None = None

    async def _client(self) -> SalesforceApi:
        if self._api is None:  # logs in: network I/O, off the event loop
            session = self.session() if self.session is not None else None
            self._api = await asyncio.to_thread(SalesforceApi, self.settings, session)
        return self._api

    async def run_pass(self) -> SyncState:
        """A pass now (then write-back, if enabled); the state after it."""
        if not self.state.configured:
            raise Conflict(
                'Salesforce is not configured: set the CONTEXTSVC_SALESFORCE_* credentials (README, "Salesforce")',
                code="salesforce_not_configured",
            )
        async with self._lock:
            state = self.state
            state.running, state.last_started_at, state.passes = True, _now(), state.passes + 1
            try:
                sync = self.make_sync(await self._client())
                state.last_report = await sync_with_backoff(
                    sync, first_wait_s=max(60.0, state.interval_s), max_wait_s=self.settings.salesforce_max_backoff_s
                )
                if state.writeback:
                    state.last_writeback = await self._write_back()
                state.last_success_at, state.last_error = _now(), None
            except Exception as exc:  # reported in the state and the log; the next pass retries
                state.last_error = f"{type(exc).__name__}: {exc}"
                self._api = None  # log in afresh next time
                log.error("salesforce sync pass failed: %s", state.last_error)
            finally:
                state.running, state.last_finished_at = False, _now()
            return state

    async def _write_back(self) -> WritebackReport:
        now = _now()
        fields = parse_field_map(self.settings.salesforce_writeback_fields)
        _, changes = await plan_writeback(self.engine, fields, now)
        return await push(self.engine, await self._client(), changes, now)

    async def run(self) -> None:
        """The schedule: a pass at start-up, then every interval."""
        while True:
            await self.run_pass()
            self.state.next_run_at = _now() + timedelta(seconds=self.state.interval_s)
            await asyncio.sleep(self.state.interval_s)
