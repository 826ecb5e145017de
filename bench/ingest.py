"""Ingest benchmark: sustained batch calls/s and single-POST calls/s against a real server.

    .venv/bin/python -m bench.ingest [--calls 200000] [--people 20000] [--seconds 15]

Batch: a Python client posts 5,000-call batches from two concurrent connections.
Single: wrk (C, Debian package `wrk`; installed if missing) posts one call per request from
64 connections, each with a unique call_id, so every request is a real insert with
identity resolution. Both run on this machine: the load generator shares the 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import tempfile
import time

import httpx
import msgspec
from rich.console import Console
from rich.table import Table

from bench.dataset import fresh_database
from bench.traffic import calls
from bench.wrk import ensure_wrk
from tests.live import live_server

KEY = "bench-key"
console = Console()

WRK_SCRIPT = r"""
local counter = 0
local thread_id = 0
local formats = {"(212) 555-%04d", "212.555.%04d", "+1 212 555 %04d", "212555%04d"}
setup = function(thread) thread:set("tid", thread_id); thread_id = thread_id + 1 end
request = function()
  counter = counter + 1
  local person = counter % 5000
  local phone = string.format(formats[(counter % 4) + 1], person)
  local body = string.format('{"call_id":"wrk-%d-%d","direction":"outbound","started_at":"2026-03-01T10:00:00Z",'
    .. '"duration_seconds":60,"talk_seconds":40,"disposition":"Left VM","rep_id":"rep-1",'
    .. '"who":{"phone":"%s","first_name":"Pat","last_name":"Doe%d","company":"Acme"}}', tid, counter, phone, person)
  return wrk.format("POST", "/v1/calls", {["Content-Type"]="application/json", ["Authorization"]="Bearer KEY"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d\n", summary.errors.status))
end
""".replace("KEY", KEY)


async def batch_phase(base: str, events: list[dict], batch: int, connections: int) -> tuple[float, dict]:
    bodies = [msgspec.json.encode({"calls": events[i : i + batch]}) for i in range(0, len(events), batch)]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    statuses: dict[str, int] = {}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            response = await client.post("/v1/calls/batch", content=body, headers={"content-type": "application/json"})
            response.raise_for_status()
            for status, n in response.json()["summary"].items():
                statuses[status] = statuses.get(status, 0) + n

    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(connections)))
        return time.perf_counter() - started, statuses


def single_phase(base: str, seconds: int, connections: int) -> tuple[float, int, str]:
    wrk = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = _field(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = _field(r"non2xx=(\d+)", out)
    p99 = _field(r"99%\s+(\S+)", out)
    return float(rate), int(non2xx), p99


def _field(pattern: str, wrk_output: str) -> str:
    found = re.search(pattern, wrk_output)
    if found is None:
        raise RuntimeError(f"no {pattern!r} in wrk's output:\n{wrk_output}")
    return found.group(1)


def measure_ingest(
    *,
    calls_total: int = 200_000,
    people: int = 20_000,
    batch: int = 5000,
    seconds: int = 15,
    connections: int = 64,
    server: str = "granian",
    backend: str = "sqlite",
) -> dict:
    events = calls(calls_total, people)
    with fresh_database(backend) as url, live_server(url, KEY, server=server) as (base, _):
        elapsed, statuses = asyncio.run(batch_phase(base, events, batch, 2))
        single_rate, non2xx, p99 = single_phase(base, seconds, connections)
    return {
        "batch_rate": calls_total / elapsed,
        "batch_seconds": elapsed,
        "batch_statuses": statuses,
        "single_rate": single_rate,
        "single_non2xx": non2xx,
        "single_p99": p99,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=15, help="duration of the single-POST phase")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections for the single-POST phase")
    parser.add_argument("--server", choices=("granian", "uvicorn"), default="granian")
    args = parser.parse_args()
    r = measure_ingest(
        calls_total=args.calls,
        people=args.people,
        batch=args.batch,
        seconds=args.seconds,
        connections=args.connections,
        server=args.server,
    )
    table = Table(
        title=f"contextsvc ingest (SQLite, synchronous=FULL, one {args.server} worker, 2 cores shared with the client)"
    )
    for column in ("measure", "result", "target", "notes"):
        table.add_column(column)
    table.add_row(
        "batch ingest",
        f"{r['batch_rate']:,.0f} calls/s",
        "≥ 20,000",
        f"{args.calls:,} calls in {r['batch_seconds']:.1f}s, {args.batch}/batch; {r['batch_statuses']}",
    )
    table.add_row(
        "single POST",
        f"{r['single_rate']:,.0f} calls/s",
        "≥ 2,000",
        f"wrk {args.connections} conns, {args.seconds}s, p99 {r['single_p99']}, non-2xx {r['single_non2xx']}",
    )
    console.print(table)


if __name__ == "__main__":
    main()
