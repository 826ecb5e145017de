"""The writer alone, in-process (no HTTP): calls/s by batch size, with and without the
side branches (segments, insights, quality, activation). Separates the writer's own cost
from the HTTP layer's when batch ingest falls short. Then, by batch size, how long one
commit takes and the longest the event loop waits meanwhile: what a context read served
by the same process waits for behind the writer (store/writer_connection.py).

    .venv/bin/python -m bench.writer [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

import msgspec
from rich.console import Console
from rich.table import Table

from bench.traffic import calls
from contextsvc.ingest import CallEvent, CallWork, Normaliser, Picklist, Work
from contextsvc.service import SideBranches, build_writer, open_database
from contextsvc.settings import REPO_ROOT, Settings

PICKLIST = Picklist.load(REPO_ROOT / "seed" / "dispositions.toml")


async def measure(work: list[Work], warm: int, size: int, side_branches: bool) -> tuple[float, float]:
    """(calls/s, ms per commit) for `size`-call submits after `warm` calls of history."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp}/w.db", commit_slice=1_000_000)
        async with open_database(settings) as engine:
            writer = build_writer(settings, engine, PICKLIST)
            if side_branches:
                SideBranches(settings, PICKLIST, writer)
            await writer.start()
            try:
                await writer.submit(work[:warm])
                measured = work[warm:]
                started = time.perf_counter()
                for first in range(0, len(measured), size):
                    await writer.submit(measured[first : first + size])
                elapsed = time.perf_counter() - started
            finally:
                await writer.stop()
    return len(measured) / elapsed, elapsed / -(-len(measured) // size) * 1000


STALL_SIZES = (1, 8, 50, 51, 200, 2000)  # 50 and 51: either side of INLINE_MAX_ITEMS
STALL_REPEATS = 7


async def _loop_gaps(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def stalls(work: list[Work], warm: int) -> list[tuple[int, float, float]]:
    """(batch size, median ms per commit, median of each commit's longest loop stall)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp}/w.db")
        async with open_database(settings) as engine:
            writer = build_writer(settings, engine, PICKLIST)
            SideBranches(settings, PICKLIST, writer)
            await writer.start()
            try:
                await writer.submit(work[:warm])
                position = warm
                for size in STALL_SIZES:
                    commits, longest = [], []
                    for _ in range(STALL_REPEATS):
                        gaps: list[float] = []
                        stop = asyncio.Event()
                        watcher = asyncio.create_task(_loop_gaps(gaps, stop))
                        await asyncio.sleep(0.001)
                        started = time.perf_counter()
                        await writer.submit(work[position : position + size])
                        commits.append(time.perf_counter() - started)
                        stop.set()
                        await watcher
                        longest.append(max(gaps))
                        position += size
                    rows.append((size, statistics.median(commits) * 1000, statistics.median(longest) * 1000))
            finally:
                await writer.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000, help="measured calls (as many again are history)")
    args = parser.parse_args()
    normaliser = Normaliser(PICKLIST)
    events = calls(2 * args.calls, args.calls // 5)
    work: list[Work] = [CallWork(normaliser.normalise(msgspec.convert(e, CallEvent), strict=True)) for e in events]
    table = Table(title=f"writer in-process: {args.calls:,} calls after {args.calls:,} of history")
    for column in ("side branches", "calls per submit", "calls/s", "ms per commit"):
        table.add_column(column, justify="right")
    for side_branches in (False, True):
        for size in (64, 256, 5000):
            rate, per_commit = asyncio.run(measure(work, args.calls, size, side_branches))
            table.add_row("on" if side_branches else "off", f"{size:,}", f"{rate:,.0f}", f"{per_commit:.1f}")
    console = Console()
    console.print(table)
    stall_table = Table(title="one commit beside readers (SQLite, side branches on; medians of 7)")
    for column in ("calls per submit", "ms per commit", "longest loop stall, ms"):
        stall_table.add_column(column, justify="right")
    for size, per_commit, stall in asyncio.run(stalls(work, args.calls)):
        stall_table.add_row(f"{size:,}", f"{per_commit:.2f}", f"{stall:.2f}")
    console.print(stall_table)


if __name__ == "__main__":
    main()
