"""The writer's lease: at most one process writes a database at a time.

Every process that runs the writer (a server, or a CLI command that writes) takes the
lease first and keeps it while it runs; a second one is refused and told who to ask. The
operating system and the database end the lease with the process, kill -9 included:

- SQLite: an exclusive flock on a file beside the database (`<file>.writer.lock`).
- PostgreSQL: a session advisory lock, held by a connection kept open for it. Advisory
  locks belong to one database, so databases sharing a server do not collide.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# pg_try_advisory_lock's key: any fixed 64-bit number; this one spells "ctxsvc-w".
ADVISORY_KEY = 0x63_74_78_73_76_63_2D_77


class DatabaseHeld(Exception):
    """Another process runs the writer of this database."""


class WriterLease:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._file: int | None = None
        self._conn: AsyncConnection | None = None
        self._using = asyncio.Lock()  # one statement at a time on the lease's connection
        url = make_url(str(engine.url))
        database = url.database or ""
        self._lock_path = (
            Path(database).with_name(Path(database).name + ".writer.lock")
            if url.get_backend_name() == "sqlite"
            and database not in ("", ":memory:")
            and not database.startswith("file:")
            else None
        )

    @property
    def held(self) -> bool:
        return self._file is not None or self._conn is not None

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; False (nothing taken) if somebody does."""
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            conn = await self.engine.connect()
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY})).scalar()
            await conn.commit()  # the lock is the session's, not the transaction's
            if got:
                self._conn = conn
            else:
                await conn.close()
            return bool(got)
        if self._lock_path is None:
            return True  # an in-memory database belongs to its process anyway
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return False
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode())
        self._file = handle
        return True

    async def still_held(self) -> bool:
        """Whether the lease is still this process's. On PostgreSQL the lock lives as long as
        its session: a session the database ended (terminated, or its connection lost) took
        the lock with it, and another process may hold it now. An flock cannot be lost."""
        if self._conn is None:
            return self.held
        async with self._using:
            try:
                await self._conn.execute(text("SELECT 1"))
                await self._conn.commit()
                return True
            except Exception:
                conn, self._conn = self._conn, None
                await conn.invalidate()
                return False

    async def renew(self) -> bool:
        """After the database was away: keep the lease if it survived, else take it again
        (PostgreSQL ends a session's locks with its connection). False if another took it."""
        if self._conn is not None and await self.still_held():
            return True
        return await self.try_acquire()

    async def acquire(self, what: str) -> None:
        if not await self.try_acquire():
            raise DatabaseHeld(f"another contextsvc process is writing to this database; {what}")

    async def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                await conn.commit()
                await conn.close()
            except Exception:  # the connection is gone, and the lock with it
                await conn.invalidate()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            os.close(self._file)
            self._file = None
