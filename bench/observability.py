"""What metrics and logging cost warm context reads, measured in one run.

    .venv/bin/python -m bench.observability [--seconds 4] [--rounds 10]

Three `contextsvc serve` processes on the same data, side by side:

- off: CONTEXTSVC_METRICS=false, CONTEXTSVC_ACCESS_LOG=off, log level WARNING;
- on: the defaults — metrics (request histogram, scrape-time collectors), JSON logs at
  INFO, failed and slow requests logged — with /metrics scraped every second;
- every request: as on, plus CONTEXTSVC_ACCESS_LOG=all (one JSON line per request).

Each round gives each server in turn a wrk burst of warm context reads (32 connections,
1,000 people, every read a memo hit) while the others idle; the ratio on / off is taken
within each round and the median over the rounds is the figure (target ≥ 0.95). On a
machine shared with other work, throughput moves from one minute to the next; bursts
seconds apart see the same machine. Logs go to files, as a collector would read them.

Each burst also records the CPU the server's processes spent per read (user + system,
from /proc): off / on of that is the throughput ratio of a server with the cores to
itself, and it moves less with other load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.context import KEY, wrk
from bench.dataset import database_file, individuals
from tests.live import live_server

console = Console()
CONFIGS = {
    "off": ("warning", {"metrics": "false", "access_log": "off"}),
    "on": ("info", {"metrics": "true", "access_log": "errors"}),
    "every request": ("info", {"metrics": "true", "access_log": "all"}),
}
SCRAPE_EVERY_S = 1.0  # Prometheus scrapes every 15-60 s; once a second is the pessimistic case


class Scraper:
    """GET /metrics every second while the load runs, as Prometheus would (more often)."""

    def __init__(self, base: str) -> None:
        self.base, self.scrapes, self.failures = base, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while not self._stop.wait(SCRAPE_EVERY_S):
                ok = client.get("/metrics").status_code == 200
                self.scrapes += ok
                self.failures += not ok


def group_cpu_seconds(group: int) -> float:
    """User + system CPU of every process in a process group (the server and its workers)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        if int(fields[2]) == group:  # fields after the name: state, ppid, pgrp, … utime(11), stime(12)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def burst(base: str, pid: int, paths: list[str], seconds: int, scraped: bool) -> dict:
    """One wrk burst against one server, with its CPU per read (and the scraper if it has /metrics)."""
    cpu = group_cpu_seconds(pid)  # its own session: the group id is its pid
    if scraped:
        with Scraper(base) as scraper:
            result = wrk(base, paths, 32, seconds)
        result["scrapes"], result["scrape_failures"] = scraper.scrapes, scraper.failures
    else:
        result = wrk(base, paths, 32, seconds)
    result["cpu_us_per_read"] = (group_cpu_seconds(pid) - cpu) / (result["rps"] * seconds) * 1e6
    return result


def measure_observability(db: Path, seconds: int, rounds: int = 10, server: str = "granian") -> dict:
    """The three servers run side by side (idle but for their burst), each on its own copy
    of the SQLite file `db` (one server per database), and each round gives every one a
    burst in turn: rounds seconds apart see about the same machine, so the ratio of each
    round's bursts is the figure; the medians of those are reported."""
    paths = [f"/v1/context/{i}" for i in individuals(f"sqlite+aiosqlite:///{db}", 1000)]
    runs: dict[str, list[dict]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as servers:
        running = {}
        for number, (name, (level, env)) in enumerate(CONFIGS.items()):
            log = Path(tmp) / f"{number}.log"
            copy = Path(tmp) / f"{number}.db"
            shutil.copyfile(db, copy)
            url = f"sqlite+aiosqlite:///{copy}"
            base, proc = servers.enter_context(
                live_server(url, KEY, server=server, log_level=level, output=log, cache_size="200000", **env)
            )
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as client:
                for path in paths:
                    client.get(path).raise_for_status()  # warm: every read below is a memo hit
            running[name] = (base, proc.pid, env["metrics"] == "true", log)
        for round_ in range(rounds):
            console.print(f"[dim]observability cost: round {round_ + 1}/{rounds}[/]")
            for name, (base, pid, scraped, _) in running.items():
                runs[name].append(burst(base, pid, paths, seconds, scraped))
        lines = {name: sum(1 for _ in log.open()) for name, (_, _, _, log) in running.items()}
    summary: dict = {
        name: {
            "rps": statistics.median(r["rps"] for r in results),
            "runs": [round(r["rps"]) for r in results],
            "p99_ms": statistics.median(r["p99_ms"] for r in results),
            "cpu_us_per_read": statistics.median(r["cpu_us_per_read"] for r in results),
            "non2xx": sum(r["non2xx"] for r in results),
            "log_lines": lines[name],
            "scrapes": sum(r.get("scrapes", 0) for r in results),
            "scrape_failures": sum(r.get("scrape_failures", 0) for r in results),
        }
        for name, results in runs.items()
    }

    def paired(name: str, key: str, invert: bool = False) -> float:
        ratios = [
            (o[key] / r[key]) if invert else (r[key] / o[key]) for r, o in zip(runs[name], runs["off"], strict=True)
        ]
        return statistics.median(ratios)

    summary["ratio_on_off"] = paired("on", "rps")
    summary["ratio_every_off"] = paired("every request", "rps")
    # Reads per CPU-second, on / off: the throughput ratio of a server with the cores to itself.
    summary["cpu_ratio_on_off"] = paired("on", "cpu_us_per_read", invert=True)
    summary["cpu_ratio_every_off"] = paired("every request", "cpu_us_per_read", invert=True)
    return summary


def table(result: dict, seconds: int) -> Table:
    out = Table(
        title=f"warm context reads: metrics and logging off vs on (wrk 32 conns, {len(result['off']['runs'])} rounds "
        f"of a {seconds} s burst each; ratios: median of the rounds' ratios)"
    )
    columns = ("configuration", "reads/s (median)", "rounds", "server CPU µs/read", "p99 ms", "log lines", "scrapes",
               "non-2xx")  # fmt: skip
    for column in columns:
        out.add_column(column)
    for name in CONFIGS:
        r = result[name]
        runs = " / ".join(f"{v:,}" for v in r["runs"])
        out.add_row(name, f"{r['rps']:,.0f}", runs, f"{r['cpu_us_per_read']:.1f}", f"{r['p99_ms']:.2f}",
                    f"{r['log_lines']:,}", str(r["scrapes"]), str(r["non2xx"]))  # fmt: skip
    ok = result["ratio_on_off"] >= 0.95
    verdict = "ok" if ok else "[red]MISS[/]"
    out.add_row("on / off", f"{result['ratio_on_off']:.3f}", f"target ≥ 0.95: {verdict}",
                f"{result['cpu_ratio_on_off']:.3f} (reads per CPU-s)", "", "", "", "")  # fmt: skip
    out.add_row("every request / off", f"{result['ratio_every_off']:.3f}", "(no target)",
                f"{result['cpu_ratio_every_off']:.3f}", "", "", "", "")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=4, help="per burst")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--server", default="granian")
    args = parser.parse_args()
    result = measure_observability(database_file(10_000, 1_000), args.seconds, args.rounds, args.server)
    console.print(table(result, args.seconds))


if __name__ == "__main__":
    main()
