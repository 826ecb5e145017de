"""The write pipeline: the single writer (group commit), its transaction (versions,
identity, call log, profiles), the profile cache, maintenance operations (erasure,
retention) and the contract side branches observe it through."""

from __future__ import annotations

from contextsvc.pipeline.cache import ProfileCache
from contextsvc.pipeline.maintenance import (
    REBUILD_NEEDED,
    ErasureReport,
    MaintenanceOutcome,
    Operation,
    RebuildReport,
    RetentionReport,
    erase,
    key_fingerprint,
    purge_expired,
    rebuild_profiles,
    retention_loop,
)
from contextsvc.pipeline.observers import Announcement, BatchChanges, BatchObserver, ReplacedCall
from contextsvc.pipeline.profiles import ProfileReads, ProfileWriter, facts_of
from contextsvc.pipeline.retention import RetentionPolicy
from contextsvc.pipeline.transaction import BatchContext, content_hash
from contextsvc.pipeline.writer import CommitReport, Writer, load_graph

__all__ = [
    "REBUILD_NEEDED",
    "Announcement",
    "BatchChanges",
    "CommitReport",
    "BatchContext",
    "BatchObserver",
    "content_hash",
    "erase",
    "ErasureReport",
    "MaintenanceOutcome",
    "Operation",
    "facts_of",
    "key_fingerprint",
    "load_graph",
    "ProfileCache",
    "ProfileReads",
    "ProfileWriter",
    "purge_expired",
    "rebuild_profiles",
    "RebuildReport",
    "ReplacedCall",
    "retention_loop",
    "RetentionPolicy",
    "RetentionReport",
    "Writer",
]
