"""Assemble a person's call context from their ProfileState, relative to `as_of`. Pure.

The state must hold exactly the calls started at or before `as_of` (the caller rebuilds
it from the call log when `as_of` is earlier than the person's newest call). Cost is
O(day buckets + recent calls), independent of the length of the history. Apart from the
`as_of` field itself, the result depends on `as_of` only through its UTC day.

Windows are whole UTC days: the `7d` window at `as_of` is the 7 days ending with the UTC
day of `as_of`, i.e. days (day(as_of) − 7, day(as_of)].
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import datetime
from itertools import pairwise
from typing import Protocol

import msgspec

from contextsvc.profile import CallCounts, ProfileState
from contextsvc.reachability import (
    NO_INPUTS,
    Inputs,
    Reachability,
    WindowState,
    dnc_signal,
    reachability,
    window_signal,
)
from contextsvc.timeutil import DAY_US, day_of, days_ago, from_micros, micros

WINDOWS = (7, 30, 90)
HIGH_INTENT_DAYS = 14
QUIET_AFTER_INTEREST_DAYS = 21
MANY_ATTEMPTS = 6


class Identifiers(msgspec.Struct):
    salesforce_ids: list[str]
    emails: list[str]
    phones: list[str]


class PersonView(msgspec.Struct):
    name: str | None
    first_name: str | None
    last_name: str | None
    title: str | None
    company: str | None
    identifiers: Identifiers


class Summary(msgspec.Struct):
    calls: int
    outbound: int
    inbound: int
    connects: int
    connect_rate: float | None
    talk_seconds: int
    first_call_at: datetime | None
    last_call_at: datetime | None
    last_connect_at: datetime | None
    days_since_last_call: int | None
    days_since_last_connect: int | None
    last_disposition: str | None
    attempts_to_first_connect: int | None
    attempts_since_last_connect: int
    do_not_call: bool


class Window(CallCounts):
    pass


class Trend(msgspec.Struct):
    calls: int
    prior_calls: int
    calls_change: int
    connects: int
    prior_connects: int
    connects_change: int
    connect_rate: float | None
    prior_connect_rate: float | None
    connect_rate_change: float | None
    label: str  # rising | steady | falling | gone quiet | new | inactive


class Velocity(msgspec.Struct):
    calls_per_week_30d: float
    calls_per_week_90d: float
    median_gap_days: float | None
    days_first_touch_to_first_connect: float | None


class RecentCallView(msgspec.Struct):
    call_id: str
    started_at: datetime
    direction: str
    connect: bool
    disposition: str | None
    disposition_text: str | None
    talk_seconds: int
    duration_seconds: int | None
    rep_id: str | None
    notes: str | None
    opportunity_id: str | None
    opportunity_stage: str | None
    recording_url: str | None = None  # null unless the key has recordings:read


class Signal(msgspec.Struct):
    code: str
    severity: str  # critical | warning | opportunity | info
    message: str
    evidence: dict


class RelatedView(msgspec.Struct):
    id: str
    kind: str
    stage: str | None
    last_touched_at: datetime
    calls: int


class DataQuality(msgspec.Struct):
    issues: dict[str, int]
    unmapped_dispositions: dict[str, int]


class SegmentRef(msgspec.Struct):
    id: str
    name: str


class CallContext(msgspec.Struct):
    individual_id: str
    as_of: datetime
    person: PersonView
    summary: Summary
    windows: dict[str, Window]
    trend: dict[str, Trend]
    velocity: Velocity
    recent_calls: list[RecentCallView]
    signals: list[Signal]
    related: list[RelatedView]
    data_quality: DataQuality
    prompt: str = ""
    prompt_tokens: int = 0
    segments: list[SegmentRef] = []  # the person's segments at as_of (segments/)
    reachability: Reachability | None = None  # local time, calling window, best time, DNC (reachability/)


def _rate(connects: int, calls: int) -> float | None:
    return round(connects / calls, 4) if calls else None


def _days_between(later_us: int, earlier_us: int) -> int:
    """Whole UTC days apart, as the windows count them (23:00 to 01:00 is one day)."""
    return day_of(later_us) - day_of(earlier_us)


def _ago(later_us: int, earlier_us: int) -> str:
    return days_ago(_days_between(later_us, earlier_us))


class DayCounts(Protocol):
    """Per-UTC-day call counts: a person's (ProfileState) or an account's."""

    @property
    def buckets(self) -> Mapping[int, CallCounts]: ...


def window(state: DayCounts, last_day: int, days: int) -> Window:
    """Sum of the day buckets in (last_day − days, last_day]."""
    total = Window(dispositions={})
    for day, bucket in state.buckets.items():
        if last_day - days < day <= last_day:
            total.absorb(bucket)
    total.dispositions = dict(sorted(total.dispositions.items()))
    return total


def trend_label(current: int, prior: int, first_call_day: int | None, period_start_day: int) -> str:
    if current == 0 and prior == 0:
        return "inactive"
    if current == 0:
        return "gone quiet"
    if prior == 0:
        return "new" if first_call_day is not None and first_call_day > period_start_day else "rising"
    if current >= prior * 1.5 and current - prior >= 2:
        return "rising"
    if current <= prior * 0.5 and prior - current >= 2:
        return "falling"
    return "steady"


def trend(state: ProfileState, as_of_day: int, days: int) -> Trend:
    current = window(state, as_of_day, days)
    prior = window(state, as_of_day - days, days)
    rate, prior_rate = _rate(current.connects, current.calls), _rate(prior.connects, prior.calls)
    first_day = day_of(state.first_call[0]) if state.first_call else None
    return Trend(
        calls=current.calls,
        prior_calls=prior.calls,
        calls_change=current.calls - prior.calls,
        connects=current.connects,
        prior_connects=prior.connects,
        connects_change=current.connects - prior.connects,
        connect_rate=rate,
        prior_connect_rate=prior_rate,
        connect_rate_change=round(rate - prior_rate, 4) if rate is not None and prior_rate is not None else None,
        label=trend_label(current.calls, prior.calls, first_day, as_of_day - days),
    )


def signals(state: ProfileState, as_of_us: int) -> list[Signal]:
    signals: list[Signal] = []
    attempts_since_last_connect = state.outbound_since_last_connect
    flag = state.flag_last

    def at(key) -> str:
        return from_micros(key[0]).isoformat()

    if "do_not_call" in flag:
        key = flag["do_not_call"]
        signals.append(
            Signal(
                "do_not_call",
                "critical",
                "Asked not to be called again: do not call.",
                {"call_id": key[1], "at": at(key)},
            )
        )
    if "bad_number" in flag and (state.last_connect is None or flag["bad_number"] > state.last_connect):
        key = flag["bad_number"]
        signals.append(
            Signal(
                "bad_number",
                "warning",
                "The number on file reached the wrong line; verify it before dialling.",
                {"call_id": key[1], "at": at(key)},
            )
        )
    intent = max((flag[f] for f in ("meeting", "positive") if f in flag), default=None)
    if intent is not None:
        # Thresholds in whole UTC days, like every other as_of dependency: a context is then a
        # function of the as_of day alone, which is what lets reads memoise it exactly.
        intent_age = _days_between(as_of_us, intent[0])
        if intent_age <= HIGH_INTENT_DAYS:
            kind = "meeting booked" if "meeting" in flag and flag["meeting"] == intent else "positive outcome"
            signals.append(
                Signal(
                    "high_intent",
                    "opportunity",
                    f"High intent: {kind} {_ago(as_of_us, intent[0])}.",
                    {"call_id": intent[1], "at": at(intent), "outcome": kind},
                )
            )
        elif intent_age > QUIET_AFTER_INTEREST_DAYS and (state.last_connect is None or state.last_connect <= intent):
            quiet = _days_between(as_of_us, intent[0])
            signals.append(
                Signal(
                    "quiet_after_interest",
                    "warning",
                    f"Went quiet after showing interest: no conversation in the {quiet} days since.",
                    {"call_id": intent[1], "at": at(intent), "days_quiet": quiet},
                )
            )
    if "callback" in flag and (state.last_outbound is None or state.last_outbound <= flag["callback"]):
        key = flag["callback"]
        waiting = _days_between(as_of_us, key[0])
        signals.append(
            Signal(
                "callback_due",
                "warning",
                f"Asked for a call back {_ago(as_of_us, key[0])}; not yet called back.",
                {"call_id": key[1], "requested_at": at(key), "days_waiting": waiting},
            )
        )
    if attempts_since_last_connect >= MANY_ATTEMPTS:
        since = "the last conversation" if state.last_connect else "the first call"
        signals.append(
            Signal(
                "many_attempts_no_connect",
                "warning",
                f"{attempts_since_last_connect} outbound attempts since {since} without reaching them.",
                {"attempts": attempts_since_last_connect, "since": at(state.last_connect or state.first_call)},
            )
        )
    return signals


def summary(state: ProfileState, as_of_us: int) -> Summary:
    last_call_us = state.last_call[0] if state.last_call else None
    last_connect_us = state.last_connect[0] if state.last_connect else None
    newest = state.recent[0] if state.recent else None
    return Summary(
        calls=state.calls,
        outbound=state.outbound,
        inbound=state.inbound,
        connects=state.connects,
        connect_rate=_rate(state.connects, state.calls),
        talk_seconds=state.talk_seconds,
        first_call_at=from_micros(state.first_call[0]) if state.first_call else None,
        last_call_at=from_micros(last_call_us),
        last_connect_at=from_micros(last_connect_us),
        days_since_last_call=_days_between(as_of_us, last_call_us) if last_call_us is not None else None,
        days_since_last_connect=_days_between(as_of_us, last_connect_us) if last_connect_us is not None else None,
        last_disposition=(newest.disposition or newest.disposition_text) if newest else None,
        attempts_to_first_connect=state.outbound_to_first_connect if state.first_connect else None,
        attempts_since_last_connect=state.outbound_since_last_connect,
        do_not_call="do_not_call" in state.flag_last,
    )


def velocity(state: ProfileState, calls_30d: int, calls_90d: int) -> Velocity:
    touches = sorted(r.started_at for r in state.recent)
    gaps = [(b - a) / DAY_US for a, b in pairwise(touches)]
    return Velocity(
        calls_per_week_30d=round(calls_30d * 7 / 30, 2),
        calls_per_week_90d=round(calls_90d * 7 / 90, 2),
        median_gap_days=round(statistics.median(gaps), 2) if gaps else None,
        days_first_touch_to_first_connect=round((state.first_connect[0] - state.first_call[0]) / DAY_US, 2)
        if state.first_connect and state.first_call  # set together: a connect is a call
        else None,
    )


def person_view(state: ProfileState) -> PersonView:
    person = state.person
    name = " ".join(filter(None, [person.first_name, person.last_name])) or None
    return PersonView(
        name,
        person.first_name,
        person.last_name,
        person.title,
        person.company,
        Identifiers(list(person.salesforce_ids), list(person.emails), list(person.phones)),
    )


def related_views(state: ProfileState) -> list[RelatedView]:
    return sorted(
        (RelatedView(r.id, r.kind, r.stage, from_micros(r.last_touched_at), r.calls) for r in state.related.values()),
        key=lambda r: (r.last_touched_at, r.id),
        reverse=True,
    )


def reach_signals(block: Reachability, *, with_window: bool = True) -> tuple[list[Signal], list[Signal]]:
    """(signals ranked before the call-history ones, signals after them)."""
    first = [Signal(s.code, s.severity, s.message, s.evidence) for s in (dnc_signal(block.dnc_listings),) if s]
    last = [Signal(s.code, s.severity, s.message, s.evidence) for s in (window_signal(block),) if s and with_window]
    return first, last


def assemble(
    individual_id: str, state: ProfileState, as_of: datetime, recent: int = 5, reach: Inputs = NO_INPUTS
) -> CallContext:
    return assemble_with_window(individual_id, state, as_of, recent, reach)[0]


def assemble_with_window(
    individual_id: str, state: ProfileState, as_of: datetime, recent: int = 5, reach: Inputs = NO_INPUTS
) -> tuple[CallContext, WindowState]:
    """The context, and the instants for which its calling-window answer holds."""
    block, window_holds = reachability(state, micros(as_of), reach)
    before, after = reach_signals(block)
    context = _assemble(individual_id, state, as_of, recent)
    context.reachability = block
    context.signals = before + context.signals + after
    return context, window_holds


def _assemble(individual_id: str, state: ProfileState, as_of: datetime, recent: int) -> CallContext:
    as_of_us = micros(as_of)
    as_of_day = day_of(as_of_us)
    windows = {f"{days}d": window(state, as_of_day, days) for days in WINDOWS}
    return CallContext(
        individual_id=individual_id,
        as_of=as_of,
        person=person_view(state),
        summary=summary(state, as_of_us),
        windows=windows,
        trend={"7d": trend(state, as_of_day, 7), "30d": trend(state, as_of_day, 30)},
        velocity=velocity(state, windows["30d"].calls, windows["90d"].calls),
        recent_calls=[
            RecentCallView(
                r.call_id,
                from_micros(r.started_at),
                r.direction,
                r.connect,
                r.disposition,
                r.disposition_text,
                r.talk_seconds,
                r.duration_seconds,
                r.rep_id,
                r.notes,
                r.opportunity_id,
                r.opportunity_stage,
                r.recording_url,
            )
            for r in state.recent[:recent]
        ],
        signals=signals(state, as_of_us),
        related=related_views(state),
        data_quality=DataQuality(dict(sorted(state.quality.items())), dict(sorted(state.unmapped.items()))),
    )
