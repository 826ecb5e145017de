"""The unified person as GET /v1/individuals shows it: linked identifiers with the rule
and evidence that linked each, merges, and the ids merged into it. Reads never go
through the writer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.errors import NotFound
from contextsvc.privacy import Disclosure
from contextsvc.store import tables as t
from contextsvc.timeutil import from_micros

# Evidence is always stored as a JSON object (the graph writes dicts); decoding it as one
# types it for the views and fails loudly on anything else.
_decode_evidence = msgspec.json.Decoder(dict[str, Any]).decode


class IdentifierView(msgspec.Struct):
    kind: str
    value: str
    display: str | None
    rule: str
    evidence: dict
    linked_at: datetime
    linked_to: str  # the individual it was first linked to (a merged-away id after a merge)


class MergeView(msgspec.Struct):
    survivor_id: str
    merged_id: str
    rule: str
    evidence: dict
    merged_at: datetime


class IndividualView(msgspec.Struct):
    id: str
    kind: str
    created_at: datetime
    calls: int
    merged_ids: list[str]
    identifiers: list[IdentifierView]
    merges: list[MergeView]
    requested_id: str | None = None  # set when the request named a merged-away id
    # Filled by the API from the person's profile (the newest call carrying each one).
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None


async def individual(engine: AsyncEngine, individual_id: str, requested: str | None = None) -> IndividualView:
    async with engine.connect() as conn:
        row = (await conn.execute(select(t.individuals).where(t.individuals.c.id == individual_id))).first()
        if row is None:
            raise NotFound(f"no individual {individual_id}")
        if row.merged_into:
            return await individual(engine, row.merged_into, requested=individual_id)
        merged_ids = [
            r[0]
            for r in await conn.execute(
                select(t.individuals.c.id)
                .where(t.individuals.c.merged_into == individual_id)
                .order_by(t.individuals.c.id)
            )
        ]
        members = [individual_id, *merged_ids]
        identifiers = [
            IdentifierView(
                r.kind,
                r.value,
                r.display,
                r.rule,
                _decode_evidence(r.evidence),
                from_micros(r.linked_at),
                r.individual_id,
            )
            for r in await conn.execute(
                select(t.identifiers).where(t.identifiers.c.individual_id.in_(members)).order_by(t.identifiers.c.id)
            )
        ]
        merges = [
            MergeView(r.survivor_id, r.merged_id, r.rule, _decode_evidence(r.evidence), from_micros(r.merged_at))
            for r in await conn.execute(
                select(t.merges)
                .where(t.merges.c.survivor_id.in_(members) | t.merges.c.merged_id.in_(members))
                .order_by(t.merges.c.id)
            )
        ]
        calls = (
            await conn.execute(
                select(func.count()).select_from(t.calls).where(t.calls.c.individual_id == individual_id)
            )
        ).scalar_one()
    return IndividualView(
        id=row.id,
        kind=row.kind,
        created_at=from_micros(row.created_at),
        calls=calls,
        merged_ids=merged_ids,
        identifiers=identifiers,
        merges=merges,
        requested_id=requested,
    )


def disclosed(view: IndividualView, disclosure: Disclosure) -> IndividualView:
    """The person as this key may see them: without pii:read, phone and email identifiers
    masked like a context shows them, and every evidence and name field passed through
    the same free-text masking (a shared line's evidence names its number)."""
    if disclosure.pii:
        return view
    for identifier in view.identifiers:
        if identifier.kind == "phone":
            identifier.value = disclosure.phone(identifier.value)
            identifier.display = identifier.display and disclosure.phone(identifier.display)
        elif identifier.kind == "email":
            identifier.value = disclosure.email(identifier.value)
            identifier.display = identifier.display and disclosure.email(identifier.display)
        else:
            identifier.value = disclosure.text(identifier.value) or identifier.value
            identifier.display = disclosure.text(identifier.display)
        identifier.evidence = disclosure.value(identifier.evidence)
    for merge in view.merges:
        merge.evidence = disclosure.value(merge.evidence)
    for name in ("first_name", "last_name", "company", "title"):
        setattr(view, name, disclosure.text(getattr(view, name)))
    return view
