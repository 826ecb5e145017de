"""Failover between workers (serve --standby, as --workers N sets) after kill -9 of the leader.

    .venv/bin/python -m bench.failover [--trials 5] [--backend sqlite|postgresql|both]

Per trial: a follower joins the leader on the same database and takes single POSTs from
a client thread without pause, handing them to the leader; the leader is killed (SIGKILL
to its process group). Measured: kill → the follower leads (`/health/ready` says role
leader), kill → the first write acknowledged after it, and acknowledged calls lost (every
call a worker answered 2xx must be in the database afterwards). The new leader then gets
a follower of its own, and the next trial kills it. Target: failover ≤ 5 s
(CONTEXTSVC_LEADER_TIMEOUT_S), 0 lost.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.dataset import fresh_database
from tests.helpers import KEYS, call_event
from tests.live import kill_group, live_server

console = Console()
WRITER = {"Authorization": "Bearer writer-key"}
ADMIN = {"Authorization": "Bearer admin-key"}


class Poster(threading.Thread):
    """Single POSTs, one after the other, to whichever server is current; remembers
    every call a server acknowledged."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.target: str | None = None
        self.acknowledged: list[str] = []
        self.acknowledged_at: list[float] = []
        self.refused = 0
        self._halt = threading.Event()
        self._next = 0

    def run(self) -> None:
        with httpx.Client(headers=WRITER, timeout=2) as client:
            while not self._halt.is_set():
                target = self.target
                if target is None:
                    time.sleep(0.01)
                    continue
                call_id = f"f{self._next}"
                try:
                    response = client.post(f"{target}/v1/calls", json=call_event(call_id, minutes=self._next % 10_000))
                except httpx.TransportError:
                    self.refused += 1
                    continue
                if response.status_code in (200, 201):
                    self.acknowledged.append(call_id)
                    self.acknowledged_at.append(time.monotonic())
                    self._next += 1
                else:
                    self.refused += 1

    def stop(self) -> None:
        self._halt.set()
        self.join()


def stored_calls(base: str) -> int:
    """Calls stored, as the serving server reads them: every call names the same person."""
    body = httpx.get(f"{base}/v1/context/(212)%20555-0142", headers=ADMIN, timeout=10).json()
    return int(body["summary"]["calls"])


def trials(backend: str, count: int) -> list[dict]:
    results = []
    with fresh_database(backend) as url, tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        leader = servers.enter_context(
            live_server(url, KEYS, wait_for="/health/ready", output=Path(tmp) / "0.log", standby="true")
        )
        poster = Poster()
        poster.start()
        for trial in range(count):
            follower = servers.enter_context(
                live_server(url, KEYS, wait_for="/health/ready", output=Path(tmp) / f"{trial + 1}.log", standby="true")
            )
            poster.target = follower[0]  # writes reach the leader through the follower
            time.sleep(1.0)
            kill_group(leader[1])
            killed = time.monotonic()
            while httpx.get(f"{follower[0]}/health/ready", timeout=2).json().get("role") != "leader":
                if time.monotonic() - killed > 30:
                    raise SystemExit(f"no worker led 30 s after the kill (logs in {tmp})")
                time.sleep(0.02)
            ready_s = time.monotonic() - killed
            # An answer already on its way at the kill does not count as the new leader's.
            while not poster.acknowledged_at or poster.acknowledged_at[-1] < killed + 0.05:
                time.sleep(0.005)
            first_write_s = poster.acknowledged_at[-1] - killed
            time.sleep(0.5)
            # Counted with the client paused: calls acknowledged while counting would fill in
            # for lost ones.
            poster.target = None
            time.sleep(0.3)
            acknowledged = len(poster.acknowledged)
            stored = stored_calls(follower[0])
            results.append(
                {
                    "ready_s": ready_s,
                    "first_write_s": first_write_s,
                    "acknowledged": acknowledged,
                    "lost": max(0, acknowledged - stored),
                }
            )
            leader = follower
        poster.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    table = Table(title=f"leader failover after kill -9, {args.trials} trials")
    for column in ("backend", "leads p50 / max s", "first write p50 / max s", "calls acknowledged", "lost"):
        table.add_column(column, justify="right")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        found = trials(backend, args.trials)
        ready = [r["ready_s"] for r in found]
        first = [r["first_write_s"] for r in found]
        table.add_row(
            backend,
            f"{statistics.median(ready):.2f} / {max(ready):.2f}",
            f"{statistics.median(first):.2f} / {max(first):.2f}",
            f"{found[-1]['acknowledged']:,}",
            str(sum(r["lost"] for r in found)),
        )
    console.print(table)


if __name__ == "__main__":
    main()
