"""Schema versions, with Alembic: `contextsvc db upgrade|current|history`, and the check
every process makes when it opens a database.

- An empty database gets the schema of today's metadata and is stamped at the newest
  revision (the same result as running every migration, in one statement per table; a
  test compares the two).
- A database made before migrations existed (the tables of revision 0001, no version
  table) is stamped at 0001, then upgraded like any other.
- A database at an older revision is upgraded in place on SQLite, the embedded default;
  on PostgreSQL a server refuses to start on it and says which command to run, because
  there an upgrade is an operator's decision (backups, privileges, several workers).
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
# Alembic says "Context impl SQLiteImpl" at INFO on every open: noise in a server's log.
logging.getLogger("alembic").setLevel(logging.WARNING)
FIRST_REVISION = "0001"
UPGRADE_COMMAND = "contextsvc db upgrade"


class SchemaOutdated(Exception):
    """The database's schema is older than this code's and may not be upgraded here."""

    def __init__(self, current: str | None, head: str) -> None:
        self.current, self.head = current, head
        super().__init__(
            f"the database schema is at revision {current or 'none'}, this version of contextsvc needs {head}: "
            f"run `{UPGRADE_COMMAND}` (with the same CONTEXTSVC_DATABASE_URL) and start again"
        )


def _config(metadata: MetaData, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["metadata"] = metadata
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "no migrations found"
    return head


def history() -> list[tuple[str, str | None, str]]:
    """(revision, the one before it, what it does), oldest first."""
    scripts = ScriptDirectory(str(MIGRATIONS))
    return [
        (script.revision, script.down_revision, " ".join((script.doc or "").split("\n\n")[0].split()))  # type: ignore[misc]
        for script in reversed(list(scripts.walk_revisions()))
    ]


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _prepare(conn: Connection, metadata: MetaData, upgrade: bool) -> str:
    head = head_revision()
    current = current_revision(conn)
    if current is None:
        existing = set(inspect(conn).get_table_names())
        if not existing:
            metadata.create_all(conn)
            command.stamp(_config(metadata, conn), head)
            return head
        if "calls" not in existing:
            raise RuntimeError(f"the database holds tables that are not contextsvc's ({sorted(existing)[:5]}…)")
        command.stamp(_config(metadata, conn), FIRST_REVISION)  # made before migrations existed
        current = FIRST_REVISION
    if current != head:
        if not upgrade:
            raise SchemaOutdated(current, head)
        command.upgrade(_config(metadata, conn), "head")
    return head


async def ensure_schema(engine: AsyncEngine, metadata: MetaData, *, upgrade: bool | None = None) -> str:
    """Bring the database to the newest revision, or refuse (see the module's rules);
    returns the revision it is at. `upgrade=None`: the backend's default (SQLite yes,
    PostgreSQL no); `contextsvc db upgrade` passes True."""
    if upgrade is None:
        upgrade = engine.dialect.name == "sqlite"
    async with engine.begin() as conn:
        return await conn.run_sync(_prepare, metadata, upgrade)


async def revision_of(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(current_revision)
