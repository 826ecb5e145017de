"""The `simulator` command: generate, stream, verify, salesforce push."""

from __future__ import annotations

import argparse
import sys
import time
from itertools import islice
from pathlib import Path

from rich.console import Console

from simulator.population import build_world
from simulator.scenario import load
from simulator.traffic import Traffic

console = Console(stderr=True)


def _scenario(args: argparse.Namespace):
    return load(args.scenario, args.set or [])


def _generate(args: argparse.Namespace) -> int:
    from simulator.output import write

    scenario = _scenario(args)
    started = time.perf_counter()
    world = build_world(scenario)
    traffic = Traffic(world, scenario)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    built = time.perf_counter()
    salesforce = None
    if args.salesforce:
        from simulator.salesforce import SalesforceWriter

        salesforce = SalesforceWriter(out / "salesforce", scenario, world)
    try:
        count = write(
            world, traffic, out / "calls.ndjson", out / "truth.ndjson", limit=args.limit, salesforce=salesforce
        )
    finally:
        if salesforce is not None:
            salesforce.close()
    elapsed = time.perf_counter() - built
    if salesforce is not None:
        console.print(
            "Salesforce records: "
            + ", ".join(f"{n:,} {name}" for name, n in salesforce.counts.items())
            + f" -> {out}/salesforce/"
        )
    console.print(
        f"{count:,} calls for {len(world.people):,} people in {elapsed:.2f}s "
        f"({count / elapsed:,.0f} calls/s; population {built - started:.2f}s) -> {out}/calls.ndjson, {out}/truth.ndjson"
    )
    return 0


