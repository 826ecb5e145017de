"""Engine creation. SQLite pragmas and transaction handling live here and nowhere else."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util.concurrency import await_only, in_greenlet

from contextsvc.store.tables import metadata


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


BUSY_TIMEOUT_S = 10  # how long a connection waits for another's write lock


def configure_sqlite(engine: AsyncEngine | Engine) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # SQLAlchemy's recipe for correct transactions with the sqlite3 driver on 3.11:
        # stop the driver's own implicit BEGIN/COMMIT and emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL, not NORMAL: in WAL mode NORMAL can lose the last commits on power loss,
        # and we promise "acknowledged = durable". Group commit amortises the fsync.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache per connection
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn) -> None:
        # The writer asks for IMMEDIATE so it takes the write lock up front, instead of
        # failing with SQLITE_BUSY when a read transaction tries to upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writer") else "BEGIN")


def create_engine(url: str) -> AsyncEngine:
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        _prepare_sqlite_file(url)
    # hide_parameters: a failed statement's error (and its log line) never carries the
    # values bound to it, which are callers' phone numbers, emails and notes.
    connect_args = {}
    if make_url(url).drivername == "postgresql+asyncpg":
        # The server notices a client host that vanished (no FIN, no RST) within ~4 s and
        # ends its session, so the writer lease it held (an advisory lock) goes to a
        # standby within the leader timeout; by default Linux waits two hours.
        keepalive = {"tcp_keepalives_idle": "2", "tcp_keepalives_interval": "1", "tcp_keepalives_count": "2"}
        connect_args["server_settings"] = keepalive
    engine = create_async_engine(url, pool_pre_ping=not is_sqlite, hide_parameters=True, connect_args=connect_args)
    if is_sqlite:
        configure_sqlite(engine)
    return engine


def create_read_engine(url: str) -> Engine | None:
    """SQLite only: a synchronous engine for point reads run in a worker thread.

    Through aiosqlite a one-row read costs several thread hand-offs (check-out, execute,
    fetch, reset); through this engine in asyncio.to_thread it costs one, and sqlite3
    releases the GIL while it reads. Other backends return None and use the async engine.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    engine = sqlalchemy.create_engine(
        parsed.set(drivername="sqlite+pysqlite"), pool_size=8, max_overflow=8, hide_parameters=True
    )
    configure_sqlite(engine)
    return engine


async def create_schema(engine: AsyncEngine) -> None:
    """Every table defined on the shared metadata (the composition root imports them all):
    for tests of one part; a service's databases go through store/migrate.py."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


def pause_for_readers() -> None:
    """Inside the writer's run_sync (a greenlet on the serving event loop): let waiting
    requests run for a moment. A 5,000-call batch is ~0.5 s of Python; without pauses
    every context read queued behind it would wait that long. Called between whole
    calls, so readers see the same committed-or-waiting state as at any other await
    (reads of people the batch creates or merges wait for its commit: see reads.py).
    Outside a greenlet (a plain synchronous connection) there is no loop to yield to."""
    if in_greenlet():
        await_only(asyncio.sleep(0))


async def ping(engine: AsyncEngine) -> None:
    """One round trip: the health check's proof that the database answers."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
