"""Write back: each Contact's and Lead's insights, as fields on the record, only when changed.

The field set maps context attribute paths to field API names (settings). The values
last accepted by Salesforce are kept durably (salesforce_written) and the diff is taken
against them: no read calls spent on the org, and a record is sent only when one of its
values changed. The cost: an admin's manual edit of one of these fields is not undone
until our value changes (`--all` resends everything). Updates go through sObject
Collections, 200 records a request, allOrNone false; every per-record failure is reported
and not remembered, so the next run retries it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import msgspec
from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.context import assemble
from contextsvc.profile import ProfileState, build, decode_state
from contextsvc.salesforce import mirror
from contextsvc.salesforce.client import COLLECTION_LIMIT, SalesforceApi
from contextsvc.salesforce.records import soql_datetime
from contextsvc.store import tables as t
from contextsvc.timeutil import micros

_MISSING = object()


class FieldMapError(ValueError):
    pass


class Change(msgspec.Struct):
    record_id: str
    sobject: str  # Contact | Lead
    fields: dict  # field API name -> new value (only the changed ones)
    before: dict  # field API name -> value last written (absent: never written)


class Failure(msgspec.Struct):
    record_id: str
    sobject: str
    status_code: str
    message: str
    fields: list[str] = []


class WritebackReport(msgspec.Struct):
    records: int = 0  # Contacts and Leads considered
    changed: int = 0  # records with at least one changed value
    written: int = 0
    requests: int = 0
    failures: list[Failure] = []


def parse_field_map(text: str) -> dict[str, str]:
    """'windows.30d.calls=Call_Attempts_30d__c, ...' -> {path: field API name}."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        path, _, field = item.partition("=")
        if not path.strip() or not field.strip():
            raise FieldMapError(f"CONTEXTSVC_SALESFORCE_WRITEBACK_FIELDS: {item!r} is not path=Field_API_Name")
        mapping[path.strip()] = field.strip()
    return mapping


def value_at(context: object, path: str):
    """A context attribute by dotted path (window and trend keys such as 30d included),
    as Salesforce takes it: dateTimes in its wire format, the rest as JSON scalars."""
    value = context
    for part in path.split("."):
        value = value.get(part, _MISSING) if isinstance(value, dict) else getattr(value, part, _MISSING)
        if value is _MISSING:
            raise FieldMapError(f"the context has no attribute {path!r}")
    if isinstance(value, datetime):
        return soql_datetime(value)
    if isinstance(value, (dict, list, msgspec.Struct)):
        raise FieldMapError(f"{path!r} is not a single value")
    return value


def _people_records(conn: Connection) -> list[tuple[str, str, str]]:
    """(record id, Contact|Lead, surviving individual) for every Contact and Lead linked."""
    i, ind = t.identifiers.c, t.individuals.c
    rows = conn.execute(
        select(i.value, i.display, i.individual_id, ind.merged_into)
        .join(t.individuals, ind.id == i.individual_id)
        .where(i.kind == "salesforce_id")
        .order_by(i.value)
    )
    found = {}
    for record_id, kind, individual_id, merged_into in rows:
        found[record_id] = (record_id, "Contact" if kind == "contact" else "Lead", merged_into or individual_id)
    return list(found.values())


def _plan(conn: Connection, field_map: dict[str, str], now: datetime, resend_all: bool) -> tuple[int, list[Change]]:
    records = _people_records(conn)
    converted = mirror.converted_leads(conn)
    written = {} if resend_all else mirror.written_fields(conn)
    states: dict[str, ProfileState] = {}
    people = {individual for _, _, individual in records}
    p = t.profiles.c
    for chunk_start in range(0, len(people), 500):
        chunk = sorted(people)[chunk_start : chunk_start + 500]
        for individual_id, blob in conn.execute(select(p.individual_id, p.state).where(p.individual_id.in_(chunk))):
            states[individual_id] = decode_state(blob)
    changes, considered = [], 0
    values_of: dict[str, dict] = {}
    for record_id, sobject, individual_id in records:
        if record_id in converted:
            continue  # Salesforce refuses updates to converted Leads
        considered += 1
        if individual_id not in values_of:
            context = assemble(individual_id, states.get(individual_id) or build([]), now, recent=0)
            values_of[individual_id] = {field: value_at(context, path) for path, field in field_map.items()}
        before = written.get(record_id, {})
        diff = {f: v for f, v in values_of[individual_id].items() if before.get(f, _MISSING) != v}
        if diff:
            changes.append(Change(record_id, sobject, diff, {f: before[f] for f in diff if f in before}))
    return considered, changes


async def plan_writeback(engine: AsyncEngine, field_map: dict[str, str], now: datetime, resend_all: bool = False):
    async with engine.connect() as conn:
        return await conn.run_sync(_plan, field_map, now, resend_all)


async def push(engine: AsyncEngine, api: SalesforceApi, changes: list[Change], now: datetime) -> WritebackReport:
    report = WritebackReport(changed=len(changes))
    async with engine.connect() as conn:
        written = await conn.run_sync(mirror.written_fields)
    for start in range(0, len(changes), COLLECTION_LIMIT):
        chunk = changes[start : start + COLLECTION_LIMIT]
        body = [{"attributes": {"type": c.sobject}, "id": c.record_id, **c.fields} for c in chunk]
        results = await asyncio.to_thread(api.collection, "PATCH", body)
        report.requests += 1
        accepted: dict[str, dict] = {}
        # One result per record, in order (sObject Collections); should the org answer
        # fewer, the changes left over are not remembered, so the next run sends them again.
        for change, result in zip(chunk, results, strict=False):
            if result.get("success"):
                accepted[change.record_id] = {**written.get(change.record_id, {}), **change.fields}
                continue
            for error in result.get("errors") or [{"statusCode": "UNKNOWN", "message": "no result"}]:
                report.failures.append(
                    Failure(
                        change.record_id,
                        change.sobject,
                        error.get("statusCode", ""),
                        error.get("message", ""),
                        list(error.get("fields") or []),
                    )
                )
        report.written += len(accepted)
        sobjects = {c.record_id: c.sobject for c in chunk}
        async with engine.connect() as conn:
            await conn.execution_options(writer=True)
            async with conn.begin():
                await conn.run_sync(mirror.remember_written, sobjects, accepted, micros(now))
    return report
