"""Side branches off "update profile state": segments, activation, data-quality counters.

An observer sees every committed batch twice: inside the ingest transaction (to write its
own rows atomically with the calls and profiles, so its view is exact and durable) and
after COMMIT, before any request in the batch is answered (to publish in-memory state or
wake a dispatcher). Observers run on the writer's connection, serialised with ingest.
"""

from __future__ import annotations

import msgspec
from sqlalchemy import Connection

from contextsvc.calls import Call
from contextsvc.identity import Merge
from contextsvc.ingest import ItemResult, QuarantineWork, Work
from contextsvc.profile import ProfileState


class ReplacedCall(msgspec.Struct, frozen=True):
    """A call version as it was stored before a newer one replaced it, or before it was deleted."""

    call: Call
    ingested_at: int  # micros
    individual_id: str | None  # as stored: None when its identity was not resolved


class BatchChanges(msgspec.Struct):
    """What one batch changed, after identity resolution and profile updates. Erasure and
    retention report here too: their deleted calls are `replaced` with no new version."""

    version: int  # the batch's profile version
    now_us: int  # the batch's commit clock, microseconds since the epoch
    calls: dict[str, Call]  # call versions written (new or replacing), by call id
    call_owner: dict[str, str | None]  # call id -> surviving individual id
    profiles: dict[str, ProfileState]  # the new state of every person whose profile changed
    removed: set[str]  # individuals merged away, or left without calls
    results: list[ItemResult]  # one per work item, in order
    quarantined: list[QuarantineWork]
    work: list[Work] = []  # the batch's items, aligned with results (a conflict's replayed call)
    # call id -> the stored version this batch overwrote (`updated`) or deleted (retracted,
    # erased, past retention): subtract it, then add `calls`
    replaced: dict[str, ReplacedCall] = {}
    merges: list[Merge] = []  # individuals merged in this batch
    call_rules: dict[str, str] = {}  # call id -> the identity rule that resolved it (new, phone, ...)
    shared_lines: list[str] = []  # numbers detected as shared lines in this batch


class Announcement(msgspec.Struct, frozen=True, gc=False):
    """What a committed transaction changed for readers outside this process (other
    workers' caches): told before any of its requests is answered."""

    people: frozenset[str]  # individuals whose profile changed, merged away or erased
    linked: tuple[tuple[str, str], ...] = ()  # (kind, value) of identifiers newly linked
    forget: bool = False  # erased or purged: drop what is held of `people`, not only refresh
    everything: bool = False  # rewritten wholesale (a full rebuild): drop every cache


class BatchObserver:
    """Override what you need; every method defaults to doing nothing."""

    def load(self, conn: Connection) -> None:
        """At start-up and after a failed commit: (re)build in-memory state from the database."""

    def in_transaction(self, conn: Connection, changes: BatchChanges) -> None:
        """Inside the batch's transaction: an exception here rolls the whole batch back."""

    def after_commit(self, changes: BatchChanges) -> None:
        """After COMMIT, before the batch's requests are answered. Must be cheap; errors are
        logged, never propagated (the batch is already durable)."""

    # Rebuilding everyone from the call log (POST /v1/admin/rebuild, contextsvc rebuild, or
    # a migration that needs it): first every observer drops what it counts from the
    # stored calls, then sees every stored call once, a chunk at a time, as `calls`.

    def reset_call_counts(self, conn: Connection) -> None:
        """Drop the rows you derive from the stored calls alone."""

    def count_stored_calls(self, conn: Connection, changes: BatchChanges) -> None:
        """Count these stored calls into the rows reset_call_counts dropped."""
