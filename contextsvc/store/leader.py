"""The leader's address, for the workers that hand it requests: written by the process
that holds the writer lease (store/lease.py) once it serves, read by the others."""

from __future__ import annotations

import time

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.store import tables as t


async def register_leader(engine: AsyncEngine, address: str) -> None:
    """Called by the lease holder only, so the one row is never written by two at once."""
    async with engine.begin() as conn:
        await conn.execute(delete(t.leader))
        await conn.execute(insert(t.leader).values(id=1, address=address, elected_at=int(time.time() * 1_000_000)))


async def leader_address(engine: AsyncEngine) -> str | None:
    """The last registered leader's address; it may have died since (its lease with it)."""
    async with engine.connect() as conn:
        return (await conn.execute(select(t.leader.c.address).where(t.leader.c.id == 1))).scalar()
