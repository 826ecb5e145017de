"""The Salesforce connector's tables: watermarks, the record mirror, pending and submitted
calls, and the write-back's last accepted values."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, String, Table

from contextsvc.store import JsonText, Micros, metadata

# How far each sObject has been read: the (SystemModstamp, Id) of the last record stored
# in salesforce_records. Advanced in the same transaction as those records.
salesforce_watermarks = Table(
    "salesforce_watermarks",
    metadata,
    Column("sobject", String(40), primary_key=True),
    Column("system_modstamp", Micros, nullable=False),
    Column("record_id", String(18), nullable=False),
    Column("synced_at", Micros, nullable=False),
)


# The newest version of every record read from Salesforce (deleted ones flagged): calls
# are derived from a Task, its VoiceCall and the Contact/Lead/Account/Opportunity they name.
salesforce_records = Table(
    "salesforce_records",
    metadata,
    Column("sobject", String(40), primary_key=True),
    Column("record_id", String(18), primary_key=True),
    Column("system_modstamp", Micros, nullable=False),
    Column("is_deleted", Integer, nullable=False),
    # Task and VoiceCall: the call they belong to, as matching.py groups them (reassigned
    # whenever a record that shares a key, an ActivityId or a Task with them changes).
    Column("call_id", String(255)),
    Column("link_key", String(255)),  # Task.CallObject / VoiceCall.VendorCallKey
    Column("activity_id", String(18)),  # VoiceCall.ActivityId
    Column("who_id", String(18)),  # the person (for a Lead: ConvertedContactId)
    Column("what_id", String(18)),  # related record (Contact/Opportunity: AccountId)
    Column("started_at", Micros),  # calls: for chronological submission
    Column("body", LargeBinary, nullable=False),  # the record's fields, msgspec JSON
    # Every look-up by these columns also names the sObject; each index serves both terms,
    # so no planner can prefer the primary key's sObject prefix (which walks every record
    # of the sObject): SQLite keeps no statistics, and PostgreSQL's have none for a new org.
    # The call id leads its index: pending calls are joined by it alone.
    Index("ix_salesforce_records_call_id_sobject", "call_id", "sobject"),
    *(
        Index(f"ix_salesforce_records_sobject_{column}", "sobject", column)
        for column in ("link_key", "activity_id", "who_id", "what_id")
    ),
)


# Calls whose Salesforce records changed and whose CallEvent is not yet committed by the
# writer: written with the records, deleted only after the writer acknowledged them, so a
# crash in between replays them (idempotently) instead of losing them.
salesforce_pending = Table(
    "salesforce_pending",
    metadata,
    Column("call_id", String(255), primary_key=True),
)


# What the connector last submitted per call (content digest without the version), so a
# record change that does not change the call sends nothing, and one that does gets a
# version newer than the stored one even when no SystemModstamp moved past it.
salesforce_submitted = Table(
    "salesforce_submitted",
    metadata,
    Column("call_id", String(255), primary_key=True),
    Column("version", Micros, nullable=False),
    Column("digest", LargeBinary(16), nullable=False),
)


# Write-back: the field values last accepted by Salesforce per Contact/Lead.
salesforce_written = Table(
    "salesforce_written",
    metadata,
    Column("record_id", String(18), primary_key=True),
    Column("sobject", String(40), nullable=False),
    Column("fields", JsonText, nullable=False),
    Column("written_at", Micros, nullable=False),
)
