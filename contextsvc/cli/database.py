"""`contextsvc db upgrade | current | history`: the schema's migrations (store/migrate.py)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Console
from rich.table import Table

from contextsvc.settings import Settings

console = Console()


def _upgrade(args: argparse.Namespace) -> int:
    from contextsvc.service import engine_for, open_database
    from contextsvc.store import revision_of

    async def run() -> tuple[str | None, str | None]:
        settings = Settings.from_env()
        probe = engine_for(settings)
        try:
            before = await revision_of(probe)
        finally:
            await probe.dispose()
        async with open_database(settings, upgrade=True) as engine:
            return before, await revision_of(engine)

    before, after = asyncio.run(run())
    if before == after:
        console.print(f"the schema is at the newest revision already: {after}")
    else:
        console.print(f"upgraded the schema from {before or 'nothing'} to {after}")
    return 0


def _current(args: argparse.Namespace) -> int:
    from contextsvc.service import engine_for
    from contextsvc.store import head_revision, revision_of

    async def run() -> str | None:
        engine = engine_for(Settings.from_env())
        try:
            return await revision_of(engine)
        finally:
            await engine.dispose()

    current, head = asyncio.run(run()), head_revision()
    state = "newest" if current == head else f"behind {head}: run contextsvc db upgrade"
    console.print(f"{current or 'no schema'} ({state})")
    return 0 if current == head else 1


def _history(args: argparse.Namespace) -> int:
    from contextsvc.store import history

    table = Table(title="schema migrations, oldest first")
    for column in ("revision", "after", "what it does"):
        table.add_column(column)
    for revision, before, doc in history():
        table.add_row(revision, before or "—", doc)
    console.print(table)
    return 0


def add_commands(commands: Any) -> None:
    db = commands.add_parser("db", help="the database schema: upgrade it, show its revision, list migrations")
    actions = db.add_subparsers(dest="db_command", required=True)
    actions.add_parser("upgrade", help="create the schema, or migrate it to the newest revision").set_defaults(
        handler=_upgrade
    )
    actions.add_parser("current", help="the revision the database is at (exit 1 if behind)").set_defaults(
        handler=_current
    )
    actions.add_parser("history", help="every migration, oldest first").set_defaults(handler=_history)
