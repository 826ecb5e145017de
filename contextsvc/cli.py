"""The `contextsvc` command: serve (more subcommands arrive with later stages)."""

from __future__ import annotations

import argparse
import logging
import secrets
import sys

from contextsvc.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from contextsvc.api.app import create_app

    settings = Settings.from_env()
    if not settings.api_keys.strip():
        key = secrets.token_urlsafe(24)
        settings = Settings.from_env(api_keys=key)
        print(f"CONTEXTSVC_API_KEYS is not set; this run's key (all scopes): {key}", file=sys.stderr)
    app = create_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log)
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
    serve.set_defaults(handler=_serve)
    rebuild = commands.add_parser(
        "rebuild", help="recompute every person's profile from the call log (stop the server first)"
    )
    rebuild.set_defaults(handler=_rebuild)
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
