"""Several workers on one PostgreSQL and one Redis: warm reads with one and two workers
(the follower answers context reads itself, its caches following the leader's change
messages), and freshness across workers (acknowledged on one, visible on the other).

    .venv/bin/python -m bench.workers [--seconds 5] [--probes 300]

The 10k-call benchmark database (bench.dataset) is copied for the run (the probes write).
Reads: wrk, 32 connections of warm context reads (1,000 people, memo hits), against the
one worker, then split 16 + 16 over the two at once (as a load balancer would), run in
alternation for `--rounds`. Freshness: a call posted on one worker, then read on the
other until it shows, alternating directions; the lag from the acknowledgement to the
first read that shows it. Failover is bench.failover's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.dataset import database, individuals, postgres
from bench.wrk import wrk
from devservers.redis import ThrowawayRedis
from tests.helpers import call_event
from tests.live import live_server

KEY = "bench-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
console = Console()


def burst(bases: list[str], paths: list[str], seconds: int) -> dict:
    """32 connections split over `bases`, all at once; requests/s summed, worst p99."""
    results: list[dict] = []

    def one(base: str) -> None:
        results.append(wrk(base, paths, 32 // len(bases), seconds, KEY))

    threads = [threading.Thread(target=one, args=(base,)) for base in bases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "rps": sum(r["rps"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "non2xx": sum(r["non2xx"] for r in results),
    }


def freshness(writes: list[str], reads: list[str], probes: int) -> list[float]:
    """ms from each acknowledged POST on one worker to the first read on another that shows it."""
    lags = []
    with httpx.Client(headers=AUTH, timeout=10) as client:
        for i in range(probes):
            write_to, read_from = writes[i % len(writes)], reads[i % len(reads)]
            phone = f"+1415555{i % 10_000:04d}"
            body = call_event(f"fresh-{os.getpid()}-{i}", minutes=i, who={"phone": phone})
            client.post(f"{write_to}/v1/calls", json=body).raise_for_status()
            acknowledged = time.perf_counter()
            while True:
                answer = client.get(f"{read_from}/v1/context/{phone}", params={"recent": 1, "max_tokens": 20})
                if answer.status_code == 200 and answer.json()["recent_calls"][0]["call_id"] == body["call_id"]:
                    break
                if time.perf_counter() - acknowledged > 5:
                    raise SystemExit(f"{body['call_id']} not visible on {read_from} after 5 s")
            lags.append((time.perf_counter() - acknowledged) * 1000)
    return sorted(lags)


def measure(seconds: int, rounds: int, probes: int) -> dict:
    source = database(10_000, 1_000, "postgresql")
    server = postgres()
    name = f"workers_{os.getpid()}"
    url = server.create_database(name, template=source.rsplit("/", 1)[1])
    paths = [f"/v1/context/{i}" for i in individuals(url, 1000)]
    try:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as servers:
            redis = servers.enter_context(ThrowawayRedis(Path(tmp) / "redis"))
            bases = [
                servers.enter_context(
                    live_server(
                        url,
                        KEY,
                        wait_for="/health/ready",
                        output=Path(tmp) / f"{n}.log",
                        standby="true",
                        redis_url=redis.url,
                        cache_size="200000",
                    )
                )[0]
                for n in range(2)
            ]
            with httpx.Client(headers=AUTH) as client:
                for base in bases:
                    for path in paths:
                        client.get(f"{base}{path}").raise_for_status()  # warm: memo hits below
            one: list[dict] = []
            two: list[dict] = []
            for round_ in range(rounds):
                console.print(f"[dim]workers: round {round_ + 1}/{rounds}[/]")
                one.append(burst(bases[:1], paths, seconds))
                two.append(burst(bases, paths, seconds))
            lags = freshness([bases[0], bases[1]], [bases[1], bases[0]], probes)
    finally:
        server.drop_database(name)

    def summary(runs: list[dict]) -> dict:
        return {
            "rps": statistics.median(r["rps"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "non2xx": sum(r["non2xx"] for r in runs),
        }

    return {
        "one": summary(one),
        "two": summary(two),
        "fresh_p50_ms": statistics.median(lags),
        "fresh_p99_ms": lags[min(len(lags) - 1, int(0.99 * len(lags)))],
        "probes": len(lags),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="per wrk burst")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probes", type=int, default=300)
    args = parser.parse_args()
    result = measure(args.seconds, args.rounds, args.probes)
    title = f"workers on one PostgreSQL and Redis: warm context reads (wrk 32 conns, median of {args.rounds})"
    table = Table(title=title)
    for column in ("workers", "reads/s", "p99 ms", "non-2xx"):
        table.add_column(column, justify="right")
    for label, key in (("1", "one"), ("2 (16 + 16 conns)", "two")):
        row = result[key]
        table.add_row(label, f"{row['rps']:,.0f}", f"{row['p99_ms']:.2f}", str(row["non2xx"]))
    console.print(table)
    console.print(f"two / one: {result['two']['rps'] / result['one']['rps']:.2f}")
    console.print(
        f"freshness across workers (ack on one, visible on the other), {result['probes']} probes: "
        f"p50 {result['fresh_p50_ms']:.1f} ms, p99 {result['fresh_p99_ms']:.1f} ms (target p99 <= 50 ms)"
    )


if __name__ == "__main__":
    main()
