"""`contextsvc serve` and `contextsvc openapi`."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

from contextsvc.settings import Settings
from contextsvc.telemetry import logging_config


def _schema_ready(settings: Settings) -> bool:
    """Before any worker starts: the schema at the newest revision (SQLite upgrades itself)
    and no other writer on the database, or one clear line saying why not instead of a
    traceback per worker."""
    import asyncio

    from contextsvc.service import open_database
    from contextsvc.store import SchemaOutdated, WriterLease

    async def check() -> bool:
        async with open_database(settings) as engine:
            lease = WriterLease(engine)
            free = await lease.try_acquire()
            await lease.release()
            return free

    try:
        free = asyncio.run(check())
    except SchemaOutdated as exc:
        print(f"contextsvc serve: {exc}", file=sys.stderr)
        return False
    if not free and settings.standby:
        print(
            "contextsvc serve: another process holds the writer; this one follows it and takes over when it goes",
            file=sys.stderr,
        )
        return True
    if not free:
        print(
            "contextsvc serve: another contextsvc process is writing to this database (a server, or a command "
            "such as salesforce sync); one server per database, or start this one with --standby",
            file=sys.stderr,
        )
    return free


def _serve(args: argparse.Namespace) -> int:
    # Read by create_app in whichever process serves (granian serves from a child).
    if args.log_level:
        os.environ["CONTEXTSVC_LOG_LEVEL"] = args.log_level
    if args.access_log:
        os.environ["CONTEXTSVC_ACCESS_LOG"] = "all"
    if args.workers < 1:
        print("contextsvc serve: --workers must be 1 or more", file=sys.stderr)
        return 2
    if args.standby or args.workers > 1:  # several workers: one leads, the others follow
        os.environ["CONTEXTSVC_STANDBY"] = "true"
    settings = Settings.from_env()
    if not _schema_ready(settings):
        return 2
    if not settings.api_keys.strip():
        key = secrets.token_urlsafe(24)
        os.environ["CONTEXTSVC_API_KEYS"] = key
        print(f"CONTEXTSVC_API_KEYS is not set; this run's key (all scopes): {key}", file=sys.stderr)
    # Every record of the server and the app through the same handler and format; the
    # servers' own access logs stay off (ours has the request id and no raw path).
    log_config = logging_config(settings.log_level, settings.log_format, settings.default_region)
    # Each worker is a process; the one holding the writer lease leads (README, "Scaling out").
    if args.server == "granian":
        from granian import Granian
        from granian.constants import Interfaces
        from granian.log import LogLevels

        Granian(
            "contextsvc.api.app:create_app",
            factory=True,
            interface=Interfaces.ASGI,
            address=args.host,
            port=args.port,
            workers=args.workers,
            # A worker that dies (kill -9, out of memory) is started again as a follower while
            # another takes over; granian would otherwise stop every worker with it.
            respawn_failed_workers=args.workers > 1,
            log_level=LogLevels(settings.log_level.lower()),
            log_dictconfig=log_config,
            log_access=False,
        ).serve()
        return 0
    import uvicorn

    # uvloop and httptools are used when installed (they are pinned dependencies).
    uvicorn.run(
        "contextsvc.api.app:create_app",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_config=log_config,
        access_log=False,
        # Event streams (a follower's relays too) never end by themselves: stopping waits 5 s.
        timeout_graceful_shutdown=5,
        loop="auto",
        http="auto",
    )
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


def add_commands(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", help="overrides CONTEXTSVC_LOG_LEVEL (default INFO)")
    serve.add_argument(
        "--access-log", action="store_true", help="log every request: CONTEXTSVC_ACCESS_LOG=all (costs throughput)"
    )
    serve.add_argument(
        "--standby",
        action="store_true",
        help="start although another server holds the database's writer: hand it requests, and take over "
        "when it is gone (CONTEXTSVC_STANDBY=true; for workers on other hosts)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on this port: one leads (the writer, the jobs), the others hand it what they "
        "do not serve themselves and take over if it dies",
    )
    serve.add_argument(
        "--server",
        choices=("granian", "uvicorn"),
        default="granian",
        help="ASGI server (granian: faster by measurement, see BENCHMARKS.md)",
    )
    serve.set_defaults(handler=_serve)
    openapi = commands.add_parser("openapi", help="print or write the OpenAPI document")
    openapi.add_argument(
        "--version", choices=["3.0", "3.1"], default="3.0", help="3.0: for Salesforce External Services"
    )
    openapi.add_argument("--output", "-o", help="write to this file instead of standard output")
    openapi.set_defaults(handler=_openapi)
