"""How fast this machine generates the default scenario: the simulator's own benchmark,
and the load-test runner's yardstick for how fast the machine's CPU is today."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from simulator.output import write
from simulator.population import build_world
from simulator.scenario import load
from simulator.traffic import Traffic


def generation_rate(days: int, clock: Callable[[], float] = time.perf_counter) -> tuple[float, int]:
    """(calls per second of `clock`, calls) for writing `days` of the default scenario's
    traffic; the world is built before the clock starts."""
    scenario = load("default", [f"days={days}"])
    world = build_world(scenario)
    with tempfile.TemporaryDirectory() as tmp:
        started = clock()
        count = write(world, Traffic(world, scenario), Path(tmp) / "calls.ndjson", Path(tmp) / "truth.ndjson")
        return count / (clock() - started), count
