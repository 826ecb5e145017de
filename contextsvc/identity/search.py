"""find_person: partial name, phone, email or Salesforce id -> candidate people.

Identifiers are matched by prefix on the identifiers table (a range scan on its
(kind, value) index, portable to PostgreSQL). Names are matched fuzzily (rapidfuzz) over
an in-memory list of the distinct names ever linked, refreshed incrementally from the
identifiers table (rows only ever appended, or deleted by erasure — a candidate that no
longer resolves is dropped), so a search costs one small query and one pass of C code
over the names, not a scan of profiles.
"""

from __future__ import annotations

import re

import msgspec
import phonenumbers
from rapidfuzz import fuzz, process, utils
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.identity.identifiers import InvalidIdentifier, normalise_email, normalise_phone
from contextsvc.store import tables as t

MAX_PREFIX_ROWS = 50
_SFID_PREFIX = re.compile(r"^(003|00Q)[0-9A-Za-z]{0,15}$")
_PHONEISH = re.compile(r"^[+\d\s().-]+$")


class Match(msgspec.Struct, frozen=True):
    individual_id: str
    matched_on: str  # email | phone | salesforce_id | name
    score: float  # 100 for an identifier prefix; the fuzzy score for a name


class NameIndex:
    """Distinct display names -> the individuals that carried them."""

    def __init__(self) -> None:
        self.names: dict[str, set[str]] = {}
        self._last_row = 0

    async def refresh(self, engine: AsyncEngine) -> None:
        i = t.identifiers.c
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(i.id, i.individual_id, i.display, i.value)
                .where(i.kind == "name", i.id > self._last_row)
                .order_by(i.id)
            )
            for row_id, individual_id, display, value in rows:
                name = display or value.replace("|", " ")
                self.names.setdefault(name, set()).add(individual_id)
                self._last_row = row_id

    def search(self, query: str, limit: int) -> list[Match]:
        found = process.extract(
            query, self.names.keys(), scorer=fuzz.WRatio, processor=utils.default_process, limit=limit, score_cutoff=70
        )
        return [
            Match(person, "name", round(score, 1)) for name, score, _ in found for person in sorted(self.names[name])
        ]


def _range(kind: str, prefix: str):
    i = t.identifiers.c
    return (
        select(i.individual_id)
        .where(i.kind == kind, i.value >= prefix, i.value < prefix + "\uffff")
        .order_by(i.value)
        .limit(MAX_PREFIX_ROWS)
    )


def _exact(kind: str, value: str):
    i = t.identifiers.c
    return select(i.individual_id).where(i.kind == kind, i.value == value).limit(MAX_PREFIX_ROWS)


def whole_identifier(query: str, region: str) -> tuple[str, str] | None:
    """(kind, normalised value) when the query is a whole email address or phone number."""
    q = query.strip()
    try:
        if "@" in q:
            return "email", normalise_email(q)
        if _PHONEISH.match(q) and sum(c.isdigit() for c in q) >= 7:
            return "phone", normalise_phone(q, region).e164
    except InvalidIdentifier:
        return None
    return None


def identifier_prefixes(query: str, region: str) -> list[tuple[str, str]]:
    """(kind, normalised prefix) pairs the query may be the start of."""
    q = query.strip()
    if "@" in q:
        return [("email", q.lower())]
    if _SFID_PREFIX.match(q) and not q.isdigit():  # Contact (003…) or Lead (00Q…) id, or its start
        return [("salesforce_id", q)]
    digits = "".join(c for c in q if c.isdigit())
    if _PHONEISH.match(q) and len(digits) >= 3:
        if q.startswith("+"):
            return [("phone", "+" + digits)]
        national = f"+{phonenumbers.country_code_for_region(region)}{digits.lstrip('0')}"
        return [("phone", national), ("phone", "+" + digits)]
    return []


class PeopleSearch:
    """find_person over the identifiers table and the names ever linked."""

    def __init__(self, engine: AsyncEngine, region: str) -> None:
        self.engine = engine
        self.region = region
        self.names = NameIndex()

    async def search(self, query: str, limit: int, *, partial_identifiers: bool = True) -> list[Match]:
        """Candidates, best first (the caller resolves merges to survivors).

        partial_identifiers=False (keys that see phones and emails masked): a phone or an
        email matches only as a whole normalised value, never by prefix — a prefix search
        and the masked last digits would give a number away a digit at a time."""
        prefixes = identifier_prefixes(query, self.region)
        if prefixes and not partial_identifiers and prefixes[0][0] in ("phone", "email"):
            whole = whole_identifier(query, self.region)
            if whole is None:
                return []
            async with self.engine.connect() as conn:
                return [Match(r[0], whole[0], 100.0) for r in await conn.execute(_exact(*whole))]
        if not prefixes:
            await self.names.refresh(self.engine)
            return self.names.search(query, limit)
        matches: list[Match] = []
        async with self.engine.connect() as conn:
            for kind, prefix in prefixes:
                matches += [Match(r[0], kind, 100.0) for r in await conn.execute(_range(kind, prefix))]
        return matches
