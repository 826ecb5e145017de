"""Identity stage: normalise identifiers and resolve every call to one unified person;
look people up by any identifier, search them, and show the unified person."""

from __future__ import annotations

from contextsvc.identity.graph import IdentityGraph, IndividualRow, Merge, Resolution
from contextsvc.identity.identifiers import (
    InvalidIdentifier,
    company_key,
    normalise_email,
    normalise_phone,
    normalise_salesforce_id,
    person_record_kind,
)
from contextsvc.identity.individuals import IndividualView, disclosed, individual
from contextsvc.identity.lookup import LookupKey, parse_lookup
from contextsvc.identity.search import Match, PeopleSearch

__all__ = [
    "company_key",
    "disclosed",
    "IdentityGraph",
    "individual",
    "IndividualRow",
    "IndividualView",
    "InvalidIdentifier",
    "LookupKey",
    "Match",
    "Merge",
    "normalise_email",
    "normalise_phone",
    "normalise_salesforce_id",
    "parse_lookup",
    "PeopleSearch",
    "person_record_kind",
    "Resolution",
]
