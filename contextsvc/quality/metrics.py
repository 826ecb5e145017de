"""What one call contributes to the data-quality counters. Pure: no I/O.

Counters are kept per (UTC day, dimension, value, direction). A call counts on its own
start day, except when its start time is implausible (in the future, or too old), where
it counts on the day it arrived: a call dated 2099 must not vanish from every report.
Direction is part of the key so that a change in the inbound/outbound mix (weekends are
inbound-only) is not mistaken for a degradation: alerts compare like with like.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from contextsvc.ingest.normalise import Call
from contextsvc.timeutil import DAY_US, day_of, micros

# Counter columns, in storage order. Each is a count of calls (or items) on a day.
METRICS = (
    "calls",  # stored calls (each call once, in its newest version)
    "no_disposition",  # no disposition at all
    "unmapped_disposition",  # a disposition text that maps to no picklist value
    "picklist_code",  # the disposition was sent as a picklist code (adherence)
    "no_crm_record",  # not linked to any Salesforce Contact or Lead
    "no_person",  # nothing identifies the person (no id, phone, email or name)
    "unresolved",  # identifiers present, but identity resolution found nobody
    "no_duration",  # neither duration_seconds nor ended_at
    "future_time",  # started after it arrived (beyond the allowed clock skew)
    "old_time",  # started implausibly long before it arrived
    "conflicts",  # replays of a stored version with different content
    "quarantined",  # items rejected into quarantine
    "missing_direction",  # rejected because direction was missing
)
INDEX = {name: i for i, name in enumerate(METRICS)}
WIDTH = len(METRICS)

# Report dimensions; "all" has the single value "".
DIMENSIONS = ("all", "source", "rep", "queue")

Key = tuple[int, str, str, str]  # (day, dimension, value, direction)


class Plausibility(msgspec.Struct, frozen=True):
    future_skew_us: int = 300 * 1_000_000
    max_age_us: int = 730 * DAY_US


def dimension_values(source: str | None, rep: str | None, queue: str | None) -> tuple[tuple[str, str], ...]:
    return (("all", ""), ("source", source or ""), ("rep", rep or ""), ("queue", queue or ""))


def call_contribution(call: Call, ingested_at: int, resolved: bool, limits: Plausibility) -> tuple[int, list[int]]:
    """(day, counter vector) for one stored call version."""
    started = micros(call.started_at)
    future = started > ingested_at + limits.future_skew_us
    old = started < ingested_at - limits.max_age_us
    text = call.disposition_text
    who = call.who
    empty = who.is_empty
    vector = [0] * WIDTH
    vector[0] = 1
    vector[1] = text is None
    vector[2] = text is not None and call.disposition is None
    vector[3] = text is not None and text == call.disposition
    vector[4] = who.salesforce_id is None
    vector[5] = empty
    vector[6] = not resolved and not empty
    vector[7] = call.duration_seconds is None and call.ended_at is None
    vector[8] = future
    vector[9] = old
    return day_of(ingested_at if future or old else started), vector


def plausible_day(call: Call, ingested_at: int, limits: Plausibility) -> int | None:
    """The call's start day, or None when its start time is implausible."""
    started = micros(call.started_at)
    if started > ingested_at + limits.future_skew_us or started < ingested_at - limits.max_age_us:
        return None
    return day_of(started)


class Tally:
    """Counter deltas of one batch, aggregated so each key is written once."""

    def __init__(self) -> None:
        self.counts: dict[Key, list[int]] = {}
        self.reasons: dict[tuple[int, str, str, str], int] = {}  # (day, dimension, value, reason)

    def add(self, day: int, dims: Iterable[tuple[str, str]], direction: str, vector: list[int], sign: int = 1) -> None:
        for dimension, value in dims:
            row = self.counts.get((day, dimension, value, direction))
            if row is None:
                row = self.counts[(day, dimension, value, direction)] = [0] * WIDTH
            for i, n in enumerate(vector):
                if n:
                    row[i] += sign * n

    def add_reason(self, day: int, dims: Iterable[tuple[str, str]], reason: str) -> None:
        for dimension, value in dims:
            key = (day, dimension, value, reason)
            self.reasons[key] = self.reasons.get(key, 0) + 1

    def nonzero(self) -> dict[Key, list[int]]:
        return {key: row for key, row in self.counts.items() if any(row)}
