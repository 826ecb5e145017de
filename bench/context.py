"""Context-read benchmark: warm and cold reads against a bare endpoint on the same server.

    .venv/bin/python -m bench.context [--calls 1000000 --people 100000] [--seconds 10]

Builds (once, cached under var/bench/) a database of --calls calls over --people people,
and a small one of --small-calls over --small-people, through the real writer. Then, on
one server process per measurement (wrk as the load generator, on the same 2 cores):

- warm: context reads of 1,000 hot people, all in the cache, vs GET /bench/baseline — a
  bare Litestar endpoint on the same server, behind the same auth, returning the bytes of
  a real context response. Throughput at 32 connections; latency at 4 connections.
- cold: the cache holds one entry, reads spread over 20,000 people, so each read is a
  primary-key lookup plus decode plus assembly (after an unmeasured pass that loads the
  database file into the OS page cache).
- size ratio: cold and warm p50 on the big database over the same on the small one.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

import httpx
from rich.console import Console
from rich.table import Table

from bench.dataset import database, individuals
from bench.wrk import wrk as run_wrk
from tests.live import live_server

KEY = "bench-key"
console = Console()


class ServerEnv(TypedDict, total=False):
    """The settings measure() gives the server (live_server's **env: CONTEXTSVC_*)."""

    cache_size: str
    bench_baseline_file: str


def wrk(base: str, paths: list[str], connections: int, seconds: int, **kw) -> dict:
    return run_wrk(base, paths, connections, seconds, KEY, **kw)


def measure(
    db: str,
    seconds: int,
    *,
    cache_size: int,
    lookups: list[str],
    baseline: Path | None,
    warm_up: bool,
    server: str = "granian",
    sweep: Sequence[float] = (),
    latency: bool = True,
) -> dict:
    """wrk phases against one server process; `sweep`: offered rates as shares of the
    measured maximum, for the latency-versus-throughput curve."""
    env: ServerEnv = {"cache_size": str(cache_size)}
    if baseline:
        env["bench_baseline_file"] = str(baseline)
    paths = [f"/v1/context/{i}" for i in lookups]
    results: dict[str, dict | list[dict]] = {}
    with live_server(db, KEY, server=server, **env) as (base, _):
        if warm_up:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as client:
                for path in paths:
                    client.get(path).raise_for_status()
        else:
            # Unmeasured: bring the database file into the OS page cache, so "cold" means
            # a miss in our cache (a row read + decode), not a first read from disk.
            wrk(base, paths, 4, 3)
        throughput = results["context_throughput"] = wrk(base, paths, 32, seconds)
        if latency:
            results["context_latency"] = wrk(base, paths, 4, seconds)
        results["sweep"] = [
            {
                "offered": share * throughput["rps"],
                **wrk(base, paths, 64, seconds, rate=share * throughput["rps"]),
            }
            for share in sweep
        ]
        if baseline:
            results["baseline_throughput"] = wrk(base, ["/bench/baseline"], 32, seconds)
            if latency:
                results["baseline_latency"] = wrk(base, ["/bench/baseline"], 4, seconds)
    return results


def sample_payload(db: str, individual_id: str, out: Path) -> int:
    with live_server(db, KEY, cache_size="10") as (base, _):
        body = httpx.get(f"{base}/v1/context/{individual_id}", headers={"Authorization": f"Bearer {KEY}"}).content
    out.write_bytes(body)
    return len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--small-calls", type=int, default=10_000)
    parser.add_argument("--small-people", type=int, default=1_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    big = database(args.calls, args.people)
    small = database(args.small_calls, args.small_people)
    hot = individuals(big, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline.json"
        size = sample_payload(big, hot[0], baseline)
        warm = measure(big, args.seconds, cache_size=200_000, lookups=hot, baseline=baseline, warm_up=True)
    cold = measure(
        big, args.seconds, cache_size=1, lookups=individuals(big, 20_000, seed=2), baseline=None, warm_up=False
    )
    small_warm = measure(
        small, args.seconds, cache_size=200_000, lookups=individuals(small, 1000), baseline=None, warm_up=True
    )
    small_cold = measure(
        small, args.seconds, cache_size=1, lookups=individuals(small, 1000, seed=2), baseline=None, warm_up=False
    )

    ratio = warm["context_throughput"]["rps"] / warm["baseline_throughput"]["rps"]
    table = Table(
        title=f"context reads: {args.calls:,} calls / {args.people:,} people; "
        f"payload {size:,} bytes; one uvicorn worker"
    )
    for column in ("measure", "result", "target"):
        table.add_column(column)
    table.add_row("warm context reads/s (32 conns)", f"{warm['context_throughput']['rps']:,.0f}", "")
    table.add_row("bare endpoint reads/s, same size, same server", f"{warm['baseline_throughput']['rps']:,.0f}", "")
    table.add_row("ratio context / bare", f"{ratio:.2f}", "≥ 0.7")
    table.add_row(
        "warm p50 / p99 (4 conns)",
        f"{warm['context_latency']['p50_ms']:.2f} / {warm['context_latency']['p99_ms']:.2f} ms",
        "",
    )
    table.add_row(
        "bare p50 / p99 (4 conns)",
        f"{warm['baseline_latency']['p50_ms']:.2f} / {warm['baseline_latency']['p99_ms']:.2f} ms",
        "",
    )
    table.add_row(
        "cold p50 / p99 (4 conns, every read a cache miss)",
        f"{cold['context_latency']['p50_ms']:.2f} / {cold['context_latency']['p99_ms']:.2f} ms",
        "p99 ≤ 10 ms",
    )
    table.add_row("cold reads/s (32 conns)", f"{cold['context_throughput']['rps']:,.0f}", "")
    warm_ratio = warm["context_latency"]["p50_ms"] / small_warm["context_latency"]["p50_ms"]
    cold_ratio = cold["context_latency"]["p50_ms"] / small_cold["context_latency"]["p50_ms"]
    table.add_row(f"p50 at {args.calls:,} / at {args.small_calls:,} calls: warm", f"{warm_ratio:.2f}", "≤ 1.2")
    table.add_row(f"p50 at {args.calls:,} / at {args.small_calls:,} calls: cold", f"{cold_ratio:.2f}", "≤ 1.2")
    phases = [
        r for m in (warm, cold, small_warm, small_cold) for v in m.values() for r in (v if isinstance(v, list) else [v])
    ]
    errors = sum(r["non2xx"] for r in phases)
    table.add_row("non-2xx responses", str(errors), "0")
    console.print(table)


if __name__ == "__main__":
    main()
