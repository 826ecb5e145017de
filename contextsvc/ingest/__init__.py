"""Ingest stage: the CallEvent wire type, the disposition picklist, validation and
normalisation into Calls, the work items the writer commits, and the quarantine."""

from __future__ import annotations

from contextsvc.ingest.dispositions import OUTCOME_FLAGS, Disposition, Picklist
from contextsvc.ingest.events import CallEvent, Who
from contextsvc.ingest.intake import (
    MAX_BATCH_ITEMS,
    MAX_ITEM_BYTES,
    IntakeLimits,
    Oversized,
    decode_problem,
    field_error_from_msgspec,
    prepare,
    rejection,
    split_batch,
)
from contextsvc.ingest.normalise import Normaliser
from contextsvc.ingest.quarantine import (
    QuarantinePage,
    QuarantineView,
    quarantine_rows,
    quarantined,
    stored_text,
)
from contextsvc.ingest.quarantine import (
    forget as forget_quarantined,
)
from contextsvc.ingest.quarantine import (
    keep as keep_quarantined,
)
from contextsvc.ingest.rawjson import MAX_DEPTH, deeper_than
from contextsvc.ingest.results import CallWork, ItemResult, QuarantineWork, RetractWork, Work
from contextsvc.ingest.results import Status as ItemStatus

__all__ = [
    "CallEvent",
    "CallWork",
    "decode_problem",
    "deeper_than",
    "Disposition",
    "field_error_from_msgspec",
    "forget_quarantined",
    "IntakeLimits",
    "ItemResult",
    "ItemStatus",
    "keep_quarantined",
    "MAX_BATCH_ITEMS",
    "MAX_ITEM_BYTES",
    "MAX_DEPTH",
    "Normaliser",
    "Oversized",
    "OUTCOME_FLAGS",
    "Picklist",
    "prepare",
    "quarantine_rows",
    "rejection",
    "quarantined",
    "QuarantinePage",
    "QuarantineView",
    "QuarantineWork",
    "RetractWork",
    "split_batch",
    "stored_text",
    "Who",
    "Work",
]
