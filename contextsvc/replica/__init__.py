"""Several workers, one writer: the leader tells every commit to the followers over Redis
(publisher), and each follower serves context reads from its own caches, kept current by
those messages, or from the database when it cannot trust them (follower). Stream events
reach every worker the same way (events)."""

from __future__ import annotations

from contextsvc.replica.changes import ChangeMessage, Freshness, Step, key_digest
from contextsvc.replica.events import EventRelay
from contextsvc.replica.follower import FollowerReads, Replica
from contextsvc.replica.identity import IdentityCache, committed_lookup
from contextsvc.replica.publisher import ChangePublisher

__all__ = [
    "ChangeMessage",
    "ChangePublisher",
    "committed_lookup",
    "EventRelay",
    "FollowerReads",
    "Freshness",
    "IdentityCache",
    "key_digest",
    "Replica",
    "Step",
]
