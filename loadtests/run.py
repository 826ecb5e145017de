"""`make loadtest PROFILE=smoke|standard|stress`: a fresh seeded service, Locust headless,
then verification and SLO gates. Exit status 0 only if every SLO holds.

    .venv/bin/python -m loadtests.run --profile standard [--server uvicorn|granian] [--ui]

Writes under var/loadtest/<profile>/: locust_*.csv, report.html, summary.json (the SLO
table), acked.txt (every acknowledged call id) and the database itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import msgspec
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from contextsvc.api.forward import FORWARDED
from contextsvc.settings import REPO_ROOT, Settings
from devservers.redis import ThrowawayRedis
from loadtests import dataset
from loadtests.host import MAX_STALL_MS, Platform, StallProbe, slowness
from loadtests.profiles import PROFILES, Profile
from simulator.verify import simulation_end, verify
from tests.live import live_server

KEY = "loadtest-key"
console = Console()


class Check(msgspec.Struct):
    name: str
    value: float
    limit: float  # what the value was judged against: for latencies, the SLO plus the platform's stall
    unit: str
    passed: bool
    slo: float | None = None  # a latency's own SLO, before the platform's stall is added


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def locust_rows(prefix: Path) -> list[dict]:
    with open(f"{prefix}_stats.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def run_locust(profile: Profile, out: Path, bases: list[str], ui: bool) -> int:
    base = bases[0]
    env = {
        **os.environ,
        "LOADTEST_HOSTS": ",".join(bases) if len(bases) > 1 else "",
        "LOADTEST_DIR": str(out),
        "LOADTEST_PROFILE": profile.name,
        "LOADTEST_KEY": KEY,
        "PYTHONPATH": str(REPO_ROOT),
    }
    command = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(REPO_ROOT / "loadtests" / "locustfile.py"),
        "--host",
        base,
        "-u",
        str(profile.users),
        "-r",
        str(profile.users),
    ]
    if ui:
        console.print("Locust web UI on http://127.0.0.1:8089 — press Start, Ctrl-C here to finish")
        command += ["--web-host", "127.0.0.1", "--web-port", "8089"]
    else:
        command += [
            "--headless",
            "-t",
            f"{profile.seconds}s",
            "--stop-timeout",
            "10",
            "--only-summary",
            "--csv",
            str(out / "locust"),
            "--html",
            str(out / "report.html"),
            "--loglevel",
            "WARNING",
        ]
    return subprocess.run(command, env=env, cwd=REPO_ROOT).returncode


def warm_up(base: str, out: Path, data: dataset.Dataset) -> None:
    """What a deployment's readiness probe and first minutes do before agents arrive:
    every code path of the measured requests runs once (lazy imports, phonenumbers'
    metadata for each region, first connections), so the gates measure the service warm.
    The posts are seeded calls again: duplicates, which change nothing."""
    found = msgspec.json.decode((out / "targets.json").read_bytes(), type=list[dataset.Target])
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for target in found[:25]:
            for lookup in target.lookups:
                for query in ("max_tokens=300&recent=5", "max_tokens=150&recent=3&format=prompt"):
                    client.get(f"/v1/context/{quote(lookup.text, safe='')}?{query}").raise_for_status()
        for call in data.history[:10]:
            client.post("/v1/calls", json=call.event).raise_for_status()
        client.post("/v1/calls/batch", json={"calls": [c.event for c in data.history[10:60]]}).raise_for_status()


SERVER_HISTOGRAMS = {
    "contextsvc_http_request_duration_seconds": ("method", "route"),
    "contextsvc_writer_commit_seconds": ("kind",),
}
Histograms = dict[str, list[float]]  # series name -> [count, sum, count ≤ 10 ms, count ≤ 25 ms]


def server_histograms(base: str) -> Histograms:
    """The server's own latency histograms from /metrics, summed over statuses: how long it
    took to start each response, without the client's queueing (Locust shares the cores)."""
    text = httpx.get(f"{base}/metrics", timeout=10).raise_for_status().text
    found: Histograms = {}
    for family in text_string_to_metric_families(text):
        labels_named = SERVER_HISTOGRAMS.get(family.name)
        if labels_named is None:
            continue
        for sample in family.samples:
            name = (
                "writer commit (" + sample.labels["kind"] + ")"
                if "kind" in sample.labels
                else " ".join(sample.labels.get(label, "") for label in labels_named)
            )
            row = found.setdefault(name, [0.0, 0.0, 0.0, 0.0])
            if sample.name.endswith("_count"):
                row[0] += sample.value
            elif sample.name.endswith("_sum"):
                row[1] += sample.value
            elif sample.name.endswith("_bucket") and sample.labels["le"] in ("0.01", "0.025"):
                row[2 if sample.labels["le"] == "0.01" else 3] += sample.value
    return found


