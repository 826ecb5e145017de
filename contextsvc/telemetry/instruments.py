"""The Prometheus instruments the service updates as it works (requests, commits, ingest
results, merges, webhook attempts), on one registry per running service.

Everything that is a state rather than an event (queue depth, cache sizes, hit counts,
outbox backlog, segment sizes, SSE subscribers, Salesforce sync lag) is read when
Prometheus scrapes, by the collectors in `state.py`, and costs the hot path nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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


class RequestHistogram(Collector):
    """The request-duration histogram, kept as plain lists: one per label set, a count per
    bucket and the sum last. prometheus_client's Histogram takes a lock for the sum and
    one for the bucket and walks the bounds in Python: 2 µs per request in this app
    (measured, bench/observability.py), most of the budget the issue gives metrics and
    logging together. Requests are counted on the event loop's one thread, and /metrics
    is rendered there too, so nothing here needs a lock; a bisect (C) finds the bucket.
    Rendered by prometheus_client's own HistogramMetricFamily."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self.bounds = tuple(buckets)
        self._series: dict[tuple[str, ...], list[float]] = {}

    def series(self, *labels: str) -> list[float]:
        """The list to count into: `counts[bisect_left(bounds, seconds)] += 1; counts[-1] += seconds`."""
        found = self._series.get(labels)
        if found is None:
            found = self._series[labels] = [0.0] * (len(self.bounds) + 2)  # buckets, +Inf, sum
        return found

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        edges = [floatToGoString(bound) for bound in self.bounds] + ["+Inf"]
        for labels, counts in self._series.items():
            cumulative, buckets = 0.0, []
            for edge, count in zip(edges, counts[:-1], strict=True):
                cumulative += count
                buckets.append((edge, cumulative))
            family.add_metric(list(labels), buckets, counts[-1])
        yield family


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
        self.http_duration = RequestHistogram(
            "contextsvc_http_request_duration_seconds",
            "HTTP requests by route template, method and status, and how long each took to start its response.",
            ["route", "method", "status"],
            LATENCY_BUCKETS,
        )
        registry.register(self.http_duration)
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
