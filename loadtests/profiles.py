"""Load profiles: how many of each user, at what pace, for how long, and the SLOs they gate.

Rates are per user (Poisson arrivals: locustfile.PacedUser); the totals are in the table in README.
"""

from __future__ import annotations

import msgspec


class Profile(msgspec.Struct, frozen=True):
    name: str
    seconds: int
    # scenario: a population and enough days of traffic for the writers to never run dry
    scenario: tuple[str, ...]
    history_days: int
    readers: int  # agent grounding reads
    reads_per_user: float  # per second
    single_writers: int  # CTI adapters posting each call as it ends
    singles_per_user: float
    batch_writers: int  # dialers flushing batches
    batches_per_user: float
    batch_size: int
    probers: int  # freshness probes
    probes_per_user: float
    # SLOs: any breach makes the run fail
    context_p99_ms: float
    freshness_p99_ms: float = 50.0
    max_error_rate: float = 0.0
    min_completeness: float = 1.0
    min_identity_f1: float = 0.99  # pairwise F1 of who was resolved to whom, against the truth

    @property
    def users(self) -> int:
        return self.readers + self.single_writers + self.batch_writers + self.probers

    def tail_calls(self) -> int:
        """Calls the writers can post in the run, with a margin."""
        per_second = (
            self.single_writers * self.singles_per_user
            + self.batch_writers * self.batches_per_user * self.batch_size
            + self.probers * self.probes_per_user
        )
        return int(per_second * self.seconds * 1.5) + 1000


PROFILES = {
    p.name: p
    for p in (
        # CI: small population, light load (40 reads/s, ~19 calls/s: 5 single POSTs, 10 in
        # batches of 20, probes), 30 s, on a shared 2-core VM. Its p99s are made of the few
        # moments a probe lands behind a batch's transaction or the VM stalls; batches of 20
        # keep the first short, the runner measures the second (loadtests/host.py).
        Profile(
            name="smoke",
            seconds=30,
            scenario=("population.accounts=150", "days=40"),
            history_days=20,
            readers=4,
            reads_per_user=10,
            single_writers=1,
            singles_per_user=5,
            batch_writers=1,
            batches_per_user=0.5,
            batch_size=20,
            probers=2,
            probes_per_user=2,
            context_p99_ms=20,
        ),
        # Sustained load on one node, shared with Locust on the same 2 cores: 240 context
        # reads/s and ~50 calls/s (20 single POSTs, 25 in batches of 50, probes) — about five
        # times the peak call rate of a 5,000-agent contact centre. Recorded in BENCHMARKS.md.
        Profile(
            name="standard",
            seconds=120,
            scenario=("days=120",),
            history_days=60,
            readers=16,
            reads_per_user=15,
            single_writers=2,
            singles_per_user=10,
            batch_writers=1,
            batches_per_user=0.5,
            batch_size=50,
            probers=2,
            probes_per_user=2,
            context_p99_ms=10,
        ),
        # Three times standard: on 2 cores shared with Locust it breaches the latency SLOs,
        # and its figures show where and how latency bends.
        Profile(
            name="stress",
            seconds=120,
            scenario=("days=180",),
            history_days=60,
            readers=48,
            reads_per_user=15,
            single_writers=6,
            singles_per_user=10,
            batch_writers=3,
            batches_per_user=0.5,
            batch_size=50,
            probers=2,
            probes_per_user=2,
            context_p99_ms=10,
        ),
    )
}
