"""The Prometheus instruments the service updates as it works (requests, commits, ingest
results, merges, webhook attempts), on one registry per running service.

Everything that is a state rather than an event (queue depth, cache sizes, hit counts,
outbox backlog, segment sizes, SSE subscribers, Salesforce sync lag) is read when
Prometheus scrapes, by the collectors in `state.py`, and costs the hot path nothing.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from contextsvc import __version__

# No `_created` series beside every counter and histogram: half the text per scrape, and
# Prometheus itself ignores them unless told otherwise.
disable_created_metrics()

# Warm context reads take ~0.3 ms, cold ones a few ms, a 5,000-call batch ~1 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 5000)
# Webhook delivery latency: from the change's commit to the receiver's 2xx, retries included.
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)


class BoundedLabel:
    """A label whose values come from clients (an ingest `source`): the first `limit`
    distinct values are kept as sent (cut to 40 characters), later ones become "other",
    so a client cannot grow the number of series without bound."""

    __slots__ = ("limit", "_known")

    def __init__(self, limit: int = 20) -> None:
        self.limit = limit
        self._known: dict[str | None, str] = {None: "none"}

    def __call__(self, value: str | None) -> str:
        known = self._known.get(value)
        if known is not None:
            return known
        if len(self._known) > self.limit:
            return "other"
        label = value[:40] if value else "none"
        self._known[value] = label
        return label


class Instruments:
    """The event instruments, on their own registry (so two services in one process, as
    in the tests, never add to each other's counts)."""

    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        Info("contextsvc_build", "The running version.", registry=registry).info({"version": __version__})
        # The request count is this histogram's _count series.
        self.http_duration = Histogram(
            "contextsvc_http_request_duration_seconds",
            "HTTP requests by route template, method and status, and how long each took.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ingest_items = Counter(
            "contextsvc_ingest_items",
            "Call events committed, by result (accepted, duplicate, updated, stale, conflict, rejected, "
            "retracted) and the source they name (first 20 sources; later ones are 'other').",
            ["result", "source"],
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "contextsvc_writer_commit_seconds",
            "Writer transactions from BEGIN to COMMIT, by kind (ingest or operation).",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_items = Histogram(
            "contextsvc_writer_batch_items",
            "Work items (calls, rejects, retractions) per ingest transaction: group commit at work.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.commit_failures = Counter(
            "contextsvc_writer_commit_failures",
            "Writer transactions rolled back by a store failure (their requests got 503).",
            registry=registry,
        )
        self.merges = Counter(
            "contextsvc_identity_merges", "Individuals merged into another, by rule.", ["rule"], registry=registry
        )
        self.shared_lines = Counter(
            "contextsvc_identity_shared_lines_detected",
            "Phone numbers found to be shared lines (they stop linking people).",
            registry=registry,
        )
        self.webhook_attempts = Counter(
            "contextsvc_webhook_attempts",
            "Webhook delivery attempts by outcome: delivered, retry (failed, will retry) or dead (gave up).",
            ["outcome"],
            registry=registry,
        )
        self.webhook_latency = Histogram(
            "contextsvc_webhook_delivery_latency_seconds",
            "From the commit of the change that caused an event to its successful delivery.",
            buckets=DELIVERY_BUCKETS,
            registry=registry,
        )
        self.sources = BoundedLabel()
        # Series that exist from the start at 0, so rate() and alerts see them before the first event.
        for kind in ("ingest", "operation"):
            self.commit_seconds.labels(kind)
        for outcome in ("delivered", "retry", "dead"):
            self.webhook_attempts.labels(outcome)
