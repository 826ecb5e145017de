"""Webhook dispatcher: delivers outbox rows, retries with backoff, at least once.

A background task started by the app's lifespan. It reads due rows on its own
connection, POSTs each signed payload with explicit timeouts, and records every
attempt through the writer (Writer.run). A crash or restart between a POST and its
record only means that delivery is attempted again, with the same idempotency key.
Rows of other target types (salesforce) go to the deliverer registered for that type,
with the same retries, backoff and dead letters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.activation import outbox
from contextsvc.activation.delivery import Deliverer, DueItem, Outcome
from contextsvc.activation.engine import Activation
from contextsvc.activation.model import WebhookTarget, target_type
from contextsvc.activation.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from contextsvc.activation.targets import UnsafeTarget
from contextsvc.timeutil import micros

log = logging.getLogger(__name__)
BATCH = 50
IDLE_RECHECK_S = 30.0


def _now_us() -> int:
    return micros(datetime.now(UTC))


class WebhookDispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        writer,
        activation: Activation,
        backoff: outbox.Backoff,
        timeout_s: float,
        clock: Callable[[], int] = _now_us,
    ) -> None:
        self.engine = engine
        self.writer = writer
        self.activation = activation
        self.backoff = backoff
        self.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self.clock = clock
        self.wake = asyncio.Event()
        activation.outbox_listeners.append(self.wake.set)
        self.deliverers: dict[str, Deliverer] = {}  # target types besides webhook
        # Told of every round's attempts once they are recorded (metrics); must not raise.
        self.attempt_listeners: list[Callable[[Sequence[outbox.Due], Sequence[outbox.Attempt]], None]] = []

    def add_deliverer(self, kind: str, deliverer: Deliverer) -> None:
        """Deliver the outbox rows of `kind` targets through `deliverer`; rules with such a
        target can be created from now on."""
        self.deliverers[kind] = deliverer
        self.activation.deliverable.add(kind)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            while True:
                try:
                    await self._round(client)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook dispatch round failed; retrying shortly")
                    await asyncio.sleep(1.0)

    async def _round(self, client: httpx.AsyncClient) -> None:
        self.wake.clear()  # before reading: a commit after the read wakes the wait below
        now = self.clock()
        async with self.engine.connect() as conn:
            rows = await conn.run_sync(outbox.due, now, BATCH)
            next_at = None if rows else await conn.run_sync(outbox.next_due_at)
        if not rows:
            wait = IDLE_RECHECK_S if next_at is None else max(0.0, (next_at - now) / 1e6)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), min(wait, IDLE_RECHECK_S))
            return
        webhook_rows, others = self._by_target_type(rows)
        webhooks = asyncio.gather(*(self._deliver(client, row) for row in webhook_rows))
        groups = await asyncio.gather(webhooks, *(self._deliver_with(kind, items) for kind, items in others.items()))
        attempts = [attempt for group in groups for attempt in group]
        await self.writer.run(lambda conn: outbox.record(conn, attempts, self.backoff))
        for listener in self.attempt_listeners:
            listener(rows, attempts)

    # --- other target types ----------------------------------------------------------

    def _by_target_type(self, rows: list[outbox.Due]) -> tuple[list[outbox.Due], dict[str, list[DueItem]]]:
        """Webhook rows (and rows of deleted rules, which _deliver dead-letters), and the
        rest by target type."""
        webhooks: list[outbox.Due] = []
        others: dict[str, list[DueItem]] = {}
        for row in rows:
            rule = self.activation.rules.get(row.rule_id)
            if rule is None or isinstance(rule.target, WebhookTarget):
                webhooks.append(row)
            else:
                others.setdefault(target_type(rule.target), []).append(DueItem(row, rule.target))
        return webhooks, others

    async def _deliver_with(self, kind: str, items: list[DueItem]) -> list[outbox.Attempt]:
        deliverer = self.deliverers.get(kind)
        if deliverer is None:  # e.g. Salesforce credentials removed since the rule was made
            outcomes = [Outcome(False, f"nothing delivers {kind} targets on this server (not configured)")] * len(items)
        else:
            try:
                outcomes = await deliverer.deliver(items)
            except Exception as exc:  # a bug or an outage of the deliverer: every item is retried
                log.exception("%s delivery failed", kind)
                outcomes = [Outcome(False, f"{type(exc).__name__}: {exc}"[:500])] * len(items)
        now = self.clock()
        return [
            outbox.Attempt(item.row.id, item.row.attempts + 1, o.ok, o.error and o.error[:500], now, o.final)
            for item, o in zip(items, outcomes, strict=True)
        ]

    async def _deliver(self, client: httpx.AsyncClient, row: outbox.Due) -> outbox.Attempt:
        rule = self.activation.rules.get(row.rule_id)
        attempts = row.attempts + 1
        if rule is None or not isinstance(rule.target, WebhookTarget):
            return outbox.Attempt(row.id, self.backoff.max_attempts, False, "the rule was deleted", self.clock())
        try:  # again at delivery: what the name resolves to may have changed since registration
            target = await self.activation.outbound.vet(row.url)
        except UnsafeTarget as exc:
            return outbox.Attempt(row.id, attempts, False, f"refused target: {exc.reason}"[:500], self.clock())
        timestamp = int(time.time())
        headers = {
            "Host": target.host_header(),
            "Content-Type": "application/json",
            "User-Agent": "contextsvc-webhooks/1",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(rule.target.secret or "", timestamp, row.payload),
            IDEMPOTENCY_HEADER: row.event_uuid,
        }
        try:
            # To the address just checked; TLS still verifies the certificate for the URL's host.
            response = await client.post(
                target.pinned_url(),
                content=row.payload,
                headers=headers,
                extensions={"sni_hostname": target.host} if target.scheme == "https" else None,
            )
        except httpx.HTTPError as exc:
            return outbox.Attempt(row.id, attempts, False, f"{type(exc).__name__}: {exc}"[:500], self.clock())
        if 200 <= response.status_code < 300:
            return outbox.Attempt(row.id, attempts, True, None, self.clock())
        return outbox.Attempt(
            row.id, attempts, False, f"HTTP {response.status_code}: {response.text[:200]}", self.clock()
        )
