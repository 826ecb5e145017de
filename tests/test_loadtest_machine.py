"""The load-test gates' allowance for the machine (loadtests/host.py): what a slow or
stalling VM adds to the latency limits, and that a quiet reference machine adds nothing."""

from __future__ import annotations

import sys
import time

import pytest

from loadtests.host import MAX_STALL_MS, Platform, StallProbe, _cpu_ticks, stall_p99


def test_stall_p99_is_weighted_by_time_not_by_sample():
    # 9,900 on-time ticks and one 50 ms stall: one sample in 10,000, but 0.5% of the wall
    # time; with five of them the stalls hold ~2.4% of the time, so the p99 is a stall.
    one = [0.0] * 9_900 + [0.050]
    five = [0.0] * 9_900 + [0.050] * 5
    assert stall_p99(one) == 0.0
    assert stall_p99(five) == pytest.approx(0.050)


def test_a_quiet_reference_machine_leaves_the_slo_as_it_is():
    quiet = Platform(stall_p99_ms=0.0, stall_max_ms=0.3, stalled_share=0.0, steal=0.0, slowness=1.0)
    assert quiet.limit(20) == 20
    assert quiet.fit


def test_a_slow_stalling_machine_stretches_the_limit_and_adds_its_stalls():
    slow = Platform(stall_p99_ms=8.0, stall_max_ms=30.0, stalled_share=0.2, steal=0.15, slowness=2.0)
    assert slow.limit(20) == pytest.approx(20 * 2.0 / 0.8 + 8.0)
    unfit = Platform(stall_p99_ms=MAX_STALL_MS + 1, stall_max_ms=200.0, stalled_share=0.5, steal=0.4)
    assert not unfit.fit


def test_the_probe_sees_a_stall_of_its_own_process():
    with StallProbe(slowness=1.5) as probe:
        time.sleep(0.2)
        # Hold the GIL for 60 ms (no forced switch meanwhile): the probe's 1 ms sleep
        # cannot return, as when the hypervisor takes the core away.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1.0)
        try:
            deadline = time.perf_counter() + 0.060
            while time.perf_counter() < deadline:
                pass
        finally:
            sys.setswitchinterval(interval)
        time.sleep(0.2)
    found = probe.result()
    assert found.stall_max_ms >= 40
    assert found.slowness == 1.5
    assert 0 < found.stalled_share < 0.5


def test_steal_comes_from_the_aggregate_cpu_line(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 50 0 25 400 5 0 2 18 0 0\n")
    assert _cpu_ticks(stat) == (35, 1000)
    assert _cpu_ticks(tmp_path / "absent") is None
