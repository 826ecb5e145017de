"""What the store holds per call and per person, table by table, as the data grows.

    .venv/bin/python -m bench.storage [--reps 120] [--days 240] [--accounts 7000]
                                      [--backend postgresql|sqlite]

The simulator's default scenario, scaled up (more reps dialling for longer over more
accounts: ~1M calls over ~50,000 people by default), is ingested through the service with
every side branch on (identity, profiles, segments, insights, data quality, activation,
reachability), as production ingests it. At a few checkpoints the tables are measured —
PostgreSQL after VACUUM ANALYZE: heap, indexes and TOAST from pg_relation_size and
friends; SQLite from its dbstat table — and each table's bytes are divided by what it
grows with (calls or people). docs/scaling.md builds its capacity plan on these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.dataset import postgres
from contextsvc.identity import IdentityGraph
from contextsvc.ingest import CallEvent, CallWork
from contextsvc.pipeline import load_graph
from contextsvc.service import open_service
from contextsvc.settings import Settings
from contextsvc.store import tables as t
from simulator.population import build_world
from simulator.scenario import load
from simulator.traffic import SimCall, Traffic

console = Console(width=130)
CHUNK = 5000
# What each table's rows follow: the calls, the people, or neither (definitions, markers,
# counters per day, account or hour: bounded by the calendar and the org, not the traffic).
PER_CALL = {"calls", "quarantine", "outbox", "salesforce_records", "salesforce_pending", "salesforce_submitted"}
PER_PERSON = {
    "individuals",
    "identifiers",
    "merges",
    "profiles",
    "segment_members",
    "quality_multi_record",
    "shared_lines",
    "erasures",
    "salesforce_written",
}


def grows_with(table: str) -> str:
    return "calls" if table in PER_CALL else "people" if table in PER_PERSON else "neither"


@dataclass
class Relation:
    name: str
    rows: int
    heap: int
    indexes: int
    toast: int

    @property
    def total(self) -> int:
        return self.heap + self.indexes + self.toast


def _postgres_sizes(url: str) -> list[Relation]:
    server = postgres()
    database = make_url(url).database or ""
    server.psql("VACUUM ANALYZE", database)
    rows = server.psql(
        "SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid), pg_indexes_size(c.oid),"
        " pg_total_relation_size(c.oid) - pg_relation_size(c.oid) - pg_indexes_size(c.oid)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 5 DESC",
        database,
    )
    found = []
    for line in rows.strip().splitlines():
        name, tuples, heap, indexes, toast = line.split("|")
        found.append(Relation(name, max(int(tuples), 0), int(heap), int(indexes), int(toast)))
    return found


def _sqlite_sizes(path: str) -> list[Relation]:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
        owners = conn.execute("SELECT name, tbl_name, type FROM sqlite_master WHERE type IN ('table', 'index')")
        by_table: dict[str, Relation] = {}
        for name, table, kind in owners.fetchall():
            if table.startswith("sqlite_"):
                continue
            relation = by_table.setdefault(table, Relation(table, 0, 0, 0, 0))
            if kind == "table":
                relation.heap += pages.get(name, 0)
            else:
                relation.indexes += pages.get(name, 0)
            relation.rows = conn.execute(f'SELECT count(*) FROM "{relation.name}"').fetchone()[0]
    return sorted(by_table.values(), key=lambda r: -r.total)


def sizes(url: str) -> list[Relation]:
    return _postgres_sizes(url) if url.startswith("postgresql") else _sqlite_sizes(make_url(url).database or "")


def report(relations: list[Relation], calls: int, people: int, title: str) -> None:
    table = Table(title=title)
    for column in (
        "table",
        "grows with",
        "rows",
        "heap MB",
        "indexes MB",
        "TOAST + other forks MB",
        "bytes per call or person",
    ):
        table.add_column(column, justify="left" if column in ("table", "grows with") else "right")
    grown = {"calls": 0, "people": 0, "neither": 0}
    empty = [r.name for r in relations if r.rows == 0]
    for relation in relations:
        if relation.rows == 0:
            continue
        follows = grows_with(relation.name)
        unit = {"calls": calls, "people": people}.get(follows, 0)
        grown[follows] += relation.total
        table.add_row(
            relation.name,
            follows,
            f"{relation.rows:,}",
            f"{relation.heap / 1e6:,.1f}",
            f"{relation.indexes / 1e6:,.1f}",
            f"{relation.toast / 1e6:,.1f}",
            f"{relation.total / unit:,.0f}" if unit else "",
        )
    console.print(table)
    if empty:
        console.print(f"empty here (a page or two each): {', '.join(sorted(empty))}")
    total = sum(r.total for r in relations)
    console.print(
        f"[bold]{calls:,} calls, {people:,} people: {total / 1e6:,.0f} MB in all; "
        f"{grown['calls'] / calls:,.0f} B per call + {grown['people'] / people:,.0f} B per person "
        f"+ {grown['neither'] / 1e6:,.1f} MB that follows neither; "
        f"indexes {sum(r.indexes for r in relations) / total:.0%} of the total[/]"
    )


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(dir=Path("var").resolve() if Path("var").is_dir() else None) as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/storage.db"
        return
    server = postgres()
    name = f"storage_{int(time.time())}"
    try:
        yield server.create_database(name)
    finally:
        server.drop_database(name)


async def ingest(url: str, history: list[SimCall], checkpoints: list[int]) -> None:
    settings = Settings.from_env({}, database_url=url)
    async with open_service(settings) as service:
        normalise = service.normaliser.normalise
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"ingesting {len(history):,} calls", total=len(history))
            for start in range(0, len(history), CHUNK):
                chunk = history[start : start + CHUNK]
                await service.ingest(
                    [CallWork(normalise(msgspec.convert(c.event, CallEvent), strict=True)) for c in chunk]
                )
                progress.advance(task, len(chunk))
                done = start + len(chunk)
                if checkpoints and done >= checkpoints[0]:
                    checkpoints.pop(0)
                    async with service.engine.connect() as conn:
                        people = (await conn.execute(select(func.count()).select_from(t.profiles))).scalar_one()
                    progress.stop()
                    report(await asyncio.to_thread(sizes, url), done, people, f"after {done:,} calls")
                    progress.start()


async def graph_memory(url: str) -> None:
    """The writer's identity graph lives in memory (identity/graph.py): what it costs per
    person, and how long a new writer takes to load it from the rows."""
    settings = Settings.from_env({}, database_url=url)
    async with open_service(settings) as service, service.engine.connect() as conn:
        started = time.perf_counter()
        graph = await conn.run_sync(load_graph, IdentityGraph)
        load_s = time.perf_counter() - started
        del graph
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        graph = await conn.run_sync(load_graph, IdentityGraph)
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        people = (await conn.execute(select(func.count()).select_from(t.profiles))).scalar_one()
        identifiers = (await conn.execute(select(func.count()).select_from(t.identifiers))).scalar_one()
    console.print(
        f"[bold]identity graph in memory: {held / 1e6:,.0f} MB for {people:,} people and {identifiers:,} "
        f"identifiers: {held / people:,.0f} B per person; loaded from the rows in {load_s:.1f} s "
        f"({people / load_s:,.0f} people/s)[/]"
    )
    del graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=120)
    parser.add_argument("--days", type=int, default=240)
    parser.add_argument("--accounts", type=int, default=7000)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    scenario = load(
        "default", [f"days={args.days}", f"population.reps={args.reps}", f"population.accounts={args.accounts}"]
    )
    started = time.perf_counter()
    history = list(Traffic(build_world(scenario), scenario).calls())
    console.print(f"simulated {len(history):,} calls in {time.perf_counter() - started:.0f} s")
    checkpoints = [len(history) // 4, len(history) // 2, len(history)]
    with database(args.backend) as url:
        asyncio.run(ingest(url, history, checkpoints))
        asyncio.run(graph_memory(url))


if __name__ == "__main__":
    main()
