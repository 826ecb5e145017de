"""The `contextsvc` command: serve, rebuild, salesforce sync/writeback."""

from __future__ import annotations

import argparse
import logging
import secrets
import sys

from contextsvc.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import os

    if not Settings.from_env().api_keys.strip():
        key = secrets.token_urlsafe(24)
        os.environ["CONTEXTSVC_API_KEYS"] = key  # read by create_app in whichever process serves
        print(f"CONTEXTSVC_API_KEYS is not set; this run's key (all scopes): {key}", file=sys.stderr)
    # One worker, whichever server: the process owns the single writer (README, "Scaling out").
    if args.server == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        Granian(
            "contextsvc.api.app:create_app", factory=True, interface=Interfaces.ASGI, address=args.host,
            port=args.port, workers=1, log_level=args.log_level, log_access=args.access_log,
        ).serve()
        return 0
    import uvicorn

    from contextsvc.api.app import create_app

    # uvloop and httptools are used when installed (they are pinned dependencies).
    uvicorn.run(create_app(Settings.from_env()), host=args.host, port=args.port, log_level=args.log_level,
                access_log=args.access_log, loop="auto", http="auto")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    """Recompute every profile from the call log, in one transaction."""
    import asyncio
    import time
    from datetime import datetime, timezone
    from pathlib import Path

    from contextsvc.ingest.dispositions import Picklist
    from contextsvc.store.engine import create_engine, create_schema
    from contextsvc.store.profiles import rebuild_all
    from contextsvc.timeutil import micros

    settings = Settings.from_env()
    picklist = Picklist.load(Path(settings.seed_dir) / "dispositions.toml")

    async def run() -> int:
        engine = create_engine(settings.database_url)
        await create_schema(engine)
        try:
            async with engine.connect() as conn:
                await conn.execution_options(writer=True)
                async with conn.begin():
                    return await conn.run_sync(rebuild_all, picklist, micros(datetime.now(timezone.utc)))
        finally:
            await engine.dispose()

    started = time.perf_counter()
    people = asyncio.run(run())
    print(f"rebuilt {people:,} profiles from the call log in {time.perf_counter() - started:.1f}s")
    return 0


def _openapi(args: argparse.Namespace) -> int:
    """Write the OpenAPI document (3.0 for Salesforce External Services, or Litestar's 3.1)."""
    import msgspec

    from contextsvc.api.app import create_app
    from contextsvc.api.schema_export import openapi_document

    # The document depends on the routes only; no key or database is opened to build it.
    app = create_app(Settings.from_env(api_keys="openapi-export"))
    text = msgspec.json.format(msgspec.json.encode(openapi_document(app, args.version)), indent=2)
    if args.output:
        with open(args.output, "wb") as out:
            out.write(text + b"\n")
        print(f"wrote OpenAPI {args.version} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(text + b"\n")
    return 0


def _retention_run(args: argparse.Namespace) -> int:
    """Purge calls past the retention policy now, through a writer of its own (the server
    runs the same purge on its schedule; stop it first, as for rebuild)."""
    import asyncio
    from pathlib import Path

    from contextsvc.api.app import build_writer
    from contextsvc.ingest.dispositions import Picklist
    from contextsvc.retention import RetentionPolicy
    from contextsvc.store.engine import create_engine, create_schema
    from contextsvc.store.maintenance import run_retention

    settings = Settings.from_env()
    try:
        policy = RetentionPolicy.parse(settings.retention_days, settings.retention_rules)
    except ValueError as exc:
        print(f"CONTEXTSVC_RETENTION_*: {exc}", file=sys.stderr)
        return 2
    if not policy.active:
        print("no retention policy set (CONTEXTSVC_RETENTION_DAYS / CONTEXTSVC_RETENTION_RULES): nothing to purge")
        return 0
    picklist = Picklist.load(Path(settings.seed_dir) / "dispositions.toml")

    async def run():
        engine = create_engine(settings.database_url)
        await create_schema(engine)
        writer = build_writer(settings, engine, picklist)
        await writer.start()
        try:
            return await run_retention(writer, None, policy)
        finally:
            await writer.stop()
            await engine.dispose()

    report = asyncio.run(run())
    print(f"purged {report.calls:,} calls; rebuilt {report.profiles_rebuilt:,} profiles, "
          f"{report.profiles_emptied:,} left without calls")
    return 0


def _quality(args: argparse.Namespace) -> int:
    """Quality report or recount, straight from the database (safe while the server runs;
    stop it before a rebuild)."""
    import asyncio
    from datetime import date, datetime, timedelta, timezone

    import msgspec
    from rich.console import Console

    from contextsvc.quality import quality_rules
    from contextsvc.quality.table import report_table
    from contextsvc.store.engine import create_engine, create_schema
    from contextsvc.store.quality_recount import recount
    from contextsvc.store.quality_reads import quality_report

    settings = Settings.from_env()
    last = date.fromisoformat(args.to) if args.to else datetime.now(timezone.utc).date()
    first = date.fromisoformat(args.from_) if args.from_ else last - timedelta(days=29)

    async def run():
        engine = create_engine(settings.database_url)
        await create_schema(engine)
        try:
            async with engine.connect() as conn:
                if args.action == "rebuild":
                    await conn.execution_options(writer=True)
                    async with conn.begin():
                        return await conn.run_sync(recount, quality_rules(settings)[0])
                return await conn.run_sync(quality_report, first, last, args.group_by)
        finally:
            await engine.dispose()

    result = asyncio.run(run())
    if args.action == "rebuild":
        print(f"recounted data-quality counters from {result:,} calls")
    elif args.format == "json":
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(result)).decode() + "\n")
    else:
        Console().print(report_table(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contextsvc", description="Call-context service.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--access-log", action="store_true", help="log every request (slow under load)")
    serve.add_argument("--server", choices=("granian", "uvicorn"), default="granian",
                       help="ASGI server (granian: faster by measurement, see BENCHMARKS.md)")
    serve.set_defaults(handler=_serve)
    rebuild = commands.add_parser(
        "rebuild", help="recompute every person's profile from the call log (stop the server first)"
    )
    rebuild.set_defaults(handler=_rebuild)
    from contextsvc.salesforce.cli import add_commands as add_salesforce_commands

    add_salesforce_commands(commands)
    openapi = commands.add_parser("openapi", help="print or write the OpenAPI document")
    openapi.add_argument("--version", choices=["3.0", "3.1"], default="3.0", help="3.0: for Salesforce External Services")
    openapi.add_argument("--output", "-o", help="write to this file instead of standard output")
    openapi.set_defaults(handler=_openapi)
    retention = commands.add_parser("retention", help="apply the retention policy")
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    retention_commands.add_parser("run", help="purge calls older than the policy keeps them, now").set_defaults(
        handler=_retention_run
    )
    quality = commands.add_parser("quality", help="data-quality report, or recount its counters from the call log")
    quality.add_argument("action", choices=["report", "rebuild"], help="rebuild: recount (stop the server first)")
    quality.add_argument("--from", dest="from_", metavar="YYYY-MM-DD", help="first UTC day (default: 29 days before --to)")
    quality.add_argument("--to", metavar="YYYY-MM-DD", help="last UTC day, inclusive (default: today)")
    quality.add_argument("--group-by", default="source", choices=["source", "rep", "queue", "day", "direction"])
    quality.add_argument("--format", default="table", choices=["table", "json"])
    quality.set_defaults(handler=_quality)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
