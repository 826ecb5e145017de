"""Per-person digests and the insights computed from them. Pure.

A digest is the little a population insight needs from a ProfileState: the person's
main account (the one most of their calls name), attempts to first connect, calls per
recent UTC day, and their opportunities' stages. The observer keeps one per person.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

import msgspec

from contextsvc.profile import ProfileState
from contextsvc.timeutil import day_of

DIGEST_DAYS = 120  # recent days kept per person: velocity reads 30


class Digest(msgspec.Struct, frozen=True):
    account_id: str | None
    attempts_to_first_connect: int | None  # None: never reached
    days: dict[int, int]  # UTC day -> calls, the last DIGEST_DAYS days of the person's history
    opportunities: tuple[tuple[str, str | None, int, int], ...]  # (id, stage, calls, stage set at µs)


def digest(state: ProfileState) -> Digest:
    accounts = [r for r in state.related.values() if r.kind == "account"]
    main = max(accounts, key=lambda r: (r.calls, r.last_touched_at, r.id)).id if accounts else None
    newest = day_of(state.last_call[0]) if state.last_call else 0
    return Digest(
        main,
        state.outbound_to_first_connect if state.first_connect else None,
        {d: b.calls for d, b in state.buckets.items() if d > newest - DIGEST_DAYS},
        tuple(
            (r.id, r.stage, r.calls, r.stage_key[0] if r.stage_key else 0)
            for r in state.related.values()
            if r.kind == "opportunity"
        ),
    )


def calls_per_week_30d(d: Digest, today: int) -> float:
    return round(sum(n for day, n in d.days.items() if today - 30 < day <= today) * 7 / 30, 2)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Group(msgspec.Struct):
    key: dict[str, str | None]
    people: int
    reached: int
    avg_attempts_to_first_connect: float | None
    median_attempts_to_first_connect: float | None


def first_connect(digests: Iterable[Digest], market_of, dims: list[str]) -> list[Group]:
    groups: dict[tuple, list] = {}
    for d in digests:
        market = market_of(d.account_id)
        key = tuple(market.get(dim) for dim in dims)
        entry = groups.setdefault(key, [0, []])
        entry[0] += 1
        if d.attempts_to_first_connect is not None:
            entry[1].append(d.attempts_to_first_connect)
    return [
        Group(
            dict(zip(dims, key, strict=True)),
            people,
            len(attempts),
            round(statistics.fmean(attempts), 2) if attempts else None,
            statistics.median(attempts) if attempts else None,
        )
        for key, (people, attempts) in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0]))
    ]


class VelocityGroup(msgspec.Struct):
    key: dict[str, str | None]
    people: int  # with a call in the last 30 days
    p10: float | None
    p25: float | None
    p50: float | None
    p75: float | None
    p90: float | None
    histogram: dict[str, int]  # calls per week bucket -> people


BINS = (0.5, 1, 2, 3, 5)


def _bin(value: float) -> str:
    lower = 0.0
    for edge in BINS:
        if value < edge:
            return f"[{lower:g}, {edge:g})"
        lower = edge
    return f"≥ {BINS[-1]:g}"


def velocity(digests: Iterable[Digest], market_of, dims: list[str], today: int) -> list[VelocityGroup]:
    groups: dict[tuple, list[float]] = {}
    for d in digests:
        rate = calls_per_week_30d(d, today)
        if rate > 0:
            market = market_of(d.account_id)
            groups.setdefault(tuple(market.get(dim) for dim in dims), []).append(rate)
    out = []
    for key, rates in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        histogram: dict[str, int] = {}
        for rate in rates:
            histogram[_bin(rate)] = histogram.get(_bin(rate), 0) + 1
        p10, p25, p50, p75, p90 = (percentile(rates, s) for s in (0.1, 0.25, 0.5, 0.75, 0.9))
        out.append(VelocityGroup(dict(zip(dims, key, strict=True)), len(rates), p10, p25, p50, p75, p90, histogram))
    return out


class StageRow(msgspec.Struct):
    stage: str | None
    opportunities: int
    avg_calls: float
    median_calls: float


def stage_progression(digests: Iterable[Digest]) -> list[StageRow]:
    """Calls logged against each opportunity, by the stage it has reached (its newest
    stage): how much calling the opportunities at each stage took."""
    opportunities: dict[str, tuple[int, str | None, int]] = {}  # id -> (stage set at, stage, calls)
    for d in digests:
        for opportunity_id, stage, calls, stage_at in d.opportunities:
            seen_at, seen_stage, before = opportunities.get(opportunity_id, (-1, None, 0))
            newest = (stage_at, stage) if stage_at > seen_at else (seen_at, seen_stage)
            opportunities[opportunity_id] = (*newest, before + calls)
    by_stage: dict[str | None, list[int]] = {}
    for _, stage, calls in opportunities.values():
        by_stage.setdefault(stage, []).append(calls)
    return [
        StageRow(stage, len(c), round(statistics.fmean(c), 2), statistics.median(c))
        for stage, c in sorted(by_stage.items(), key=lambda kv: (statistics.fmean(kv[1]), str(kv[0])))
    ]