def _stream(args: argparse.Namespace) -> int:
    import asyncio

    from simulator.stream import stream

    scenario = _scenario(args)
    world = build_world(scenario)
    calls = islice(Traffic(world, scenario).calls(), args.limit)
    started = time.perf_counter()
    lags: list[float] | None = [] if args.freshness else None
    statuses = asyncio.run(
        stream(
            calls,
            args.url,
            args.key,
            rate=args.rate,
            batch=args.batch,
            total=args.limit,
            freshness=lags,
            speed=args.speed,
        )
    )
    elapsed = time.perf_counter() - started
    total = sum(statuses.values())
    console.print(f"streamed {total:,} calls in {elapsed:.1f}s ({total / elapsed:,.0f} calls/s): {dict(statuses)}")
    from simulator.stream import post_dnc

    loaded = post_dnc(world, args.url, args.key)
    console.print(f"do-not-call list {loaded['list']!r}: {loaded['numbers_on_list']:,} numbers")
    fresh_ok = True
    if lags:
        lags.sort()
        p50, p99 = lags[len(lags) // 2] * 1000, lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000
        console.print(
            f"freshness (ack -> visible in the context), {len(lags)} probes: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
        fresh_ok = p99 <= args.freshness_p99_ms
    return 0 if set(statuses) <= {"accepted", "duplicate", "updated"} and fresh_ok else 1


def _verify(args: argparse.Namespace) -> int:
    import asyncio

    from rich.table import Table

    from simulator.verify import simulation_end, verify

    scenario = _scenario(args)
    world = build_world(scenario)
    calls = list(Traffic(world, scenario).calls())
    as_of = simulation_end(calls)
    report = asyncio.run(verify(world, calls, args.url, args.key, as_of))
    table = Table(title=f"verify: {report.people:,} people, {report.records:,} CRM records, as of {as_of.isoformat()}")
    table.add_column("measure")
    table.add_column("result")
    table.add_column("threshold")
    table.add_row(
        "completeness",
        f"{report.completeness:.2%} ({report.reflected_calls:,}/{report.expected_calls:,} calls)",
        f"≥ {args.min_completeness:.2%}",
    )
    table.add_row("identity precision", f"{report.precision:.4f}", "")
    table.add_row("identity recall", f"{report.recall:.4f}", "")
    table.add_row("identity F1", f"{report.f1:.4f}", f"≥ {args.min_f1}")
    exact_share = report.exact_people / max(1, report.exact_people + report.inexact_people)
    table.add_row("summary + windows exact", f"{exact_share:.2%} of individuals", f"≥ {args.min_exact:.2%}")
    reach = report.reachability
    shares = reach.shares()
    table.add_row(
        "do-not-call list shown",
        f"{shares['dnc']:.2%} of {reach.people:,} ({reach.listed:,} listed)",
        f"≥ {args.min_reachability:.2%}",
    )
    table.add_row("callable_now", f"{shares['callable_now']:.2%}", f"≥ {args.min_reachability:.2%}")
    table.add_row(
        "best windows",
        f"{shares['best_windows']:.2%} of {reach.best_windows_people:,} as good as the "
        f"simulated best (within sampling error): {'; '.join(map(str, reach.best_hours))}",
        f"≥ {args.min_reachability:.2%}",
    )
    console.print(table)
    for mismatch in report.mismatches[:3] + reach.mismatches[:3]:
        console.print(mismatch)
    ok = report.completeness >= args.min_completeness and report.f1 >= args.min_f1 and exact_share >= args.min_exact
    ok = ok and min(shares.values()) >= args.min_reachability
    return 0 if ok else 1


def _calibrate(args: argparse.Namespace) -> int:
    from rich.table import Table

    from simulator.calibration import calibrate

    scenario = _scenario(args)
    world = build_world(scenario)
    rates = calibrate(Traffic(world, scenario).calls())
    table = Table(title=f"calibration: scenario {args.scenario}, seed {scenario.seed}")
    for column in ("rate", "realised", "target", "plausible range", "source", ""):
        table.add_column(column)
    for rate in rates:
        table.add_row(
            rate.name,
            f"{rate.value:.4g}",
            rate.target,
            f"{rate.low:.4g}–{rate.high:.4g}",
            rate.source,
            "ok" if rate.within else "OUT",
        )
    Console().print(table)
    return 0 if all(r.within for r in rates) else 1


def _salesforce_push(args: argparse.Namespace) -> int:
    from contextsvc.salesforce import SalesforceApi, SalesforceProblem
    from contextsvc.settings import Settings
    from simulator.salesforce_push import push

    try:
        api = SalesforceApi(Settings.from_env())
        outcome = push(
            api, Path(args.directory), lambda name, done, total: console.print(f"{name}: {done:,}/{total:,}")
        )
    except SalesforceProblem as exc:
        console.print(f"salesforce push: {exc}")
        return 2
    for sobject, result in outcome.items():
        console.print(f"{sobject}: {result['created']:,} created, {len(result['failed']):,} failed")
        for failure in result["failed"][:5]:
            console.print(f"  {failure}")
    console.print("Lead conversions are not replayed (only convertLead converts a Lead).")
    return 1 if any(r["failed"] for r in outcome.values()) else 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="default", help="a name under seed/scenarios/ or a TOML path")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter, e.g. days=30")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simulator", description="Realistic sales-call traffic with ground truth.")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="write calls.ndjson and truth.ndjson")
    _common(generate)
    generate.add_argument("--out", default="var/sim", help="output directory")
    generate.add_argument("--limit", type=int, default=None, help="stop after this many calls")
    generate.add_argument(
        "--salesforce",
        action="store_true",
        help="also write Salesforce-shaped Account/Contact/Lead/Opportunity/Task/VoiceCall NDJSON",
    )
    generate.set_defaults(handler=_generate)

    demo = commands.add_parser("demo", help="seed 90 days of history, serve the API, stream live calls (make run)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--every", type=float, default=3.0, help="seconds between live calls")
    demo.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario parameter")
    demo.add_argument("--no-browser", action="store_true", help="do not open the demo console in a browser")
    demo.set_defaults(
        handler=lambda a: __import__("simulator.demo", fromlist=["run"]).run(
            a.host, a.port, a.every, a.set or [], open_browser=not a.no_browser
        )
    )

    salesforce = commands.add_parser("salesforce", help="load generated Salesforce records into an org")
    salesforce_actions = salesforce.add_subparsers(dest="action", required=True)
    push = salesforce_actions.add_parser(
        "push",
        help="create the records of generate --salesforce in the org of "
        "CONTEXTSVC_SALESFORCE_* (a sandbox), 200 per request",
    )
    push.add_argument("--from", dest="directory", default="var/sim/salesforce", help="generate --salesforce output")
    push.set_defaults(handler=_salesforce_push)

    calibration = commands.add_parser("calibrate", help="realised rates beside the reference ranges")
    _common(calibration)
    calibration.set_defaults(handler=_calibrate)

    for name, handler, text in (
        ("stream", _stream, "send the scenario's calls to a running service"),
        ("verify", _verify, "check a service that was fed the scenario against its truth"),
    ):
        command = commands.add_parser(name, help=text)
        _common(command)
        command.add_argument("--url", default="http://127.0.0.1:8000")
        command.add_argument("--key", default="demo-key", help="API key")
        command.set_defaults(handler=handler)
        if name == "stream":
            command.add_argument(
                "--rate", type=float, default=None, help="calls per second (default: as fast as possible)"
            )
            command.add_argument(
                "--speed",
                type=float,
                default=None,
                help="pace by the calls' own times: simulated seconds per second (1 = real time)",
            )
            command.add_argument("--batch", type=int, default=500, help="calls per request (1: single POSTs)")
            command.add_argument("--limit", type=int, default=None)
            command.add_argument(
                "--freshness",
                action="store_true",
                help="after each acknowledged request, time until one of its calls shows in a context",
            )
            command.add_argument(
                "--freshness-p99-ms", type=float, default=50.0, help="fail above this p99 (with --freshness)"
            )
        else:
            command.add_argument("--min-completeness", type=float, default=1.0)
            command.add_argument("--min-f1", type=float, default=0.99)
            command.add_argument("--min-exact", type=float, default=0.0)
            command.add_argument(
                "--min-reachability",
                type=float,
                default=0.99,
                help="least share of people whose DNC flag, callable_now and best windows match the truth",
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
