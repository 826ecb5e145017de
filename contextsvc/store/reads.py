"""The context read path: lookup -> individual -> profile state (cache, else one row)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.errors import Conflict, NotFound
from contextsvc.identity.lookup import LookupKey
from contextsvc.ingest.dispositions import Picklist
from contextsvc.profile.facts import fact_from_call
from contextsvc.profile.state import ProfileState, build, decode_state
from contextsvc.store import tables as t
from contextsvc.store.cache import ProfileCache
from contextsvc.store.profiles import decode_call
from contextsvc.timeutil import micros

if TYPE_CHECKING:
    from contextsvc.store.writer import Writer


async def resolve_individual(writer: "Writer", key: LookupKey) -> str:
    found = writer.graph.lookup(key.kind, key.value)
    if writer.graph.touched.intersection(found):
        # The in-flight batch is changing this person (a merge, a new individual): answer
        # from its committed outcome, not from a half-applied one.
        await writer.settled()
        found = writer.graph.lookup(key.kind, key.value)
    label = key.kind.replace("_", " ")
    if not found:
        raise NotFound(f"no one is known by {label} {key.value}", details={"lookup": {"kind": key.kind, "value": key.value}})
    if len(found) > 1:
        raise Conflict(
            f"{label} {key.value} is shared by {len(found)} people; look one of them up by individual id",
            code="ambiguous_lookup",
            details={"lookup": {"kind": key.kind, "value": key.value}, "candidates": found},
        )
    return found[0]


class ProfileReader:
    """Loads one profile row: on SQLite through a sync engine in a thread (see engine.py)."""

    def __init__(self, engine: AsyncEngine, sync_engine: Engine | None) -> None:
        self.engine = engine
        self.sync_engine = sync_engine

    def _load_sync(self, individual_id: str):
        with self.sync_engine.connect() as conn:
            return conn.execute(_PROFILE_ROW, {"id": individual_id}).first()

    async def load(self, individual_id: str):
        if self.sync_engine is not None:
            return await asyncio.to_thread(self._load_sync, individual_id)
        async with self.engine.connect() as conn:
            return (await conn.execute(_PROFILE_ROW, {"id": individual_id})).first()

    def close(self) -> None:
        if self.sync_engine is not None:
            self.sync_engine.dispose()


_PROFILE_ROW = select(t.profiles.c.version, t.profiles.c.state).where(t.profiles.c.individual_id == bindparam("id"))


async def profile_state(reader: ProfileReader, cache: ProfileCache, individual_id: str) -> ProfileState:
    cached = cache.get(individual_id)
    if cached is not None:
        return cached[1]
    generation = cache.generation
    row = await reader.load(individual_id)
    if row is None:
        return build([])
    cache.fill(individual_id, row.version, row.state, generation)
    return decode_state(row.state)


async def state_as_of(
    reader: ProfileReader, cache: ProfileCache, picklist: Picklist, individual_id: str, as_of: datetime
) -> ProfileState:
    """The state holding exactly the calls started at or before as_of."""
    state = await profile_state(reader, cache, individual_id)
    if state.last_call is None or state.last_call[0] <= micros(as_of):
        return state
    # A look back in time: rebuild from the call log (O(this person's history), not cached).
    async with reader.engine.connect() as conn:
        rows = await conn.execute(
            select(t.calls.c.body).where(t.calls.c.individual_id == individual_id, t.calls.c.started_at <= micros(as_of))
        )
        return build(fact_from_call(decode_call(body), picklist) for (body,) in rows)
