"""How much the machine itself stalled during a run: the platform's share of the tail.

CI and cloud machines are virtual: the hypervisor runs other guests on the same physical
cores and takes ours away in bursts. On the 2-core VMs this project is tested on, the same
code and the same smoke load gave context p99 19 ms and 53 ms a few minutes apart (top
showed `40.0 us, 60.0 st` in the bad minutes); a burst of tens of milliseconds delays every
request in flight, whatever the service does, and the p99 of a 30-second run is made of a
handful of such bursts.

And the machine's CPU itself may be slower than the one the SLOs were set on: the same
simulator benchmark (`make bench`: 60,878 calls/s there) generated 17,772 calls/s on a
slow day here. Before the load, the runner times that benchmark in CPU time (process
time: stolen time does not count) and takes the ratio as the machine's *slowness* (never
below 1).

During the load, the runner measures the platform's stalls, the way jHiccup does for the
JVM: a thread of the runner (idle otherwise: Locust is a subprocess) asks to sleep 1 ms
over and over, and every overshoot is time when a ready thread could not run — stolen by
the hypervisor, or the cores busy with Locust and the rest. Weighted by time, the stall
that 1% of the run's wall time sat in is what a request at the 99th percentile could have
shared; and the share of the run's time spent stalled is CPU the machine did not give,
which stretches every piece of work by 1 / (1 - share). The latency gates allow both:
limit = SLO × slowness × stretch + stall p99. Overshoot is counted beyond the median one (the
timer's normal wake-up slack, ~0.1 ms), so an idle machine adds nothing. The service's own
stalls (a long transaction on its event loop) do not show up here: the probe runs in
another process, on whichever core is free.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import msgspec

from simulator.speed import generation_rate

PROC_STAT = Path("/proc/stat")
TICK_S = 0.001
# A machine whose stalls alone exceed this at the 99th percentile cannot say anything
# about a 20 ms SLO: the latency gates fail rather than allow more.
MAX_STALL_MS = 50.0
# `simulator.speed.generation_rate(365)` on the machine where the SLOs were set and the
# smoke test ran at context p99 ~8 ms, freshness p99 ~25 ms (BENCHMARKS.md, simulator).
REFERENCE_CALLS_PER_S = 60_878
CALIBRATION_DAYS = 365


def slowness() -> float:
    """How many times slower than the reference this machine's CPU runs the simulator."""
    rate, _ = generation_rate(CALIBRATION_DAYS, clock=time.process_time)
    return max(1.0, REFERENCE_CALLS_PER_S / rate)


class Platform(msgspec.Struct, frozen=True):
    stall_p99_ms: float  # time-weighted: 1% of the run's wall time sat in stalls at least this long
    stall_max_ms: float
    stalled_share: float  # of the run's wall time spent stalled (overshoot beyond the median)
    steal: float | None  # the hypervisor's share of the CPU time (/proc/stat), where Linux reports it
    slowness: float = 1.0  # CPU time per simulated call against the reference machine's, at least 1

    @property
    def fit(self) -> bool:
        return self.stall_p99_ms <= MAX_STALL_MS

    def limit(self, slo_ms: float) -> float:
        return slo_ms * self.slowness / (1 - min(self.stalled_share, 0.9)) + self.stall_p99_ms


def stall_p99(overshoots_s: list[float], tick_s: float = TICK_S) -> float:
    """The overshoot o such that iterations overshooting more than o hold at most 1% of the
    wall time, each iteration weighted by how long it lasted (tick + overshoot)."""
    if not overshoots_s:
        return 0.0
    ordered = sorted(overshoots_s, reverse=True)
    budget = 0.01 * sum(tick_s + o for o in ordered)
    held = 0.0
    for overshoot in ordered:
        held += tick_s + overshoot
        if held > budget:
            return overshoot
    return ordered[-1]


def _cpu_ticks(stat: Path = PROC_STAT) -> tuple[int, int] | None:
    """(steal, total) from the aggregate `cpu` line: user nice system idle iowait irq
    softirq steal; guest time is already inside user and nice."""
    try:
        fields = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if fields[0] != "cpu" or len(fields) < 9:
        return None
    ticks = [int(value) for value in fields[1:9]]
    return ticks[7], sum(ticks)


class StallProbe:
    """Started before the load, stopped after it; `result()` is the platform's report."""

    def __init__(self, slowness: float = 1.0) -> None:
        self._slowness = slowness
        self._overshoots: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="stall-probe", daemon=True)
        self._ticks_before: tuple[int, int] | None = None
        self._ticks_after: tuple[int, int] | None = None

    def __enter__(self) -> StallProbe:
        self._ticks_before = _cpu_ticks()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._ticks_after = _cpu_ticks()

    def _sample(self) -> None:
        record = self._overshoots.append
        clock = time.perf_counter
        while not self._stop.is_set():
            started = clock()
            time.sleep(TICK_S)
            record(max(0.0, clock() - started - TICK_S))

    def result(self) -> Platform:
        slack = sorted(self._overshoots)[len(self._overshoots) // 2] if self._overshoots else 0.0
        overshoots = [max(0.0, o - slack) for o in self._overshoots]
        wall = sum(TICK_S + slack + o for o in overshoots)
        steal = None
        if self._ticks_before and self._ticks_after and self._ticks_after[1] > self._ticks_before[1]:
            steal = (self._ticks_after[0] - self._ticks_before[0]) / (self._ticks_after[1] - self._ticks_before[1])
        return Platform(
            stall_p99_ms=stall_p99(overshoots) * 1000,
            stall_max_ms=max(overshoots, default=0.0) * 1000,
            stalled_share=sum(overshoots) / wall if wall else 0.0,
            steal=steal,
            slowness=self._slowness,
        )
