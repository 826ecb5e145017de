"""Data-quality benchmark: the report on a 1M-call database, and what the monitor costs ingest.

    .venv/bin/python -m bench.quality [--calls 1000000 --people 100000] [--ingest-calls 30000]

- report: the cached benchmark database (bench/dataset.py; built once, a few minutes) gets
  its quality counters from `recount` once (the incremental counters equal the recount:
  tests/test_quality_counters.py), then a real server answers GET /v1/quality over the
  database's whole year for every grouping, and GET /v1/quality/alerts; p50/p99/max of
  sequential requests, client on the same machine.
- ingest cost: the same calls through the in-process writer with and without the quality
  observer, in 2,000-call batches and in 20-call batches (the per-batch upserts matter
  most for small batches); runs alternate so drift hits both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import msgspec
from rich.console import Console
from rich.table import Table

from bench.dataset import database_file
from bench.traffic import calls as generate_calls
from contextsvc.ingest import CallEvent, CallWork, Normaliser, Picklist, Work
from contextsvc.quality import Plausibility, QualityObserver, recount
from contextsvc.service import build_writer, open_database
from contextsvc.settings import REPO_ROOT, Settings
from tests.live import live_server

KEY = "bench-key"
console = Console()
PICKLIST = Picklist.load(REPO_ROOT / "seed" / "dispositions.toml")


def ensure_counters(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        has = conn.execute("SELECT name FROM sqlite_master WHERE name = 'quality_counts'").fetchone()
        if has and conn.execute("SELECT 1 FROM quality_counts LIMIT 1").fetchone():
            return

    async def run() -> int:
        settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{db}")
        async with open_database(settings) as engine, engine.connect() as conn:
            await conn.execution_options(writer=True)
            async with conn.begin():
                counted: int = await conn.run_sync(recount, Plausibility())
                return counted

    started = time.perf_counter()
    counted = asyncio.run(run())
    console.print(f"recounted quality counters from {counted:,} calls in {time.perf_counter() - started:.1f}s (once)")


def year_of(db: Path) -> tuple[str, str]:
    with sqlite3.connect(db) as conn:
        lo, hi = conn.execute("SELECT min(day), max(day) FROM quality_counts WHERE dimension = 'all'").fetchone()
    epoch = 719163  # date(1970, 1, 1).toordinal()
    from datetime import date

    return date.fromordinal(lo + epoch).isoformat(), date.fromordinal(hi + epoch).isoformat()


def time_requests(base: str, paths: list[str], repeat: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
        for path in paths:
            client.get(path).raise_for_status()  # warm the page cache and the statement cache
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(path)
                timings.setdefault(path, []).append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
    return timings


class TimedQuality(QualityObserver):
    """The real observer, timing its own share of each batch."""

    seconds = 0.0

    def in_transaction(self, conn, changes) -> None:
        started = time.perf_counter()
        super().in_transaction(conn, changes)
        self.seconds += time.perf_counter() - started

    def after_commit(self, changes) -> None:
        started = time.perf_counter()
        super().after_commit(changes)
        self.seconds += time.perf_counter() - started


class Run(msgspec.Struct):
    calls_per_s: float
    cpu_ms_per_1k: float  # process CPU (all threads) per 1,000 calls
    observer_share: float  # of wall time, inside the observer


async def ingest_run(events: list[dict], batch: int, observed: bool, path: Path) -> Run:
    normaliser = Normaliser(PICKLIST)
    work: list[Work] = [CallWork(normaliser.normalise(msgspec.convert(e, CallEvent), strict=True)) for e in events]
    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{path}", cache_size=100_000)
    observer = TimedQuality()
    async with open_database(settings) as engine:
        writer = build_writer(settings, engine, PICKLIST)
        if observed:
            writer.observe(observer)
        await writer.start()
        started, cpu = time.perf_counter(), time.process_time()
        for first in range(0, len(work), batch):
            await writer.submit(work[first : first + batch])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await writer.stop()
    return Run(len(work) / elapsed, cpu * 1e6 / len(work), observer.seconds / elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per report query")
    parser.add_argument("--ingest-calls", type=int, default=20_000)
    args = parser.parse_args()

    db = database_file(args.calls, args.people)
    ensure_counters(db)
    first, last = year_of(db)
    labels = {
        f"/v1/quality?from={first}&to={last}&group_by={g}": f"report, whole year, by {g}"
        for g in ("source", "rep", "queue", "day", "direction")
    }
    labels[f"/v1/quality?from={last}&to={last}&group_by=rep"] = "report, one day, by rep"
    labels["/v1/quality/alerts"] = "alerts"
    paths = list(labels)
    with tempfile.TemporaryDirectory() as tmp:
        with live_server(f"sqlite+aiosqlite:///{db}", KEY) as (base, _):
            timings = time_requests(base, paths, args.repeat)
        table = Table(
            title=f"GET /v1/quality on {args.calls:,} calls ({first} → {last}), {args.repeat} sequential requests each"
        )
        for column in ("request", "p50 ms", "p99 ms", "max ms", "target"):
            table.add_column(column)
        for path, ms in timings.items():
            ms.sort()
            table.add_row(
                labels[path],
                f"{statistics.median(ms):.1f}",
                f"{ms[min(len(ms) - 1, int(len(ms) * 0.99))]:.1f}",
                f"{ms[-1]:.1f}",
                "< 100 ms",
            )
        console.print(table)

        events = generate_calls(args.ingest_calls, args.ingest_calls // 10, seed=3, prefix="q")
        cost = Table(title="ingest with and without the quality observer (in-process writer; best of two runs each)")
        for column in (
            "batch size",
            "calls/s without",
            "calls/s with",
            "ratio",
            "CPU ms/1k calls without",
            "with",
            "ratio",
            "observer's share of wall time",
        ):
            cost.add_column(column, justify="right")
        for batch, count in ((2000, len(events)), (20, len(events) // 6)):
            runs: dict[bool, list[Run]] = {False: [], True: []}
            for n, observed in enumerate((False, True, False, True)):
                runs[observed].append(
                    asyncio.run(ingest_run(events[:count], batch, observed, Path(tmp) / f"i{batch}-{n}.db"))
                )
            plain = max(r.calls_per_s for r in runs[False]), min(r.cpu_ms_per_1k for r in runs[False])
            watched = max(r.calls_per_s for r in runs[True]), min(r.cpu_ms_per_1k for r in runs[True])
            share = min(r.observer_share for r in runs[True])
            cost.add_row(
                f"{batch} ({count:,} calls)",
                f"{plain[0]:,.0f}",
                f"{watched[0]:,.0f}",
                f"{watched[0] / plain[0]:.2f}",
                f"{plain[1]:,.0f}",
                f"{watched[1]:,.0f}",
                f"{watched[1] / plain[1]:.2f}",
                f"{share:.1%}",
            )
        console.print(cost)


if __name__ == "__main__":
    main()
