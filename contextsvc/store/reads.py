"""The context read path: lookup -> individual -> profile state (cache, else one row)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.context.assemble import assemble_with_window
from contextsvc.context.memo import ContextMemo, RenderedContext
from contextsvc.context.privacy import FULL, Disclosure, redact
from contextsvc.context.prompt import render
from contextsvc.errors import Conflict, NotFound
from contextsvc.identity.lookup import LookupKey
from contextsvc.ingest.dispositions import Picklist
from contextsvc.profile.facts import fact_from_call
from contextsvc.profile.state import ProfileState, build, decode_state
from contextsvc.reachability.block import NO_INPUTS, Inputs
from contextsvc.store import tables as t
from contextsvc.store.cache import ProfileCache
from contextsvc.store.profiles import decode_call
from contextsvc.timeutil import day_of, micros

if TYPE_CHECKING:
    from contextsvc.store.segments import SegmentView
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


async def profile_state(reader: ProfileReader, cache: ProfileCache, individual_id: str) -> tuple[int, ProfileState]:
    """(version, state); version 0 and an empty state for someone with no profile row."""
    cached = cache.get(individual_id)
    if cached is not None:
        return cached
    generation = cache.generation
    row = await reader.load(individual_id)
    if row is None:
        return 0, build([])
    cache.fill(individual_id, row.version, row.state, generation)
    return row.version, decode_state(row.state)


async def history_state(reader: ProfileReader, picklist: Picklist, individual_id: str, as_of: datetime) -> ProfileState:
    """A look back in time: the state of the calls started at or before as_of, rebuilt from
    the call log (O(this person's history), so never the hot path)."""
    async with reader.engine.connect() as conn:
        rows = await conn.execute(
            select(t.calls.c.body).where(t.calls.c.individual_id == individual_id, t.calls.c.started_at <= micros(as_of))
        )
        return build(fact_from_call(decode_call(body), picklist) for (body,) in rows)


async def read_context(
    reader: ProfileReader,
    cache: ProfileCache,
    memo: ContextMemo,
    picklist: Picklist,
    individual_id: str,
    as_of: datetime,
    recent: int,
    max_tokens: int,
    disclosure: Disclosure = FULL,
    segments: "SegmentView | None" = None,
    reach: Inputs = NO_INPUTS,
) -> RenderedContext:
    """The context served for (individual, as_of, recent, max_tokens) as `disclosure`
    lets the caller see it, prompt included; `.json(as_of)` gives the response body.
    With `segments`, it lists the person's segments at as_of: a function of the context
    itself and the segment definitions, whose version is part of the memo key."""
    version, state = await profile_state(reader, cache, individual_id)
    as_of_us = micros(as_of)
    if state.last_call is not None and state.last_call[0] > as_of_us:
        history = await history_state(reader, picklist, individual_id, as_of)
        return _rendered(individual_id, history, as_of, recent, max_tokens, disclosure, segments, reach)
    key = (individual_id, version, day_of(as_of_us), recent, max_tokens, disclosure,
           segments.version if segments else 0, reach.version)
    rendered = memo.get(key)
    if rendered is None or not rendered.holds_at(as_of_us):
        rendered = _rendered(individual_id, state, as_of, recent, max_tokens, disclosure, segments, reach)
        memo.put(key, rendered)
    return rendered


def _rendered(
    individual_id: str,
    state: ProfileState,
    as_of: datetime,
    recent: int,
    max_tokens: int,
    disclosure: Disclosure,
    segments: "SegmentView | None",
    reach: Inputs,
) -> RenderedContext:
    context, window = assemble_with_window(individual_id, state, as_of, recent, reach)
    if segments is not None:  # membership is a function of the whole context, before masking
        context.segments = segments.labels(context)
    context = redact(context, disclosure)
    context.prompt, context.prompt_tokens = render(context, max_tokens, local_time_slot=True)
    return RenderedContext.of(context, (window.valid_from_us, window.valid_until_us))
