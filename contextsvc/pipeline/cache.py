"""Bounded, versioned cache of profile states in front of the store.

The writer publishes (version, encoded state) after each commit and before it answers
the requests, so a read after an acknowledged write sees that write. Entries are decoded
lazily on first read and never mutated afterwards, so a reader never sees a half-applied
batch.
"""

from __future__ import annotations

from collections import OrderedDict

from contextsvc.profile import ProfileState, decode_state


class _Entry:
    __slots__ = ("version", "blob", "state")

    def __init__(self, version: int, blob: bytes) -> None:
        self.version = version
        self.blob = blob
        self.state: ProfileState | None = None


class ProfileCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.hits = self.misses = 0
        # Bumped by every writer publication; a cold read fills the cache only if no
        # publication happened while it read, so it cannot reinstall a stale state.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, individual_id: str) -> tuple[int, ProfileState] | None:
        entry = self._entries.get(individual_id)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(individual_id)
        if entry.state is None:
            entry.state = decode_state(entry.blob)
        return entry.version, entry.state

    def put(self, individual_id: str, version: int, blob: bytes) -> None:
        current = self._entries.get(individual_id)
        if current is not None and current.version > version:
            return  # a newer version is already here (a slow cold read lost the race)
        self._entries[individual_id] = _Entry(version, blob)
        self._entries.move_to_end(individual_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, individual_id: str) -> None:
        self._entries.pop(individual_id, None)

    def publish(self, published: dict[str, tuple[int, bytes]], removed: set[str]) -> None:
        """The writer's post-commit update."""
        self.generation += 1
        for individual_id in removed:
            self.invalidate(individual_id)
        for individual_id, (version, blob) in published.items():
            self.put(individual_id, version, blob)

    def fill(self, individual_id: str, version: int, blob: bytes, generation: int) -> None:
        """A cold read's result, kept only if nothing was published since it started."""
        if generation == self.generation:
            self.put(individual_id, version, blob)

    def clear(self) -> None:
        self._entries.clear()
