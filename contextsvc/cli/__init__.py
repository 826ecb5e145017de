"""The `contextsvc` command: serve, rebuild, retention, quality, openapi, salesforce."""

from __future__ import annotations

import argparse
import logging

from contextsvc.cli import maintenance, salesforce, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contextsvc", description="Call-context service.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve.add_commands(commands)
    maintenance.add_commands(commands)
    salesforce.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result

