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
from contextsvc.identity.graph import IdentityGraph
from contextsvc.ingest.dispositions import Picklist
from contextsvc.ingest.events import CallEvent
from contextsvc.ingest.normalise import Normaliser
from contextsvc.ingest.results import CallWork
from contextsvc.settings import REPO_ROOT
from contextsvc.store.cache import ProfileCache
from contextsvc.store.engine import create_engine, create_schema
from contextsvc.store.profiles import ProfileWriter
from contextsvc.store.writer import Writer

BENCH_DIR = REPO_ROOT / "var" / "bench"


async def _ingest(path: Path, calls: int, people: int, chunk: int = 5000) -> float:
    picklist = Picklist.load(REPO_ROOT / "seed" / "dispositions.toml")
    normaliser = Normaliser(picklist)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    writer = Writer(engine, IdentityGraph, ProfileWriter(picklist, 200_000), ProfileCache(10))
    await writer.start()
    started = time.perf_counter()
    try:
        with Progress() as progress:
            task = progress.add_task(f"ingesting {calls:,} calls", total=calls)
            for start in range(0, calls, chunk):
                events = generate_calls(
                    min(chunk, calls - start), people, seed=start, prefix="b", first_index=start,
                    seconds_apart=365 * 86_400 / calls,  # a year of traffic whatever the size
                )
                work = [CallWork(normaliser.normalise(msgspec.convert(e, CallEvent), strict=True)) for e in events]
                await writer.submit(work)
                progress.advance(task, len(work))
    finally:
        await writer.stop()
        await engine.dispose()
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
