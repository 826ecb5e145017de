"""Profile rows: updated inside the ingest transaction, rebuilt from the call log on demand."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import msgspec
from sqlalchemy import Connection, bindparam, delete, select, update

from contextsvc.ingest.dispositions import Picklist
from contextsvc.ingest.normalise import Call
from contextsvc.profile.facts import CallFact, fact_from_call
from contextsvc.profile.state import ProfileState, build, decode_state, encode_state
from contextsvc.store import tables as t
from contextsvc.store.bulk import bulk_insert
from contextsvc.store.engine import pause_for_readers

_IN_CHUNK = 500
PAUSE_EVERY = 8  # people between pauses for readers (engine.pause_for_readers)
decode_call = msgspec.json.Decoder(Call).decode

_UPDATE_PROFILE = (
    update(t.profiles)
    .where(t.profiles.c.individual_id == bindparam("b_id"))
    .values(version=bindparam("b_version"), state=bindparam("b_state"), updated_at=bindparam("b_at"))
)


def facts_of(conn: Connection, individual_ids: Iterable[str], picklist: Picklist) -> dict[str, list[CallFact]]:
    """Every stored call of these people, as facts: the oracle the state must equal."""
    ids = list(individual_ids)
    found: dict[str, list[CallFact]] = {i: [] for i in ids}
    for start in range(0, len(ids), _IN_CHUNK):
        rows = conn.execute(
            select(t.calls.c.individual_id, t.calls.c.body).where(t.calls.c.individual_id.in_(ids[start : start + _IN_CHUNK]))
        )
        for individual_id, body in rows:
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
                inserts.append({"individual_id": individual_id, "version": version, "state": blob, "updated_at": now_us})
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
        for start in range(0, len(missing), _IN_CHUNK):
            rows = conn.execute(
                select(t.profiles.c.individual_id, t.profiles.c.version, t.profiles.c.state).where(
                    t.profiles.c.individual_id.in_(missing[start : start + _IN_CHUNK])
                )
            )
            for individual_id, version, blob in rows:
                found[individual_id] = (version, decode_state(blob))
        return found

    def _remember(self, individual_id: str, version: int, state: ProfileState) -> None:
        self._working[individual_id] = (version, state)
        self._working.move_to_end(individual_id)
        while len(self._working) > self.max_working:
            self._working.popitem(last=False)


def rebuild_all(conn: Connection, picklist: Picklist, now_us: int, chunk: int = 2000) -> int:
    """Recompute every profile from the call log (the `contextsvc rebuild` command)."""
    conn.execute(delete(t.profiles))
    ids = [row[0] for row in conn.execute(select(t.calls.c.individual_id).where(t.calls.c.individual_id.is_not(None)).distinct())]
    for start in range(0, len(ids), chunk):
        facts = facts_of(conn, ids[start : start + chunk], picklist)
        bulk_insert(
            conn,
            t.profiles,
            [
                {"individual_id": i, "version": 1, "state": encode_state(build(f)), "updated_at": now_us}
                for i, f in facts.items()
            ],
        )
    return len(ids)
