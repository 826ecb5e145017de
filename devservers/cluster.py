"""`make run-cluster`: a local PostgreSQL, Redis and two workers on it, seeded like `make
run`, with live calls flowing through both, for a demo of failover.

    .venv/bin/python -m devservers.cluster [--ports 8001,8002] [--every 1.0]

Prints each worker's address, role and process group; kill the leader's group with
`kill -9 -- -PGID` and watch the other worker take over: the live calls it hands on get
503 + Retry-After for a moment, are sent again, and none is lost. Ctrl-C stops everything
(the database is thrown away).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console

from contextsvc.settings import Settings
from devservers.postgres import ThrowawayPostgres
from devservers.redis import ThrowawayRedis
from simulator import demo_setup
from simulator.demo import demo_traffic, live_event, seed
from simulator.stream import post_retrying
from simulator.traffic import SimCall

console = Console()
KEY = "demo-key"


def start_worker(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "contextsvc.cli", "serve", "--standby", "--port", str(port)]
    with open(log, "ab") as sink:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def role_of(base: str) -> str:
    try:
        return str(httpx.get(f"{base}/health/ready", timeout=2).json().get("role", "?"))
    except (httpx.HTTPError, ValueError):
        return "down"


def wait_ready(base: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while role_of(base) not in ("leader", "follower"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker at {base} did not start (its log is beside the database)")
        time.sleep(0.2)


async def live_calls(bases: list[str], upcoming: list[SimCall], every_s: float, seed_dir: Path) -> None:
    """The demo console's segments and rules, then one call every `every_s` to the workers
    in turn, retried while no leader answers."""
    roles = {base: role_of(base) for base in bases}
    auth = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=bases[0], headers=auth, timeout=30) as setup:
        for name in await demo_setup.prepare(setup, seed_dir):
            console.print(f"[dim]set up: {name}[/]")
    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        for turn, call in enumerate(upcoming):
            event = live_event(call)
            started = time.monotonic()
            # As a load balancer does: a worker that refuses the connection (the one killed)
            # is skipped, and the call goes to the next.
            for base in bases[turn % len(bases) :] + bases[: turn % len(bases)]:
                try:
                    response = await post_retrying(client, f"{base}/v1/calls", event)
                except httpx.ConnectError:
                    continue
                waited = time.monotonic() - started
                note = f" (after {waited:.1f} s without a leader)" if waited > 0.5 else ""
                console.print(f"{event['ended_at']} via {base}: {response.status_code}{note}")
                break
            else:
                console.print(f"[red]{event['call_id']}: no worker answers[/]")
            now = {b: role_of(b) for b in bases}
            if now != roles:
                console.print("[bold]roles now:[/] " + ", ".join(f"{b} {r}" for b, r in now.items()))
                roles = now
            await asyncio.sleep(every_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ports", default="8001,8002", help="the workers' ports, comma-separated")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between live calls")
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped like Ctrl-C: workers and servers too
    with (
        ThrowawayPostgres(durable=True) as postgres,
        ThrowawayRedis() as redis,
        tempfile.TemporaryDirectory(prefix="contextsvc-cluster-") as tmp,
    ):
        url = postgres.create_database("contextsvc")
        env = {
            **os.environ,
            "CONTEXTSVC_DATABASE_URL": url,
            "CONTEXTSVC_REDIS_URL": redis.url,
            "CONTEXTSVC_API_KEYS": f"{KEY},demo-masked-key:context:read",
            "CONTEXTSVC_LOG_FORMAT": "console",
            "CONTEXTSVC_LOG_LEVEL": "WARNING",
        }
        console.print(f"PostgreSQL {url}, Redis {redis.url}; seeding 90 days of calls…")
        world, history, upcoming = demo_traffic([])
        settings = Settings.from_env({}, database_url=url, api_keys=KEY)
        console.print(f"seeded {asyncio.run(seed(settings, history)):,} calls for {len(world.people):,} prospects")
        workers = []
        try:
            for port in ports:  # one at a time: the first leads
                process = start_worker(port, env, Path(tmp) / f"worker-{port}.log")
                workers.append(process)
                wait_ready(f"http://127.0.0.1:{port}", process)
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            for base, process in zip(bases, workers, strict=True):
                console.print(f"[bold]{base}[/] {role_of(base)}, process group {process.pid}")
            console.print(
                f"Demo console: {bases[0]}/demo (key {KEY}). Kill the leader: [bold]kill -9 -- -PGID[/]; "
                "the follower leads within 5 s. Ctrl-C stops everything.\n"
            )
            asyncio.run(live_calls(bases, upcoming, args.every, Path(settings.seed_dir)))
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            for process in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in workers:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:  # a relayed event stream holding it up
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