def cluster_histograms(bases: list[str]) -> Histograms:
    """Every worker's histograms summed: a follower answers context reads itself and hands
    the rest on, so its "(handed to the leader)" rows are the leader's rows again."""
    found: Histograms = {}
    for base in bases:
        for name, row in server_histograms(base).items():
            if FORWARDED in name:
                continue
            total = found.setdefault(name, [0.0, 0.0, 0.0, 0.0])
            for i, value in enumerate(row):
                total[i] += value
    return found


def server_side(before: Histograms, after: Histograms) -> dict[str, dict]:
    """What the server measured during the Locust run alone (the warm-up subtracted)."""
    rows = {}
    for name, (count, total, within_10, within_25) in sorted(after.items()):
        count0, total0, within0_10, within0_25 = before.get(name, [0.0] * 4)
        requests = count - count0
        if requests <= 0 or name.endswith("/metrics"):
            continue
        rows[name] = {
            "count": int(requests),
            "mean_ms": (total - total0) / requests * 1000,
            "within_10ms": (within_10 - within0_10) / requests,
            "within_25ms": (within_25 - within0_25) / requests,
        }
    return rows


def verify_acknowledged(data: dataset.Dataset, out: Path, base: str) -> tuple[msgspec.Struct, int]:
    acked = set((out / "acked.txt").read_text().split())
    calls = data.history + [c for c in data.tail if c.event["call_id"] in acked]
    report = asyncio.run(verify(data.world, calls, base, KEY, simulation_end(calls)))
    return report, len(acked)


def latency_check(name: str, sorted_ms: list[float], slo_ms: float, platform: Platform) -> Check:
    """p99 against the SLO allowing for what the machine itself stalled (loadtests.host); a
    machine stalling beyond MAX_STALL_MS fails the gate outright."""
    p99 = percentile(sorted_ms, 0.99)
    limit = platform.limit(slo_ms)
    return Check(name, p99, limit, "ms", bool(sorted_ms) and platform.fit and p99 <= limit, slo=slo_ms)


def evaluate(
    profile: Profile, out: Path, report, acked: int, server: dict[str, dict], platform: Platform
) -> tuple[list[Check], dict]:
    rows = locust_rows(out / "locust")
    aggregated = next(r for r in rows if r["Name"] == "Aggregated")
    requests, failures = int(aggregated["Request Count"]), int(aggregated["Failure Count"])
    latencies = msgspec.json.decode((out / "latencies.json").read_bytes())
    context, fresh = latencies["context"], latencies["freshness"]
    error_rate = failures / requests if requests else 1.0
    checks = [
        Check("error rate", error_rate * 100, profile.max_error_rate * 100, "%", error_rate <= profile.max_error_rate),
        latency_check("context p99", context, profile.context_p99_ms, platform),
        latency_check("freshness p99", fresh, profile.freshness_p99_ms, platform),
        Check(
            "completeness",
            report.completeness * 100,
            profile.min_completeness * 100,
            "%",
            report.completeness >= profile.min_completeness,
        ),
        Check("identity F1", report.f1, profile.min_identity_f1, "", report.f1 >= profile.min_identity_f1),
        Check(
            "writers never ran dry",
            0.0 if latencies["tail_exhausted"] else 1.0,
            1.0,
            "",
            not latencies["tail_exhausted"],
        ),
    ]
    by_name = {
        r["Name"]: {
            "requests": int(r["Request Count"]),
            "failures": int(r["Failure Count"]),
            "rps": float(r["Requests/s"]),
            "p50_ms": float(r["50%"]),
            "p99_ms": float(r["99%"]),
        }
        for r in rows
    }
    seconds = profile.seconds
    summary = {
        "profile": msgspec.to_builtins(profile),
        "requests": requests,
        "failures": failures,
        "rps": float(aggregated["Requests/s"]),
        "context": {
            "reads": len(context),
            "reads_per_s": len(context) / seconds,
            "p50_ms": percentile(context, 0.5),
            "p95_ms": percentile(context, 0.95),
            "p99_ms": percentile(context, 0.99),
            "max_ms": context[-1] if context else 0,
        },
        "freshness": {
            "probes": len(fresh),
            "p50_ms": percentile(fresh, 0.5),
            "p99_ms": percentile(fresh, 0.99),
            "max_ms": fresh[-1] if fresh else 0,
        },
        "calls_acknowledged": acked,
        "calls_acknowledged_per_s": acked / seconds,
        "verify": msgspec.to_builtins(report),
        "locust": by_name,
        "server": server,
        "platform": msgspec.to_builtins(platform),
        "checks": msgspec.to_builtins(checks),
        "passed": all(c.passed for c in checks),
    }
    return checks, summary


