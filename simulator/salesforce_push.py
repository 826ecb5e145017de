"""`simulator salesforce push`: load a generated org (generate --salesforce) into a real
one, for demos on a sandbox.

Through sObject Collections (POST composite/sobjects, 200 records a request, the bulkiest
call simple-salesforce and the test fake share), parents first so every reference
(AccountId, WhoId, WhatId, ActivityId, RelatedRecordId) is rewritten to the id the org
gave the parent. What an API client cannot create is left out and said so: system fields
(Id, SystemModstamp, CreatedDate without the Set Audit Fields permission) and Lead
conversion (IsConverted, ConvertedContactId: only the convertLead call converts), the
recycle bin (IsDeleted records), and changes.ndjson (the history between two syncs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec

from contextsvc.salesforce import COLLECTION_LIMIT, SalesforceApi
from simulator.salesforce import OBJECTS

NOT_CREATABLE = {
    "Id",
    "SystemModstamp",
    "CreatedDate",
    "IsConverted",
    "ConvertedContactId",
    "ConvertedAccountId",
    "AccountId@Task",
    "IsDeleted",
}
REFERENCES = ("AccountId", "WhoId", "WhatId", "ActivityId", "RelatedRecordId")


def creatable(sobject: str, record: dict, ids: dict[str, str]) -> dict:
    fields: dict[str, object] = {"attributes": {"type": sobject}}
    for name, value in record.items():
        if name == "attributes" or name in NOT_CREATABLE or f"{name}@{sobject}" in NOT_CREATABLE or value is None:
            continue
        if name in REFERENCES and value not in ids:
            continue  # a record that was not created (a Task in the recycle bin): no dangling reference
        fields[name] = ids[value] if name in REFERENCES else value
    return fields


def push(api: SalesforceApi, directory: Path, progress: Callable[[str, int, int], None] = lambda *a: None) -> dict:
    """Create every record; returns {sObject: (created, failed)}; failures are printed by the caller."""
    ids: dict[str, str] = {}  # generated id -> the org's id
    outcome: dict[str, dict] = {}
    for sobject in OBJECTS:
        path = directory / f"{sobject}.ndjson"
        records = [msgspec.json.decode(line) for line in path.read_bytes().splitlines()] if path.exists() else []
        records = [r for r in records if not r.get("IsDeleted")]  # the recycle bin is not replayed
        created, failures = 0, []
        for start in range(0, len(records), COLLECTION_LIMIT):
            chunk = records[start : start + COLLECTION_LIMIT]
            results = api.collection("POST", [creatable(sobject, r, ids) for r in chunk])
            # One result per record, in order (sObject Collections); should the org answer
            # fewer, the records left over count as neither created nor failed.
            for record, result in zip(chunk, results, strict=False):
                if result.get("success"):
                    ids[record["Id"]] = result["id"]
                    created += 1
                else:
                    failures.append({"id": record["Id"], "errors": result.get("errors")})
            progress(sobject, start + len(chunk), len(records))
        outcome[sobject] = {"created": created, "failed": failures}
    return outcome
