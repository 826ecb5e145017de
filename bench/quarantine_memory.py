"""Memory of the server under request bodies at the 32 MB limit that all end in quarantine.

    .venv/bin/python -m bench.quarantine_memory [--bodies 4] [--megabytes 31]

Starts `contextsvc serve`, then sends, one after another: single calls whose body is
MEGABYTES of JSON (a notes field far over its limit), a batch of that size whose 5,000
items are all invalid, and a batch of that size nested past any decoder; then lists the
quarantine. Prints the server's resident memory (all its processes: RSS now and the
high-water mark, VmHWM) after each step, the size of the listing, and what the quarantine
kept. The bound it checks: over the whole sequence the high-water mark grows by at most
5x one body over the baseline (a request's body is held by the server and the app, and
a batch's items and their quarantine rows are copies of it; nothing accumulates across
requests), and a default listing stays under 1 MiB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from tests.live import live_server

KEY = "bench-key"
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (granian serves from a child process)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):  # the process may have ended meanwhile
                queue += [int(child) for child in (task / "children").read_text().split()]
    return found


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, high-water RSS) in MB, summed over the process tree."""
    rss = hwm = 0
    for member in _tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss += int(fields.get("VmRSS", "0 kB").split()[0])
        hwm += int(fields.get("VmHWM", "0 kB").split()[0])
    return rss / 1024, hwm / 1024


def single_body(n: int, size: int) -> bytes:
    head = json.dumps({"call_id": f"big-{n}", "direction": "outbound", "started_at": "2026-11-02T15:00:00Z"})[:-1]
    return (head + ', "notes": "' + "x" * (size - len(head) - 14) + '"}').encode()


def batch_body(size: int) -> bytes:
    per_item = size // 5000
    item = json.dumps({"call_id": "b", "direction": "sideways", "started_at": "2026-11-02T15:00:00Z", "notes": ""})
    filler = "y" * max(0, per_item - len(item) - 2)
    items = [item.replace('"b"', f'"b{n}"').replace('"notes": ""', f'"notes": "{filler}"') for n in range(5000)]
    return ('{"calls": [' + ", ".join(items) + "]}").encode()


def deep_body(size: int) -> bytes:
    good = json.dumps({"call_id": "ok", "direction": "outbound", "started_at": "2026-11-02T15:00:00Z"}).encode()
    depth = (size - len(good) - 20) // 2
    return b'{"calls": [' + good + b", " + b"[" * depth + b"]" * depth + b"]}"


def run(bodies: int, megabytes: int) -> int:
    console = Console()
    size = megabytes * 1024 * 1024
    table = Table(title=f"server memory, bodies of {megabytes} MB (limit 32 MB)")
    for column in ("step", "status", "seconds", "RSS MB", "high-water MB", "answer bytes"):
        table.add_column(column, justify="right" if column != "step" else "left")
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_server(f"sqlite+aiosqlite:///{tmp}/mem.db", KEY) as (base, proc),
        httpx.Client(base_url=base, headers=HEADERS, timeout=300) as client,
    ):
        client.post(
            "/v1/calls", json={"call_id": "warm", "direction": "outbound", "started_at": "2026-11-02T15:00:00Z"}
        )
        client.get("/v1/quarantine")
        time.sleep(0.5)
        rss0, hwm0 = memory_mb(proc.pid)
        table.add_row("baseline", "", "", f"{rss0:.0f}", f"{hwm0:.0f}", "")
        steps = [(f"POST /v1/calls #{n + 1}", "/v1/calls", single_body(n, size)) for n in range(bodies)]
        steps += [
            ("POST /v1/calls/batch, 5,000 bad items", "/v1/calls/batch", batch_body(size)),
            ("POST /v1/calls/batch, nested 15M deep", "/v1/calls/batch", deep_body(size)),
        ]
        for name, path, body in steps:
            started = time.monotonic()
            response = client.post(path, content=body)
            elapsed = time.monotonic() - started
            rss, hwm = memory_mb(proc.pid)
            table.add_row(
                name,
                str(response.status_code),
                f"{elapsed:.2f}",
                f"{rss:.0f}",
                f"{hwm:.0f}",
                f"{len(response.content):,}",
            )
            del body
        listing = client.get("/v1/quarantine", params={"limit": 10})
        rss, hwm = memory_mb(proc.pid)
        table.add_row(
            "GET /v1/quarantine?limit=10",
            str(listing.status_code),
            "",
            f"{rss:.0f}",
            f"{hwm:.0f}",
            f"{len(listing.content):,}",
        )
        everything = client.get("/v1/quarantine", params={"limit": 1000, "max_bytes": 16 * 1024 * 1024})
        table.add_row(
            "GET /v1/quarantine?limit=1000&max_bytes=16MiB",
            str(everything.status_code),
            "",
            "",
            "",
            f"{len(everything.content):,}",
        )
        budget = listing.json()["budget"]
    console.print(table)
    growth = hwm - hwm0
    bound = 5 * megabytes
    console.print(
        f"high-water growth {growth:.0f} MB over the baseline (bound: 5 x {megabytes} MB = {bound} MB); "
        f"quarantine keeps {budget['kept_bytes']:,} bytes in {budget['items']:,} items; "
        f"largest listing {len(everything.content):,} bytes"
    )
    return 0 if growth <= bound and len(listing.content) < 1024 * 1024 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=4)
    parser.add_argument("--megabytes", type=int, default=31)
    args = parser.parse_args()
    raise SystemExit(run(args.bodies, args.megabytes))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