def show(profile: Profile, summary: dict, checks: list[Check], elapsed: float) -> None:
    table = Table(
        title=f"load test '{profile.name}': {profile.users} users, {profile.seconds}s "
        f"({summary['rps']:,.0f} req/s; {summary['calls_acknowledged']:,} calls posted)"
    )
    for column in ("request", "count", "req/s", "p50 ms", "p99 ms", "failures"):
        table.add_column(column, justify="right" if column != "request" else "left")
    for name, row in summary["locust"].items():
        table.add_row(
            escape(name),
            f"{row['requests']:,}",
            f"{row['rps']:,.1f}",
            f"{row['p50_ms']:g}",
            f"{row['p99_ms']:g}",
            str(row["failures"]),
        )
    console.print(table)
    gates = Table(title="SLO gates (context and freshness percentiles exact, from every sample)")
    for column in ("SLO", "measured", "limit", ""):
        gates.add_column(column)
    for check in checks:
        if check.name == "writers never ran dry":
            gates.add_row(check.name, "yes" if check.passed else "NO", "", "ok" if check.passed else "[red]FAIL[/]")
            continue
        comparison = "≥" if check.name in ("completeness", "identity F1") else "≤"
        limit = f"{comparison} {check.limit:g} {check.unit}"
        if check.slo is not None and check.limit != check.slo:
            limit = f"{comparison} {check.limit:.1f} {check.unit} (SLO {check.slo:g})"
        gates.add_row(check.name, f"{check.value:.2f} {check.unit}", limit, "ok" if check.passed else "[red]FAIL[/]")
    server = Table(title="the server's own view (from /metrics: time to start the response; bucket edges)")
    for column in ("request", "count", "mean ms", "≤ 10 ms", "≤ 25 ms"):
        server.add_column(column, justify="right" if column != "request" else "left")
    for name, row in summary["server"].items():
        server.add_row(
            escape(name),
            f"{row['count']:,}",
            f"{row['mean_ms']:.2f}",
            f"{row['within_10ms']:.2%}",
            f"{row['within_25ms']:.2%}",
        )
    console.print(server)
    console.print(gates)
    platform = summary["platform"]
    steal = "" if platform["steal"] is None else f", CPU steal {platform['steal']:.1%}"
    verdict = (
        "latency limit = SLO × slowness / (1 - stalled share) + stall p99"
        if platform["stall_p99_ms"] <= MAX_STALL_MS
        else f"stall p99 over {MAX_STALL_MS:g} ms: the machine is unfit to judge latency"
    )
    console.print(
        f"machine: CPU slowness ×{platform['slowness']:.2f} against the reference (simulator benchmark, "
        f"CPU time); stalls during Locust's run (1 ms sleeps overshooting): p99 by time "
        f"{platform['stall_p99_ms']:.1f} ms, max {platform['stall_max_ms']:.1f} ms, "
        f"stalled {platform['stalled_share']:.1%} of the time{steal}; {verdict}"
    )
    v = summary["verify"]
    console.print(
        f"verify: completeness {v['completeness']:.2%} ({v['reflected_calls']:,}/{v['expected_calls']:,} calls), "
        f"identity F1 {v['f1']:.4f}; whole run {elapsed:.0f}s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--server", choices=("granian", "uvicorn"), default="granian")
    parser.add_argument("--ui", action="store_true", help="Locust's web UI instead of a timed headless run")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes on the one database (README, Scaling out)"
    )
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    out = REPO_ROOT / "var" / "loadtest" / profile.name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    db = out / "contextsvc.db"
    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{db}", api_keys=KEY)
    data = dataset.build(profile)
    seeded = dataset.seed_database(settings, data)
    people, tail = dataset.write(out, settings, data)
    console.print(
        f"seeded {seeded:,} calls ({len(data.world.people):,} prospects); {people:,} read targets; "
        f"{tail:,} calls queued for the writers ({time.perf_counter() - started:.0f}s)"
    )
    with contextlib.ExitStack() as servers:
        # Several workers, as in production: the first leads (it starts first), the others
        # answer context reads themselves (their caches follow the leader through Redis)
        # and hand it the rest; the server-side figures are every worker's together.
        standby, redis_url = "false", ""
        if args.workers > 1:
            standby, redis_url = "true", servers.enter_context(ThrowawayRedis(out / "redis")).url
        bases = [
            servers.enter_context(
                live_server(
                    settings.database_url,
                    KEY,
                    server=args.server,
                    wait_for="/health/ready",
                    standby=standby,
                    redis_url=redis_url,
                )
            )[0]
            for _ in range(args.workers)
        ]
        base = bases[0]
        warm_up(base, out, data)
        before = cluster_histograms(bases)
        with StallProbe(slowness()) as probe:
            code = run_locust(profile, out, bases, args.ui)
        if args.ui:
            return code
        server = server_side(before, cluster_histograms(bases))
        report, acked = verify_acknowledged(data, out, base)
    checks, summary = evaluate(profile, out, report, acked, server, probe.result())
    summary["workers"] = args.workers
    (out / "summary.json").write_bytes(msgspec.json.format(msgspec.json.encode(summary)))
    show(profile, summary, checks, time.perf_counter() - started)
    console.print(f"CSV, HTML and summary.json in {out.relative_to(REPO_ROOT)}/")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
