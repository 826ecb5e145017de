"""Metrics read when Prometheus scrapes, not counted as things happen: the writer's
backlog, cache and memo hit counts and sizes, people known, segment sizes, SSE
subscribers (in memory, read as they are), and what lives in the database — quarantine
size, webhook outbox backlog, shared lines, quality alerts, Salesforce sync freshness —
read by one short query round per scrape (`DatabaseState.refresh`, awaited by the
/metrics handler before the registry is rendered).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import msgspec
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.activation import EventHub, outbox
from contextsvc.context import ContextMemo
from contextsvc.pipeline import Writer
from contextsvc.quality import alerts_by_metric
from contextsvc.salesforce import SalesforceJob, SyncStatus, sync_status
from contextsvc.segments import Segments
from contextsvc.store import tables

log = logging.getLogger(__name__)


class Snapshot(msgspec.Struct, frozen=True):
    quarantine: int
    shared_lines: int
    outbox: outbox.Backlog
    alerts: dict[str, int]
    salesforce: list[SyncStatus]


def _read(conn: Connection) -> Snapshot:
    count = lambda table: conn.execute(select(func.count()).select_from(table)).scalar() or 0  # noqa: E731
    return Snapshot(
        count(tables.quarantine),
        count(tables.shared_lines),
        outbox.backlog(conn),
        alerts_by_metric(conn),
        sync_status(conn),
    )


class DatabaseState(Collector):
    """The database's part of the metrics, as of the last refresh."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.snapshot: Snapshot | None = None
        self.up = False

    async def refresh(self) -> None:
        try:
            async with self.engine.connect() as conn:
                self.snapshot = await conn.run_sync(_read)
            self.up = True
        except Exception as exc:  # a scrape reports the database down; it does not fail
            self.up, self.snapshot = False, None  # no stale figures in its place
            log.warning("metrics: could not read the database: %s: %s", type(exc).__name__, exc)

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("contextsvc_database_up", "1 when the last scrape could read the database.", self.up)
        snapshot = self.snapshot
        if snapshot is None:
            return
        yield GaugeMetricFamily(
            "contextsvc_quarantine_items", "Rejected items kept in quarantine.", snapshot.quarantine
        )
        yield GaugeMetricFamily(
            "contextsvc_identity_shared_lines", "Numbers known to be shared lines.", snapshot.shared_lines
        )
        backlog = GaugeMetricFamily(
            "contextsvc_webhook_outbox",
            "Webhook deliveries waiting (pending) or given up (dead letters).",
            labels=["status"],
        )
        backlog.add_metric(["pending"], snapshot.outbox.pending)
        backlog.add_metric(["dead"], snapshot.outbox.dead)
        yield backlog
        oldest = snapshot.outbox.oldest_pending_at
        yield GaugeMetricFamily(
            "contextsvc_webhook_oldest_pending_age_seconds",
            "How long the oldest undelivered webhook event has waited (0 when none waits).",
            max(0.0, time.time() - oldest / 1e6) if oldest is not None else 0.0,
        )
        alerts = CounterMetricFamily(
            "contextsvc_quality_alerts_raised", "Data-quality degradation alerts raised, by rate.", labels=["metric"]
        )
        for metric, count in sorted(snapshot.alerts.items()):
            alerts.add_metric([metric], count)
        yield alerts
        last = GaugeMetricFamily(
            "contextsvc_salesforce_last_sync_timestamp_seconds",
            "When each sObject was last read from Salesforce (unix time).",
            labels=["sobject"],
        )
        lag = GaugeMetricFamily(
            "contextsvc_salesforce_sync_lag_seconds",
            "How long since each sObject was last read: changes made in Salesforce since are not in yet.",
            labels=["sobject"],
        )
        watermark = GaugeMetricFamily(
            "contextsvc_salesforce_watermark_timestamp_seconds",
            "SystemModstamp of the newest record read for each sObject (unix time).",
            labels=["sobject"],
        )
        now = time.time()
        for status in snapshot.salesforce:
            last.add_metric([status.sobject], status.synced_at / 1e6)
            lag.add_metric([status.sobject], max(0.0, now - status.synced_at / 1e6))
            watermark.add_metric([status.sobject], status.watermark / 1e6)
        yield last
        yield lag
        yield watermark


class MemoryState(Collector):
    """The running service's in-memory state, read as it is at scrape time."""

    def __init__(
        self,
        writer: Writer,
        memo: ContextMemo,
        hub: EventHub,
        segments: Segments,
        salesforce: SalesforceJob | None = None,
    ) -> None:
        self.writer, self.memo, self.hub, self.segments = writer, memo, hub, segments
        self.salesforce = salesforce

    def collect(self) -> Iterator[Metric]:
        writer, cache, memo = self.writer, self.writer.cache, self.memo
        yield GaugeMetricFamily("contextsvc_writer_up", "1 while the writer takes writes.", int(writer.running))
        yield GaugeMetricFamily(
            "contextsvc_writer_queue_depth", "Requests waiting for a writer transaction.", writer.queued
        )
        lookups = CounterMetricFamily(
            "contextsvc_cache_lookups",
            "Look-ups in the profile cache (decoded states) and the context memo (assembled contexts).",
            labels=["cache", "result"],
        )
        lookups.add_metric(["profile", "hit"], cache.hits)
        lookups.add_metric(["profile", "miss"], cache.misses)
        lookups.add_metric(["context_memo", "hit"], memo.hits)
        lookups.add_metric(["context_memo", "miss"], memo.misses)
        yield lookups
        entries = GaugeMetricFamily("contextsvc_cache_entries", "Entries held.", labels=["cache"])
        entries.add_metric(["profile"], len(cache))
        entries.add_metric(["context_memo"], len(memo))
        yield entries
        capacity = GaugeMetricFamily("contextsvc_cache_capacity", "Entries each may hold.", labels=["cache"])
        capacity.add_metric(["profile"], cache.max_entries)
        capacity.add_metric(["context_memo"], memo.max_entries)
        yield capacity
        yield GaugeMetricFamily(
            "contextsvc_identity_individuals", "People known to the identity graph.", len(writer.graph)
        )
        yield GaugeMetricFamily(
            "contextsvc_sse_subscribers", "Clients connected to /v1/events/stream.", self.hub.subscribers
        )
        view = self.segments.view
        visible = [s for s in view.segments.values() if s.rule_id is None]  # not activation rules' hidden ones
        count = GaugeMetricFamily("contextsvc_segments", "Segments defined, by subject.", labels=["subject"])
        for subject in ("individual", "account"):
            count.add_metric([subject], sum(1 for s in visible if s.subject == subject))
        yield count
        members = GaugeMetricFamily(
            "contextsvc_segment_members", "Members of each segment now.", labels=["segment", "name"]
        )
        for segment in visible:
            members.add_metric([segment.id, segment.name[:100]], view.counts.get(segment.id, 0))
        yield members
        state = self.salesforce.state if self.salesforce is not None else None
        if state is not None and state.configured:  # the server's own sync job (README "Salesforce")
            yield CounterMetricFamily(
                "contextsvc_salesforce_sync_passes", "Sync passes the server started.", state.passes
            )
            yield GaugeMetricFamily(
                "contextsvc_salesforce_sync_last_success_timestamp_seconds",
                "When the server's last successful sync pass ended (unix time; 0: none yet).",
                state.last_success_at.timestamp() if state.last_success_at else 0.0,
            )
            yield GaugeMetricFamily(
                "contextsvc_salesforce_sync_failing",
                "1 when the last pass failed (its error is in the log).",
                int(state.last_error is not None),
            )
