"""The Salesforce connector: pull Task/VoiceCall calls and the people they name into the
call log, write each person's insights back to their Contact and Lead records, and
deliver activation events as Tasks or platform events."""

from __future__ import annotations

from contextsvc.salesforce.activation import SalesforceDeliverer
from contextsvc.salesforce.client import (
    COLLECTION_LIMIT,
    RequestLimitExceeded,
    SalesforceApi,
    SalesforceAuthError,
    SalesforceCallFailed,
    SalesforceProblem,
    TimeoutSession,
    auth_mode,
)
from contextsvc.salesforce.job import SalesforceJob, SyncState
from contextsvc.salesforce.mirror import SyncStatus, sync_status
from contextsvc.salesforce.sync import SalesforceSync, SyncReport, sync_with_backoff
from contextsvc.salesforce.writeback import FieldMapError, WritebackReport, parse_field_map, plan_writeback, push

__all__ = [
    "COLLECTION_LIMIT",
    "FieldMapError",
    "RequestLimitExceeded",
    "SalesforceApi",
    "SalesforceAuthError",
    "SalesforceCallFailed",
    "SalesforceDeliverer",
    "SalesforceProblem",
    "SalesforceJob",
    "SalesforceSync",
    "SyncState",
    "SyncReport",
    "SyncStatus",
    "sync_status",
    "TimeoutSession",
    "WritebackReport",
    "auth_mode",
    "parse_field_map",
    "plan_writeback",
    "push",
    "sync_with_backoff",
]
