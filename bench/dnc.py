"""Do-not-call lists at scale: a million numbers through POST /v1/dnc (CSV, mixed formats),
loaded again at start-up, and looked up per context read.

    .venv/bin/python -m bench.dnc [--numbers 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime

from litestar.testing import AsyncTestClient
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine as create_sync_engine

from contextsvc.api.app import create_app
from contextsvc.reachability import DncIndex, Inputs, Listing, ReachabilityObserver, parse_numbers
from contextsvc.service import build_writer, load_picklist
from contextsvc.settings import Settings
from contextsvc.store import create_engine

FORMATS = (
    "{area}{exchange}{line}",
    "({area}) {exchange}-{line}",
    "+1{area}{exchange}{line}",
    "{area}.{exchange}.{line}",
    "1-{area}-{exchange}-{line}",
)


def numbers(n: int) -> list[str]:
    rng = random.Random(19)
    out: list[str] = []
    seen: set[tuple[int, int, str]] = set()
    while len(out) < n:
        area, exchange, line = rng.randint(201, 989), rng.randint(200, 999), f"{rng.randint(0, 9999):04d}"
        if (area, exchange, line) in seen:
            continue
        seen.add((area, exchange, line))
        out.append(FORMATS[len(out) % len(FORMATS)].format(area=area, exchange=exchange, line=line))
    return out


async def main(n: int) -> None:
    console = Console()
    raw = numbers(n)
    csv = ("phone\n" + "\n".join(raw) + "\n").encode()
    rows = []

    started = time.perf_counter()
    keys, errors = parse_numbers(raw, "US")
    rows.append(("parse (any format -> E.164 key)", f"{time.perf_counter() - started:.2f} s", f"{len(keys):,} numbers"))

    tracemalloc.start()
    index = DncIndex()
    index.add(keys, Listing("bench", None, None))
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rows.append(("in-memory index", f"{memory / 1e6:.0f} MB", "dict of int -> listing group"))
    probes = [f"+{k}" for k in keys[:100_000]] + [f"+1201100{i:04d}" for i in range(100_000)]
    started = time.perf_counter()
    for phone in probes:
        index.listings(phone, 20_000)
    per = (time.perf_counter() - started) / len(probes)
    rows.append(("lookup (one phone, hit or miss)", f"{per * 1e9:.0f} ns", f"{len(probes):,} lookups"))

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/dnc.db"
        settings = Settings.from_env({}, database_url=url, api_keys="bench-key")
        async with AsyncTestClient(app=create_app(settings), timeout=600) as client:
            started = time.perf_counter()
            response = await client.post(
                "/v1/dnc",
                params={"list": "National DNC"},
                content=csv,
                headers={"Authorization": "Bearer bench-key", "Content-Type": "text/csv"},
            )
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            rows.append(
                (
                    "POST /v1/dnc (CSV, parse + commit + index)",
                    f"{elapsed:.2f} s",
                    f"{response.json()['added']:,} added, {n / elapsed:,.0f} numbers/s",
                )
            )
            started = time.perf_counter()
            again = await client.post(
                "/v1/dnc",
                params={"list": "National DNC"},
                content=csv,
                headers={"Authorization": "Bearer bench-key", "Content-Type": "text/csv"},
            )
            rows.append(
                (
                    "the same upload again (idempotent)",
                    f"{time.perf_counter() - started:.2f} s",
                    f"{again.json()['already_listed']:,} already listed",
                )
            )
        engine = create_sync_engine(url.replace("+aiosqlite", ""))
        settings = Settings.from_env({}, database_url=url)
        picklist = load_picklist(settings)
        observer = ReachabilityObserver(Inputs(), picklist, build_writer(settings, create_engine(url), picklist))
        started = time.perf_counter()
        with engine.connect() as conn:
            observer.load(conn)
        rows.append(
            (
                "start-up load from dnc_entries",
                f"{time.perf_counter() - started:.2f} s",
                f"{len(observer.inputs.dnc):,} numbers",
            )
        )
        engine.dispose()

    table = Table(title=f"DNC lists, {n:,} numbers ({datetime.now(UTC):%Y-%m-%d})")
    for column in ("step", "time", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().numbers))
