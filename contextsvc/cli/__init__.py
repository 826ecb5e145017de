"""The `contextsvc` command: serve, db, rebuild, retention, quality, openapi, salesforce."""

from __future__ import annotations

import argparse

from contextsvc.cli import database, maintenance, salesforce, serve
from contextsvc.settings import Settings
from contextsvc.telemetry import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contextsvc", description="Call-context service.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve.add_commands(commands)
    maintenance.add_commands(commands)
    database.add_commands(commands)
    salesforce.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format, settings.default_region)
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result
