"""What one call contributes to the data-quality counters. Pure: no I/O.

Counters are kept per (UTC day, dimension, value, direction). A call counts on its own
start day, except when its start time is implausible (in the future, or too old), where
it counts on the day it arrived: a call dated 2099 must not vanish from every report.
Direction is part of the key so that a change in the inbound/outbound mix (weekends are
inbound-only) is not mistaken for a degradation: alerts compare like with like.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import msgspec

from contextsvc.calls import Call
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
    "inferred_direction",  # stored with a direction its source did not give (a Task logged by hand)
)
INDEX = {name: i for i, name in enumerate(METRICS)}
WIDTH = len(METRICS)

# Report dimensions; "all" has the single value "".
DIMENSIONS = ("all", "source", "rep", "queue")

Key = tuple[int, str, str, str]  # (day, dimension, value, direction)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def day_number(value: date) -> int:
    return value.toordinal() - _EPOCH_ORDINAL


def day_date(number: int) -> date:
    return date.fromordinal(number + _EPOCH_ORDINAL)


def month_of(day: int) -> int:
    """Months since year 0 (year * 12 + month - 1): the key of the monthly roll-up."""
    value = day_date(day)
    return value.year * 12 + value.month - 1


def month_first_day(month: int) -> int:
    return day_number(date(month // 12, month % 12 + 1, 1))


class Plausibility(msgspec.Struct, frozen=True):
    future_skew_us: int = 300 * 1_000_000
    max_age_us: int = 730 * DAY_US


def dimension_values(source: str | None, rep: str | None, queue: str | None) -> tuple[tuple[str, str], ...]:
    return (("all", ""), ("source", source or ""), ("rep", rep or ""), ("queue", queue or ""))


def bit(name: str) -> int:
    return 1 << INDEX[name]


_CALL, _NO_DISPOSITION, _UNMAPPED, _PICKLIST = (
    bit("calls"),
    bit("no_disposition"),
    bit("unmapped_disposition"),
    bit("picklist_code"),
)
_NO_RECORD, _NO_PERSON, _UNRESOLVED, _NO_DURATION = (
    bit("no_crm_record"),
    bit("no_person"),
    bit("unresolved"),
    bit("no_duration"),
)
_FUTURE, _OLD, _INFERRED = bit("future_time"), bit("old_time"), bit("inferred_direction")
IMPLAUSIBLE = _FUTURE | _OLD


def call_flags(call: Call, ingested_at: int, resolved: bool, limits: Plausibility) -> tuple[int, int]:
    """(day, flags) for one stored call version: bit i of flags counts towards METRICS[i]."""
    started = micros(call.started_at)
    flags = _CALL
    if started > ingested_at + limits.future_skew_us:
        flags |= _FUTURE
    elif started < ingested_at - limits.max_age_us:
        flags |= _OLD
    text = call.disposition_text
    if text is None:
        flags |= _NO_DISPOSITION
    elif call.disposition is None:
        flags |= _UNMAPPED
    elif text == call.disposition:
        flags |= _PICKLIST
    who = call.who
    if who.salesforce_id is None:
        flags |= _NO_RECORD
    if who.is_empty:
        flags |= _NO_PERSON
    elif not resolved:
        flags |= _UNRESOLVED
    if call.duration_seconds is None and call.ended_at is None:
        flags |= _NO_DURATION
    if "direction_inferred" in call.quality:
        flags |= _INFERRED
    return day_of(ingested_at if flags & IMPLAUSIBLE else started), flags


_vectors: dict[int, tuple[int, ...]] = {}


def vector_of(flags: int) -> tuple[int, ...]:
    """Flags as a counter vector (memoised: a batch has only a few distinct flag sets)."""
    vector = _vectors.get(flags)
    if vector is None:
        vector = _vectors[flags] = tuple((flags >> i) & 1 for i in range(WIDTH))
    return vector


# (day, source, rep, queue, direction, flags): one call's (or item's) cell. Per call, ingest
# touches one cell; cells expand to dimension rows once per batch.
Cell = tuple[int, str, str, str, str, int]


class Tally:
    """Counter deltas of one batch, aggregated so each row is written once."""

    def __init__(self) -> None:
        self.cells: dict[Cell, int] = {}
        self.reasons: dict[tuple[int, str, str, str], int] = {}  # (day, dimension, value, reason)

    def add(self, cell: Cell, n: int = 1) -> None:
        self.cells[cell] = self.cells.get(cell, 0) + n

    def add_reason(self, day: int, dims: Iterable[tuple[str, str]], reason: str) -> None:
        for dimension, value in dims:
            key = (day, dimension, value, reason)
            self.reasons[key] = self.reasons.get(key, 0) + 1

    def rows(self) -> dict[Key, list[int]]:
        """Per (day, dimension, value, direction), the counter deltas (all-zero rows dropped)."""
        rows: dict[Key, list[int]] = {}
        for (day, source, rep, queue, direction, flags), n in self.cells.items():
            if not n:
                continue
            vector = vector_of(flags)
            for dimension, value in dimension_values(source, rep, queue):
                row = rows.get((day, dimension, value, direction))
                if row is None:
                    row = rows[(day, dimension, value, direction)] = [0] * WIDTH
                for i, one in enumerate(vector):
                    if one:
                        row[i] += n
        return {key: row for key, row in rows.items() if any(row)}


def monthly(rows: dict[Key, list[int]]) -> dict[tuple[int, str, str], list[int]]:
    """Daily rows rolled up per (month, dimension, value), all directions together."""
    months: dict[tuple[int, str, str], list[int]] = {}
    month_cache: dict[int, int] = {}
    for (day, dimension, value, _), row in rows.items():
        month = month_cache.get(day)
        if month is None:
            month = month_cache[day] = month_of(day)
        into = months.get((month, dimension, value))
        if into is None:
            months[(month, dimension, value)] = list(row)
        else:
            for i, n in enumerate(row):
                into[i] += n
    return months
