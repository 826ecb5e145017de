"""Ingest stage: the CallEvent wire type, the disposition picklist, validation and
normalisation into Calls, the work items the writer commits, and the quarantine."""

from __future__ import annotations

from contextsvc.ingest.events import CallEvent, Who
from contextsvc.ingest.dispositions import OUTCOME_FLAGS, Disposition, Picklist
from contextsvc.ingest.normalise import Normaliser
from contextsvc.ingest.intake import MAX_BATCH_ITEMS, field_error_from_msgspec, prepare, split_batch
from contextsvc.ingest.results import CallWork, ItemResult, QuarantineWork, RetractWork, Work
from contextsvc.ingest.quarantine import QuarantineView, quarantined

__all__ = ["CallEvent", "CallWork", "Disposition", "field_error_from_msgspec", "ItemResult", "MAX_BATCH_ITEMS", "Normaliser", "OUTCOME_FLAGS", "Picklist", "prepare", "quarantined", "QuarantineView", "QuarantineWork", "RetractWork", "split_batch", "Who", "Work"]
