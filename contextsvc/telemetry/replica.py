"""A worker's replica in its metrics (several workers with Redis): whether it trusts its
caches, how its context reads were served (from them, or through to the database), the
change messages it applied and the resynchronisations it went through, and its caches'
hits and sizes. Every worker runs a replica, the leader too (it hears its own messages),
so these series exist on every worker; a follower also reports its stream's subscribers,
which on the leader the service's own state reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contextsvc.replica import Replica


class ReplicaState(Collector):
    def __init__(self, replica: Replica, leading: Callable[[], bool]) -> None:
        self.replica = replica
        self.leading = leading

    def describe(self) -> list[Metric]:
        # Nothing declared up front: contextsvc_sse_subscribers is the service's while this
        # worker leads, and the registry must not count it twice.
        return []

    def collect(self) -> Iterator[Metric]:
        replica = self.replica
        yield GaugeMetricFamily(
            "contextsvc_replica_caches_trusted",
            "1 while this worker's caches are kept current by the leader's change messages; 0 while it reads through.",
            int(replica.trusted),
        )
        reads = CounterMetricFamily(
            "contextsvc_replica_reads", "Context reads this worker served itself, by where from.", labels=["served"]
        )
        reads.add_metric(["cached"], replica.reads.served_cached)
        reads.add_metric(["through"], replica.reads.served_through)
        yield reads
        yield CounterMetricFamily(
            "contextsvc_replica_messages", "Change messages applied (heartbeats included).", value=replica.applied
        )
        yield CounterMetricFamily(
            "contextsvc_replica_resyncs",
            "Times every cache was dropped to catch up (a new subscription, a missed message, a new leader).",
            value=replica.resyncs,
        )
        lookups = CounterMetricFamily(
            "contextsvc_replica_cache_lookups", "Look-ups in the replica's caches.", labels=["cache", "result"]
        )
        entries = GaugeMetricFamily("contextsvc_replica_cache_entries", "Entries held.", labels=["cache"])
        caches = (
            ("identity", replica.identity_cache),
            ("profile", replica.profile_cache),
            ("context_memo", replica.memo),
        )
        for name, cache in caches:
            lookups.add_metric([name, "hit"], cache.hits)
            lookups.add_metric([name, "miss"], cache.misses)
            entries.add_metric([name], len(cache))
        yield lookups
        yield entries
        if not self.leading():
            yield GaugeMetricFamily(
                "contextsvc_sse_subscribers", "Clients connected to /v1/events/stream.", replica.events.subscribers
            )
