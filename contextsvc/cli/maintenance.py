"""`contextsvc rebuild`, `contextsvc retention run` and `contextsvc quality report|rebuild`:
each opens the database through the composition root; the writing ones run through the
service's one writer, in one transaction."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contextsvc.cli.writing import HELD, Held, run_writing
from contextsvc.settings import Settings


def _rebuild(args: argparse.Namespace) -> int:
    """Recompute every profile from the call log, in one transaction."""
    from contextsvc.service import open_service

    async def run() -> Any:
        async with open_service(Settings.from_env()) as service:
            return await service.rebuild()

    started = time.perf_counter()
    try:
        report = run_writing("rebuild", "/v1/admin/rebuild", run())
    except Held:
        return HELD
    print(
        f"rebuilt {report.profiles:,} profiles from the call log in {time.perf_counter() - started:.1f}s"
        + (f"; {report.emptied:,} without calls removed" if report.emptied else "")
    )
    return 0


def _retention_run(args: argparse.Namespace) -> int:
    """Purge calls past the retention policy now, through the service's writer (the server
    runs the same purge on its schedule)."""
    from contextsvc.pipeline import RetentionPolicy
    from contextsvc.service import open_service

    settings = Settings.from_env()
    try:
        policy = RetentionPolicy.parse(settings.retention_days, settings.retention_rules)
    except ValueError as exc:
        print(f"CONTEXTSVC_RETENTION_*: {exc}", file=sys.stderr)
        return 2
    if not policy.active:
        print("no retention policy set (CONTEXTSVC_RETENTION_DAYS / CONTEXTSVC_RETENTION_RULES): nothing to purge")
        return 0

    async def run() -> Any:
        async with open_service(settings) as service:
            return await service.purge_expired(policy)

    try:
        report = run_writing("retention run", "/v1/admin/retention/run", run())
    except Held:
        return HELD
    print(
        f"purged {report.calls:,} calls; rebuilt {report.profiles_rebuilt:,} profiles, "
        f"{report.profiles_emptied:,} left without calls"
    )
    return 0


def _quality(args: argparse.Namespace) -> int:
    """Quality report (read-only, straight from the database) or recount (through the writer)."""
    import msgspec
    from rich.console import Console

    from contextsvc.quality import QualityReport, quality_report, report_table
    from contextsvc.service import open_database, open_service

    settings = Settings.from_env()
    last = date.fromisoformat(args.to) if args.to else datetime.now(UTC).date()
    first = date.fromisoformat(args.from_) if args.from_ else last - timedelta(days=29)

    async def recount() -> int:
        async with open_service(settings) as service:
            return await service.recount_quality()

    async def report() -> QualityReport:
        async with open_database(settings) as engine, engine.connect() as conn:
            return await conn.run_sync(quality_report, first, last, args.group_by)

    if args.action == "rebuild":
        try:
            recounted = run_writing("quality rebuild", "/v1/admin/quality/recount", recount())
        except Held:
            return HELD
        print(f"recounted data-quality counters from {recounted:,} calls")
        return 0
    result = asyncio.run(report())
    if args.format == "json":
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(result)).decode() + "\n")
    else:
        Console().print(report_table(result))
    return 0


def add_commands(commands: Any) -> None:
    rebuild = commands.add_parser(
        "rebuild", help="recompute every person's profile from the call log (a running server: POST /v1/admin/rebuild)"
    )
    rebuild.set_defaults(handler=_rebuild)
    retention = commands.add_parser("retention", help="apply the retention policy")
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    retention_commands.add_parser("run", help="purge calls older than the policy keeps them, now").set_defaults(
        handler=_retention_run
    )
    quality = commands.add_parser("quality", help="data-quality report, or recount its counters from the call log")
    quality.add_argument(
        "action",
        choices=["report", "rebuild"],
        help="rebuild: recount from the call log (a running server: POST /v1/admin/quality/recount)",
    )
    quality.add_argument(
        "--from", dest="from_", metavar="YYYY-MM-DD", help="first UTC day (default: 29 days before --to)"
    )
    quality.add_argument("--to", metavar="YYYY-MM-DD", help="last UTC day, inclusive (default: today)")
    quality.add_argument("--group-by", default="source", choices=["source", "rep", "queue", "day", "direction"])
    quality.add_argument("--format", default="table", choices=["table", "json"])
    quality.set_defaults(handler=_quality)
