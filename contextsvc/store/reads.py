"""The context read path: lookup -> individual -> profile state (cache, else one row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.errors import Conflict, NotFound
from contextsvc.identity.graph import IdentityGraph
from contextsvc.identity.lookup import LookupKey
from contextsvc.ingest.dispositions import Picklist
from contextsvc.profile.facts import fact_from_call
from contextsvc.profile.state import ProfileState, build, decode_state
from contextsvc.store import tables as t
from contextsvc.store.cache import ProfileCache
from contextsvc.store.profiles import decode_call
from contextsvc.timeutil import micros


def resolve_individual(graph: IdentityGraph, key: LookupKey) -> str:
    found = graph.lookup(key.kind, key.value)
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


async def profile_state(engine: AsyncEngine, cache: ProfileCache, individual_id: str) -> ProfileState:
    cached = cache.get(individual_id)
    if cached is not None:
        return cached[1]
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(t.profiles.c.version, t.profiles.c.state).where(t.profiles.c.individual_id == individual_id)
            )
        ).first()
    if row is None:
        return build([])
    cache.put(individual_id, row.version, row.state)
    return decode_state(row.state)


async def state_as_of(
    engine: AsyncEngine, cache: ProfileCache, picklist: Picklist, individual_id: str, as_of: datetime
) -> ProfileState:
    """The state holding exactly the calls started at or before as_of."""
    state = await profile_state(engine, cache, individual_id)
    if state.last_call is None or state.last_call[0] <= micros(as_of):
        return state
    # A look back in time: rebuild from the call log (O(this person's history), not cached).
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.calls.c.body).where(t.calls.c.individual_id == individual_id, t.calls.c.started_at <= micros(as_of))
        )
        return build(fact_from_call(decode_call(body), picklist) for (body,) in rows)
