"""Activation into Salesforce: the deliverer of `salesforce` targets. The record is
rendered into the outbox when the event is made (activation/templates.py); this sends
it, through the webhook dispatcher's retries, backoff and dead letters.

Idempotent on the event uuid, so a retried delivery never makes a second Task:
- A Task (or any sObject) is upserted on an External ID field carrying the uuid
  (PATCH /sobjects/Task/<field>/<uuid>): a second delivery of one event finds the record
  the first made instead of creating one. Marked Unique, the field also makes two
  deliveries racing each other collide (DUPLICATE_VALUE, retried) rather than both create.
- A retry — an earlier attempt failed or timed out, and may have reached Salesforce; a
  redriven dead letter too — first asks whether a record carries the uuid, deleted ones
  included (queryAll), and if one does sends nothing: a rep's edits are not overwritten,
  and a Task the rep deleted is not made again.
- A platform event cannot be upserted: publishing twice makes two messages. Each carries
  the uuid in its uuid_field; subscribers deduplicate on it.

A record Salesforce refuses (400, 403 or 404: a missing field, a bad OwnerId, no access)
is a dead letter at once, with Salesforce's errorCode and message: fix the org or the
rule, then redrive. Timeouts, outages, 5xx, REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW and
DUPLICATE_VALUE are retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import msgspec
import requests

from contextsvc.activation import DueItem, Outcome, SalesforceTarget
from contextsvc.salesforce.client import (
    RequestLimitExceeded,
    SalesforceApi,
    SalesforceAuthError,
    SalesforceCallFailed,
    SalesforceProblem,
)
from contextsvc.settings import Settings

log = logging.getLogger(__name__)
CONCURRENCY = 4  # records in flight at once (each a thread: simple-salesforce is synchronous)
# Refusals that a later attempt can get past; any other 400/403/404 needs a fix first.
RETRYABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "DUPLICATE_VALUE", "SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"})
_decode = msgspec.json.Decoder(dict).decode


def send(api: SalesforceApi, item: DueItem) -> Outcome:
    """One record to Salesforce (blocking: run it in a thread)."""
    row, target = item.row, item.target
    assert isinstance(target, SalesforceTarget)
    record = _decode(row.payload)
    if target.publishes:
        result = api.publish(target.sobject, record)
        if not result.get("success"):
            return Outcome(False, f"Salesforce did not publish {target.sobject}: {result.get('errors')}")
        return Outcome(True)
    tried_before = row.attempts > 0 or row.last_error is not None
    if tried_before and api.count_carrying(target.sobject, target.uuid_field, row.event_uuid):
        log.info("%s %s=%s is already in Salesforce; not sent again", target.sobject, target.uuid_field, row.event_uuid)
        return Outcome(True)
    api.upsert(target.sobject, target.uuid_field, row.event_uuid, record)
    return Outcome(True)


def refusal(exc: SalesforceCallFailed) -> Outcome:
    if exc.status == 300:  # several records carry the uuid (the field is not Unique): it is there
        log.warning("several Salesforce records carry one event uuid; make the External ID field Unique: %s", exc)
        return Outcome(True)
    final = exc.status in (400, 403, 404) and exc.code not in RETRYABLE_CODES
    return Outcome(False, str(exc), final=final)


class SalesforceDeliverer:
    """The `salesforce` target's deliverer (activation.Deliverer), logged in on first use
    with the connector's settings, timeouts and session renewal."""

    def __init__(
        self, settings: Settings, session: Callable[[], requests.Session] | None = None, concurrency: int = CONCURRENCY
    ) -> None:
        self.settings = settings
        self.session = session  # tests: one that trusts the fake Salesforce's CA
        self._api: SalesforceApi | None = None
        self._login = asyncio.Lock()
        self._slots = asyncio.Semaphore(concurrency)

    async def _client(self) -> SalesforceApi:
        async with self._login:
            if self._api is None:  # network I/O, off the event loop
                session = self.session() if self.session is not None else None
                self._api = await asyncio.to_thread(SalesforceApi, self.settings, session)
            return self._api

    async def deliver(self, items: list[DueItem]) -> list[Outcome]:
        try:
            api = await self._client()
        except SalesforceProblem as exc:
            return [Outcome(False, f"Salesforce login failed: {exc}")] * len(items)
        return list(await asyncio.gather(*(self._deliver(api, item) for item in items)))

    async def _deliver(self, api: SalesforceApi, item: DueItem) -> Outcome:
        async with self._slots:
            try:
                return await asyncio.to_thread(send, api, item)
            except SalesforceAuthError as exc:  # a session that cannot be renewed: log in afresh next round
                self._api = None
                return Outcome(False, str(exc))
            except RequestLimitExceeded as exc:
                return Outcome(False, str(exc))
            except SalesforceCallFailed as exc:
                return refusal(exc)
