"""What ingest reports back for each item, and the work items the writer commits."""

from __future__ import annotations

from typing import Literal

import msgspec

from contextsvc.calls import Call
from contextsvc.errors import FieldError

Status = Literal["accepted", "updated", "duplicate", "stale", "conflict", "rejected", "retracted"]


class ItemResult(msgspec.Struct, gc=False, omit_defaults=True):
    """accepted: new call stored; updated: a newer version replaced the stored one;
    duplicate: identical to what is stored (no-op); stale: older than what is stored
    (ignored); conflict: same version, different content (ignored, send a newer
    updated_at to change a call); rejected: invalid, kept in quarantine; retracted: the
    call was removed (deleted at its source) and its person's profile recomputed."""

    status: Status
    call_id: str | None = None
    individual_id: str | None = None
    version: str | None = None
    message: str | None = None
    errors: list[FieldError] | None = None
    quarantine_id: int | None = None
    index: int | None = None


class CallWork(msgspec.Struct, gc=False, frozen=True):
    call: Call


class QuarantineWork(msgspec.Struct, frozen=True):
    """A rejected item: its bytes as received, cut to the per-item cap, and the size it had."""

    channel: str
    reason: str
    errors: list[FieldError]
    body: bytes
    call_id: str | None = None
    size: int | None = None  # bytes received (len(body) unless it was cut)


class RetractWork(msgspec.Struct, frozen=True):
    """Remove a call from the log (its source deleted it); a no-op (duplicate) if absent."""

    call_id: str


Work = CallWork | QuarantineWork | RetractWork
