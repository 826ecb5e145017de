"""`make bench`: every performance target, measured in one run and printed side by side.

    .venv/bin/python -m bench [--seconds 8] [--quick]

1. ASGI server: the bare endpoint and warm context reads under uvicorn (uvloop +
   httptools) and granian, same app, same data; the faster one serves everything below.
2. Warm context vs the bare endpoint with a same-size payload (reads/s, p50, p99, ratio),
   and a latency-versus-throughput sweep (chart: docs/latency-vs-throughput.png).
3. Cold p99 at 1M calls / 100k people, and the 1M / 10k latency ratio (warm and cold).
4. Batch and single-POST ingest calls/s.
5. Simulator generation calls/s.
6. PostgreSQL beside SQLite: warm and cold reads, batch and single-POST ingest, on the
   same calls (a PostgreSQL the benchmark starts itself, its data under var/bench/).
7. Warm context reads with metrics and logging off, on, and logging every request
   (bench/observability.py: three servers side by side, paired bursts, ratio on / off).

wrk (C) generates the load on the same 2 cores; Python clients only for batch ingest.
Figures land in var/bench/results.json; BENCHMARKS.md records them with this command.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import msgspec
from rich.console import Console
from rich.table import Table

from bench.context import measure, sample_payload
from bench.dataset import BENCH_DIR, database, database_file, individuals
from bench.ingest import measure_ingest
from bench.observability import measure_observability
from bench.observability import table as observability_table
from contextsvc.settings import REPO_ROOT
from devservers.postgres import binaries
from simulator.speed import generation_rate

console = Console()
SWEEP = [0.1, 0.25, 0.5, 0.75, 0.9]
CHART = REPO_ROOT / "docs" / "latency-vs-throughput.png"


def chart(sweep: list[dict], bare_rps: float, server: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    achieved = [p["rps"] for p in sweep]
    ax.plot(achieved, [p["p50_ms"] for p in sweep], "o-", label="p50")
    ax.plot(achieved, [p["p99_ms"] for p in sweep], "s-", label="p99")
    ax.axhline(5, color="grey", linestyle="--", linewidth=1, label="p99 target (5 ms)")
    ax.axvline(bare_rps, color="grey", linestyle=":", linewidth=1, label="bare endpoint max")
    ax.set_xlabel("warm context reads/s (achieved)")
    ax.set_ylabel("latency, ms")
    ax.set_title(f"Warm context reads, 1M calls / 100k people, one {server} worker, 2 cores")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(CHART)


def postgres_column(args: argparse.Namespace, server: str, sqlite: dict) -> dict:
    """The same reads and ingest on PostgreSQL (same calls, same server, PostgreSQL's
    durable defaults), printed beside SQLite's."""
    s = args.seconds
    console.print("[dim]PostgreSQL: warm and cold reads, ingest[/]")
    big = database(args.calls, args.people, "postgresql")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline.json"
        hot = individuals(big, 1000)
        sample_payload(big, hot[0], baseline)
        warm = measure(big, s, cache_size=200_000, lookups=hot, baseline=baseline, warm_up=True, server=server)
    cold = measure(
        big, s, cache_size=1, lookups=individuals(big, 20_000, seed=2), baseline=None, warm_up=False, server=server
    )
    ingest = measure_ingest(server=server, seconds=s, backend="postgresql")
    table = Table(
        title=f"SQLite and PostgreSQL side by side: {args.calls:,} calls / {args.people:,} people, "
        f"one {server} worker, load generator on the same 2 cores"
    )
    for column in ("measure", "SQLite", "PostgreSQL", "PostgreSQL / SQLite", "target", ""):
        table.add_column(column)

    def side(name: str, a: float, b: float, unit: str, target: str = "", ok: bool | None = None) -> None:
        table.add_row(
            name,
            f"{a:,.2f}{unit}" if a < 100 else f"{a:,.0f}{unit}",
            f"{b:,.2f}{unit}" if b < 100 else f"{b:,.0f}{unit}",
            f"{b / a:.2f}" if a else "—",
            target,
            "" if ok is None else ("ok" if ok else "[red]MISS[/]"),
        )

    warm_ratio = warm["context_throughput"]["rps"] / sqlite["warm"]["context_throughput"]["rps"]
    side(
        "warm context reads/s",
        sqlite["warm"]["context_throughput"]["rps"],
        warm["context_throughput"]["rps"],
        "",
        "≥ 0.8× SQLite",
        warm_ratio >= 0.8,
    )
    side("warm p99 (4 conns)", sqlite["warm"]["context_latency"]["p99_ms"], warm["context_latency"]["p99_ms"], " ms")
    side("cold context reads/s", sqlite["cold"]["context_throughput"]["rps"], cold["context_throughput"]["rps"], "")
    side(
        "cold p99 (4 conns)",
        sqlite["cold"]["context_latency"]["p99_ms"],
        cold["context_latency"]["p99_ms"],
        " ms",
        "≤ 10 ms",
        cold["context_latency"]["p99_ms"] <= 10,
    )
    side(
        "batch ingest calls/s",
        sqlite["ingest"]["batch_rate"],
        ingest["batch_rate"],
        "",
        "≥ SQLite",
        ingest["batch_rate"] >= sqlite["ingest"]["batch_rate"],
    )
    side("single POST calls/s", sqlite["ingest"]["single_rate"], ingest["single_rate"], "")
    errors = sum(r["non2xx"] for m in (warm, cold) for k, r in m.items() if k != "sweep") + ingest["single_non2xx"]
    table.add_row("non-2xx responses (PostgreSQL)", "", str(errors), "", "0", "ok" if errors == 0 else "[red]MISS[/]")
    console.print(table)
    return {"warm": warm, "cold": cold, "ingest": ingest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8, help="per wrk phase")
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()
    s = args.seconds

    big, small = database(args.calls, args.people), database(10_000, 1_000)
    hot = individuals(big, 1000)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline.json"
        size = sample_payload(big, hot[0], baseline)
        servers = {}
        for server in ("uvicorn", "granian"):
            console.print(f"[dim]server comparison: {server}[/]")
            servers[server] = measure(
                small,
                s,
                cache_size=200_000,
                lookups=individuals(small, 1000),
                baseline=baseline,
                warm_up=True,
                server=server,
                latency=False,
            )
        chosen = max(servers, key=lambda name: servers[name]["context_throughput"]["rps"])
        console.print(f"[dim]warm reads, sweep: {chosen}[/]")
        warm = measure(
            big, s, cache_size=200_000, lookups=hot, baseline=baseline, warm_up=True, server=chosen, sweep=SWEEP
        )
    console.print("[dim]cold reads and the size ratio[/]")
    cold = measure(
        big, s, cache_size=1, lookups=individuals(big, 20_000, seed=2), baseline=None, warm_up=False, server=chosen
    )
    small_warm = measure(
        small, s, cache_size=200_000, lookups=individuals(small, 1000), baseline=None, warm_up=True, server=chosen
    )
    small_cold = measure(
        small, s, cache_size=1, lookups=individuals(small, 1000, seed=2), baseline=None, warm_up=False, server=chosen
    )
    console.print("[dim]ingest[/]")
    ingest = measure_ingest(server=chosen, seconds=s)
    console.print("[dim]simulator[/]")
    sim_rate, sim_calls = generation_rate(365)
    observability = measure_observability(database_file(10_000, 1_000), max(2, s // 2), rounds=10, server=chosen)
    chart(warm["sweep"], warm["baseline_throughput"]["rps"], chosen)

    ratio = warm["context_throughput"]["rps"] / warm["baseline_throughput"]["rps"]
    half = min(warm["sweep"], key=lambda p: abs(p["rps"] - warm["context_throughput"]["rps"] / 2))
    warm_size = warm["context_latency"]["p50_ms"] / small_warm["context_latency"]["p50_ms"]
    cold_size = cold["context_latency"]["p50_ms"] / small_cold["context_latency"]["p50_ms"]
    errors = sum(
        r["non2xx"]
        for m in (warm, cold, small_warm, small_cold, *servers.values())
        for k, r in m.items()
        if k != "sweep"
    ) + sum(p["non2xx"] for p in warm["sweep"])

    table = Table(
        title=f"contextsvc benchmarks: {args.calls:,} calls / {args.people:,} people, payload {size:,} bytes, "
        f"one {chosen} worker, wrk on the same 2 cores"
    )
    for column in ("measure", "result", "target", ""):
        table.add_column(column)

    def row(name: str, result: str, target: str = "", ok: bool | None = None) -> None:
        table.add_row(name, result, target, "" if ok is None else ("ok" if ok else "[red]MISS[/]"))

    for name, m in servers.items():
        row(
            f"{name}: bare / warm context reads/s (10k db)",
            f"{m['baseline_throughput']['rps']:,.0f} / {m['context_throughput']['rps']:,.0f}",
            "choose the faster",
        )
    row("warm context reads/s", f"{warm['context_throughput']['rps']:,.0f}")
    row("bare endpoint reads/s (same payload size)", f"{warm['baseline_throughput']['rps']:,.0f}")
    row("ratio warm / bare", f"{ratio:.2f}", "≥ 0.70", ratio >= 0.7)
    row(
        "warm p50 / p99 (4 conns)",
        f"{warm['context_latency']['p50_ms']:.2f} / {warm['context_latency']['p99_ms']:.2f} ms",
    )
    row(f"warm p99 at half of max ({half['rps']:,.0f}/s)", f"{half['p99_ms']:.2f} ms", "≤ 5 ms", half["p99_ms"] <= 5)
    row(
        "cold p50 / p99 (every read a cache miss)",
        f"{cold['context_latency']['p50_ms']:.2f} / {cold['context_latency']['p99_ms']:.2f} ms",
        "p99 ≤ 10 ms",
        cold["context_latency"]["p99_ms"] <= 10,
    )
    row("p50 at 1M / at 10k calls, warm", f"{warm_size:.2f}", "≤ 1.2", warm_size <= 1.2)
    row("p50 at 1M / at 10k calls, cold", f"{cold_size:.2f}", "≤ 1.2", cold_size <= 1.2)
    row("batch ingest", f"{ingest['batch_rate']:,.0f} calls/s", "≥ 20,000", ingest["batch_rate"] >= 20_000)
    row(
        "single POST ingest",
        f"{ingest['single_rate']:,.0f} calls/s (p99 {ingest['single_p99']})",
        "≥ 2,000",
        ingest["single_rate"] >= 2_000,
    )
    row("simulator generation", f"{sim_rate:,.0f} calls/s ({sim_calls:,} calls)", "≥ 50,000", sim_rate >= 50_000)
    row(
        "warm reads/s, metrics + logging on / off (10k db)",
        f"{observability['on']['rps']:,.0f} / {observability['off']['rps']:,.0f} = {observability['ratio_on_off']:.3f}",
        "≥ 0.95",
        observability["ratio_on_off"] >= 0.95,
    )
    row("non-2xx responses", str(errors + ingest["single_non2xx"]), "0", errors + ingest["single_non2xx"] == 0)
    console.print(table)
    sweep = Table(title="latency versus throughput (warm context reads, wrk paced, 64 conns)")
    for column in ("offered/s", "achieved/s", "p50 ms", "p99 ms"):
        sweep.add_column(column, justify="right")
    for p in warm["sweep"]:
        sweep.add_row(f"{p['offered']:,.0f}", f"{p['rps']:,.0f}", f"{p['p50_ms']:.2f}", f"{p['p99_ms']:.2f}")
    console.print(sweep)
    console.print(f"chart: {CHART.relative_to(REPO_ROOT)}")
    console.print(observability_table(observability, max(2, s // 2)))
    results.update(
        servers=servers,
        chosen=chosen,
        warm=warm,
        cold=cold,
        small_warm=small_warm,
        small_cold=small_cold,
        ingest=ingest,
        simulator={"calls_per_s": sim_rate, "calls": sim_calls},
        observability=observability,
    )
    if binaries() is None:
        console.print("[yellow]PostgreSQL column skipped: no PostgreSQL binaries (apt-get install postgresql)[/]")
    else:
        results["postgresql"] = postgres_column(args, chosen, {"warm": warm, "cold": cold, "ingest": ingest})
    (BENCH_DIR / "results.json").write_bytes(msgspec.json.format(msgspec.json.encode(results)))


if __name__ == "__main__":
    main()
