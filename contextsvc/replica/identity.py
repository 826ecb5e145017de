"""Identity look-ups on a follower: committed rows in the database (the leader's graph is
in another process), in front of them a bounded cache the change messages keep current.

Answers as the leader's graph does (IdentityGraph.lookup): the surviving individuals, for
a phone the people before shared lines, sorted; for an email or a Salesforce id the owner
of the newest link.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.replica.changes import key_digest
from contextsvc.store import tables as t

_i, _x = t.individuals.c, t.identifiers.c
_survivor = func.coalesce(_i.merged_into, _i.id)


def _by_identifier(kind: str, value: str):
    owner = t.individuals.alias("owner")
    return (
        select(_survivor, owner.c.kind, _x.id)
        .select_from(t.identifiers.join(t.individuals, _i.id == _x.individual_id))
        .join(owner, owner.c.id == _survivor)
        .where(_x.kind == kind, _x.value == value)
    )


async def committed_lookup(engine: AsyncEngine, kind: str, value: str) -> list[str]:
    """The surviving individuals an identifier names, as committed."""
    async with engine.connect() as conn:
        if kind == "individual_id":
            found = (await conn.execute(select(_survivor).where(_i.id == value))).scalar()
            return [found] if found else []
        if kind not in ("phone", "email", "salesforce_id"):
            return []
        rows = (await conn.execute(_by_identifier(kind, value))).all()
    if not rows:
        return []
    if kind != "phone":  # one owner: the newest link's (the graph indexes the last one read)
        return [max(rows, key=lambda row: row[2])[0]]
    owners = {survivor for survivor, _, _ in rows}
    people = {survivor for survivor, owner_kind, _ in rows if owner_kind == "person"}
    return sorted(people or owners)


class IdentityCache:
    """(digest of kind and value) -> the individuals found, for positive answers only: an
    unknown identifier is asked again (its first link is in a change message, but a miss
    is rare and cheap to repeat)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[str, ...]] = OrderedDict()
        self._keys_of: dict[str, set[bytes]] = {}  # individual -> entries naming them
        self.generation = 0  # bumped by every invalidation: a slow read cannot reinstall
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes) -> tuple[str, ...] | None:
        found = self._entries.get(digest)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(digest)
        return found

    def fill(self, digest: bytes, found: list[str], generation: int) -> None:
        if not found or generation != self.generation:
            return
        self._drop(digest)
        self._entries[digest] = tuple(found)
        for individual_id in found:
            self._keys_of.setdefault(individual_id, set()).add(digest)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

    def invalidate(self, people: Iterable[str], digests: Iterable[bytes]) -> None:
        self.generation += 1
        for digest in digests:
            self._drop(digest)
        for individual_id in people:
            for digest in self._keys_of.pop(individual_id, ()):
                self._drop(digest)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._keys_of.clear()

    def _drop(self, digest: bytes) -> None:
        found = self._entries.pop(digest, None)
        for individual_id in found or ():
            keys = self._keys_of.get(individual_id)
            if keys is not None:
                keys.discard(digest)
                if not keys:
                    del self._keys_of[individual_id]


class CachedIdentity:
    """What ContextReads looks people up through on a follower whose caches are trusted."""

    def __init__(self, engine: AsyncEngine, cache: IdentityCache) -> None:
        self.engine = engine
        self.cache = cache
        self.salt: int | None = None  # set at each resync; None: nothing is cached

    async def lookup(self, kind: str, value: str) -> list[str]:
        salt = self.salt
        if salt is None:
            return await committed_lookup(self.engine, kind, value)
        digest = key_digest(salt, kind, value)
        found = self.cache.get(digest)
        if found is not None:
            return list(found)
        generation = self.cache.generation
        answer = await committed_lookup(self.engine, kind, value)
        self.cache.fill(digest, answer, generation)
        return answer


class CommittedIdentity:
    """The same, straight from the database: while the caches are not trusted."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def lookup(self, kind: str, value: str) -> list[str]:
        return await committed_lookup(self.engine, kind, value)
