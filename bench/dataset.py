"""Benchmark databases: N calls over P people, ingested through the real writer.

Built once per (calls, people) and kept under var/bench/, since a million calls take a
few minutes to ingest. Delete the file to rebuild.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
from rich.progress import Progress

from bench.traffic import calls as generate_calls
from contextsvc.ingest import CallEvent, CallWork, Normaliser
from contextsvc.service import build_writer, load_picklist, open_database
from contextsvc.settings import REPO_ROOT, Settings

BENCH_DIR = REPO_ROOT / "var" / "bench"


async def _ingest(path: Path, calls: int, people: int, chunk: int = 5000) -> float:
    """The writer alone (identity, call log, profiles): the data context reads measure."""
    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{path}", cache_size=200_000)
    picklist = load_picklist(settings)
    normaliser = Normaliser(picklist)
    async with open_database(settings) as engine:
        writer = build_writer(settings, engine, picklist)
        await writer.start()
        started = time.perf_counter()
        try:
            with Progress() as progress:
                task = progress.add_task(f"ingesting {calls:,} calls", total=calls)
                for first in range(0, calls, chunk):
                    events = generate_calls(
                        min(chunk, calls - first), people, seed=first, prefix="b", first_index=first,
                        seconds_apart=365 * 86_400 / calls,  # a year of traffic whatever the size
                    )
                    work = [CallWork(normaliser.normalise(msgspec.convert(e, CallEvent), strict=True)) for e in events]
                    await writer.submit(work)
                    progress.advance(task, len(work))
        finally:
            await writer.stop()
    return time.perf_counter() - started


def database(calls: int, people: int) -> Path:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"calls{calls}-people{people}.db"
    if not path.exists():
        partial = path.with_suffix(".partial")
        for leftover in BENCH_DIR.glob(partial.name + "*"):
            leftover.unlink()
        elapsed = asyncio.run(_ingest(partial, calls, people))
        print(f"built {path.name}: {calls / elapsed:,.0f} calls/s in-process (writer only)")
        for suffix in ("-wal", "-shm"):
            Path(str(partial) + suffix).unlink(missing_ok=True)
        partial.rename(path)
    return path
