"""Profile rows: updated inside the ingest transaction, rebuilt from the call log on demand,
and read (cache first) by every surface."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable

import msgspec
from sqlalchemy import Connection, Engine, Row, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.calls import Call, decode_call
from contextsvc.ingest import Picklist
from contextsvc.pipeline.cache import ProfileCache
from contextsvc.profile import CallFact, ProfileState, build, decode_state, encode_state, fact_from_call
from contextsvc.store import bulk_insert, pause_for_readers, select_in
from contextsvc.store import tables as t

PAUSE_EVERY = 8  # people between pauses for readers (engine.pause_for_readers)

_UPDATE_PROFILE = (
    update(t.profiles)
    .where(t.profiles.c.individual_id == bindparam("b_id"))
    .values(version=bindparam("b_version"), state=bindparam("b_state"), updated_at=bindparam("b_at"))
)


def facts_of(conn: Connection, individual_ids: Iterable[str], picklist: Picklist) -> dict[str, list[CallFact]]:
    """Every stored call of these people, as facts: the oracle the state must equal."""
    ids = list(individual_ids)
    found: dict[str, list[CallFact]] = {i: [] for i in ids}
    c = t.calls.c
    for individual_id, body in select_in(conn, select(c.individual_id, c.body), c.individual_id, ids):
        found[individual_id].append(fact_from_call(decode_call(body), picklist))
    return found


class ProfileUpdate(msgspec.Struct):
    published: dict[str, tuple[int, bytes]]  # individual id -> (version, encoded state)
    states: dict[str, ProfileState]  # the same people's decoded states
    removed: set[str]  # individuals whose profile row is gone


class ProfileWriter:
    """The writer's side of profiles: a working set of mutable states, bounded."""

    def __init__(self, picklist: Picklist, max_working: int) -> None:
        self.picklist = picklist
        self.max_working = max_working
        self._working: OrderedDict[str, tuple[int, ProfileState]] = OrderedDict()

    def forget(self) -> None:
        """After a failed transaction: working states may hold uncommitted changes."""
        self._working.clear()

    def apply(
        self,
        conn: Connection,
        adds: dict[str, list[Call]],
        rebuild: set[str],
        removed: set[str],
        now_us: int,
        version: int,
    ) -> ProfileUpdate:
        """Update the profiles of everyone touched by one batch; returns what to publish.

        `version` is the writer's batch number: it only ever rises, so a version is never
        reused, even for a profile deleted and created again (cache keys rely on that)."""
        touched = (set(adds) | rebuild) - removed
        existing = self._load(conn, touched)
        for position, (individual_id, calls) in enumerate(adds.items(), 1):
            if position % PAUSE_EVERY == 0:
                pause_for_readers()
            if individual_id in rebuild or individual_id in removed:
                continue
            _, state = existing.get(individual_id) or (0, build([]))
            for call in calls:
                if not state.add(fact_from_call(call, self.picklist)):
                    rebuild.add(individual_id)
                    break
            else:
                existing[individual_id] = (existing.get(individual_id, (0, None))[0], state)
        for individual_id, facts in facts_of(conn, rebuild - removed, self.picklist).items():
            if not facts:  # every call moved to someone else (a newer version re-resolved it)
                removed.add(individual_id)
                touched.discard(individual_id)
                continue
            existing[individual_id] = (existing.get(individual_id, (0, None))[0], build(facts))

        published: dict[str, tuple[int, bytes]] = {}
        states: dict[str, ProfileState] = {}
        inserts, updates = [], []
        for position, individual_id in enumerate(touched, 1):
            if position % PAUSE_EVERY == 0:
                pause_for_readers()
            stored_version, state = existing[individual_id]
            blob = encode_state(state)
            published[individual_id] = (version, blob)
            states[individual_id] = state
            self._remember(individual_id, version, state)
            if stored_version == 0:  # no row yet
                inserts.append(
                    {"individual_id": individual_id, "version": version, "state": blob, "updated_at": now_us}
                )
            else:
                updates.append({"b_id": individual_id, "b_version": version, "b_state": blob, "b_at": now_us})
        bulk_insert(conn, t.profiles, inserts)
        if updates:
            conn.execute(_UPDATE_PROFILE, updates)
        if removed:
            conn.execute(delete(t.profiles).where(t.profiles.c.individual_id.in_(list(removed))))
            for individual_id in removed:
                self._working.pop(individual_id, None)
        return ProfileUpdate(published, states, removed)

    def _load(self, conn: Connection, ids: set[str]) -> dict[str, tuple[int, ProfileState]]:
        found = {i: self._working[i] for i in ids if i in self._working}
        missing = [i for i in ids if i not in found]
        p = t.profiles.c
        for individual_id, version, blob in select_in(
            conn, select(p.individual_id, p.version, p.state), p.individual_id, missing
        ):
            found[individual_id] = (version, decode_state(blob))
        return found

    def _remember(self, individual_id: str, version: int, state: ProfileState) -> None:
        self._working[individual_id] = (version, state)
        self._working.move_to_end(individual_id)
        while len(self._working) > self.max_working:
            self._working.popitem(last=False)


_PROFILE_ROW = select(t.profiles.c.version, t.profiles.c.state).where(t.profiles.c.individual_id == bindparam("id"))


class ProfileReads:
    """Committed profile states, for readers: the writer's published cache, else one row.

    On SQLite the row is read through a synchronous engine in a worker thread: through
    aiosqlite a one-row read costs several thread hand-offs (check-out, execute, fetch,
    reset), through asyncio.to_thread one, and sqlite3 releases the GIL while it reads.
    Other backends read through the async engine."""

    def __init__(
        self, engine: AsyncEngine, sync_engine: Engine | None, cache: ProfileCache, picklist: Picklist
    ) -> None:
        self.engine = engine
        self.sync_engine = sync_engine
        self.cache = cache
        self.picklist = picklist

    def _row_sync(self, individual_id: str) -> Row | None:
        assert self.sync_engine is not None
        with self.sync_engine.connect() as conn:
            return conn.execute(_PROFILE_ROW, {"id": individual_id}).first()

    async def _row(self, individual_id: str) -> Row | None:
        if self.sync_engine is not None:
            return await asyncio.to_thread(self._row_sync, individual_id)
        async with self.engine.connect() as conn:
            return (await conn.execute(_PROFILE_ROW, {"id": individual_id})).first()

    async def state(self, individual_id: str) -> tuple[int, ProfileState]:
        """(version, state); version 0 and an empty state for someone with no profile row."""
        cached = self.cache.get(individual_id)
        if cached is not None:
            return cached
        generation = self.cache.generation
        row = await self._row(individual_id)
        if row is None:
            return 0, build([])
        self.cache.fill(individual_id, row.version, row.state, generation)
        return row.version, decode_state(row.state)

    async def history(self, individual_id: str, as_of_us: int) -> ProfileState:
        """A look back in time: the state of the calls started at or before as_of, rebuilt
        from the call log (O(this person's history), so never the hot path)."""
        c = t.calls.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(c.body).where(c.individual_id == individual_id, c.started_at <= as_of_us))
            return build(fact_from_call(decode_call(body), self.picklist) for (body,) in rows)

    def close(self) -> None:
        if self.sync_engine is not None:
            self.sync_engine.dispose()
