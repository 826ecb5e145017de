"""Benchmark databases: N calls over P people, ingested through the real writer, on
SQLite or on the benchmarks' PostgreSQL: the same calls on both.

Built once per (calls, people) and kept under var/bench/ (SQLite files, and PostgreSQL's
data directory), since a million calls take a few minutes to ingest. Delete them to
rebuild.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
from rich.progress import Progress
from sqlalchemy import select

from bench.traffic import calls as generate_calls
from contextsvc.ingest import CallEvent, CallWork, Normaliser, Work
from contextsvc.service import build_writer, load_picklist, open_database
from contextsvc.settings import REPO_ROOT, Settings
from contextsvc.store import create_engine, tables
from devservers.postgres import ThrowawayPostgres

BENCH_DIR = REPO_ROOT / "var" / "bench"


async def _ingest(url: str, calls: int, people: int, chunk: int = 5000) -> float:
    """The writer alone (identity, call log, profiles): the data context reads measure."""
    settings = Settings.from_env({}, database_url=url, cache_size=200_000)
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
                        min(chunk, calls - first),
                        people,
                        seed=first,
                        prefix="b",
                        first_index=first,
                        seconds_apart=365 * 86_400 / calls,  # a year of traffic whatever the size
                    )
                    work: list[Work] = [
                        CallWork(normaliser.normalise(msgspec.convert(e, CallEvent), strict=True)) for e in events
                    ]
                    await writer.submit(work)
                    progress.advance(task, len(work))
        finally:
            await writer.stop()
    return time.perf_counter() - started


def database_file(calls: int, people: int) -> Path:
    """The SQLite benchmark database of `calls` calls over `people` people, built once."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"calls{calls}-people{people}.db"
    if not path.exists():
        partial = path.with_suffix(".partial")
        for leftover in BENCH_DIR.glob(partial.name + "*"):
            leftover.unlink()
        elapsed = asyncio.run(_ingest(f"sqlite+aiosqlite:///{partial}", calls, people))
        print(f"built {path.name}: {calls / elapsed:,.0f} calls/s in-process (writer only)")
        for suffix in ("-wal", "-shm", ".writer.lock"):
            Path(str(partial) + suffix).unlink(missing_ok=True)
        partial.rename(path)
    return path


@functools.cache
def postgres() -> ThrowawayPostgres:
    """The benchmarks' PostgreSQL: PostgreSQL's own (durable) settings, its data kept under
    var/bench/postgres so the databases are built once; stopped when the process ends."""
    server = ThrowawayPostgres(BENCH_DIR / "postgres", durable=True).start()
    atexit.register(server.stop)
    return server


def _postgres_exists(server: ThrowawayPostgres, name: str) -> bool:
    return server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip() == "1"


def database(calls: int, people: int, backend: str = "sqlite") -> str:
    """The URL of the benchmark database on `backend`, built once with the same calls."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{database_file(calls, people)}"
    server = postgres()
    name = f"calls{calls}_people{people}"
    if not _postgres_exists(server, name):
        server.drop_database(name + "_partial")
        elapsed = asyncio.run(_ingest(server.create_database(name + "_partial"), calls, people))
        print(f"built {name} on PostgreSQL: {calls / elapsed:,.0f} calls/s in-process (writer only)")
        server.psql(f'ALTER DATABASE "{name}_partial" RENAME TO "{name}"')
    return server.url(name)


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """An empty database for one measurement (ingest), removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    server = postgres()
    name = f"ingest_{os.getpid()}_{time.monotonic_ns()}"
    url = server.create_database(name)
    try:
        yield url
    finally:
        server.drop_database(name)


def individuals(url: str, count: int, seed: int = 1) -> list[str]:
    """`count` people of the database, a random sample reproducible by `seed`."""

    async def ids() -> list[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    select(tables.profiles.c.individual_id).order_by(tables.profiles.c.individual_id)
                )
                return [row[0] for row in rows]
        finally:
            await engine.dispose()

    everyone = asyncio.run(ids())
    return random.Random(seed).sample(everyone, min(count, len(everyone)))
