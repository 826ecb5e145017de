"""Segment definitions: what a client sends and what a live segment holds. Pure."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from contextsvc.segments.attributes import Attribute, account_catalog, individual_catalog
from contextsvc.segments.conditions import Condition, Predicate, attributes_of, compile_condition, parse_condition

Subject = Literal["individual", "account"]


class SegmentSpec(msgspec.Struct, forbid_unknown_fields=True):
    """POST /v1/segments. Seed examples: seed/segments/*.json."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    condition: dict[str, Any]
    subject: Subject = "individual"
    description: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class Catalogs:
    """The attributes each subject's conditions may name."""

    def __init__(self, disposition_codes: list[str]) -> None:
        self.by_subject: dict[str, dict[str, Attribute]] = {
            "individual": individual_catalog(disposition_codes),
            "account": account_catalog(),
        }


class LiveSegment(msgspec.Struct):
    id: str
    name: str
    subject: Subject
    description: str | None
    condition: Condition
    created_at: int  # µs
    rule_id: str | None  # owned by an activation rule (threshold trigger): hidden
    predicate: Predicate
    time_dependent: bool
    members: set[str] = msgspec.field(default_factory=set)

    @classmethod
    def build(
        cls,
        catalogs: Catalogs,
        id: str,
        name: str,
        subject: Subject,
        description: str | None,
        raw_condition: Any,
        created_at: int,
        rule_id: str | None,
    ) -> LiveSegment:
        catalog = catalogs.by_subject[subject]
        condition = parse_condition(raw_condition, catalog)
        return cls(
            id,
            name,
            subject,
            description,
            condition,
            created_at,
            rule_id,
            compile_condition(condition, catalog),
            any(catalog[a].time_dependent for a in attributes_of(condition)),
        )
