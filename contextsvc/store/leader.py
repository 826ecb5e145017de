"""The leader's address, for the workers that hand it requests: written by the process
that holds the writer lease (store/lease.py) once it serves, read by the others."""

from __future__ import annotations

import secrets
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


_SALT = "replica_salt"


async def replica_salt(engine: AsyncEngine, create: bool = False) -> int | None:
    """The deployment's secret for digesting identifiers in change messages (Redis sees
    digests, never phone numbers or emails): made once by the first leader, then read."""
    markers = t.markers
    async with engine.begin() as conn:
        found = (await conn.execute(select(markers.c.value).where(markers.c.name == _SALT))).scalar()
        if found is None and create:
            found = secrets.randbits(62)
            await conn.execute(insert(markers).values(name=_SALT, value=found))
    return found
