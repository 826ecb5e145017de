"""What a segment condition reads: a context, whole or lazily computed. Pure.

The oracle is the served CallContext. On ingest the same attributes are read from a
LazyContext over the ProfileState, which computes only the parts a condition touches
(one window, one trend) with the very functions assemble() uses — so a condition gives
the same answer on both, by construction. Accounts have their own small context.
"""

from __future__ import annotations

from functools import cached_property

import msgspec

from contextsvc.context import (
    PersonView,
    RelatedView,
    Signal,
    Summary,
    Trend,
    Velocity,
    Window,
    person_view,
    related_views,
    signals,
    summary,
    trend,
    velocity,
    window,
)
from contextsvc.profile import CallCounts, ProfileState
from contextsvc.reachability import NO_INPUTS, Inputs, Reachability, dnc_signal, listings_of, reachability


def _days(key: str) -> int:
    if not key.endswith("d") or not key[:-1].isdigit():
        raise KeyError(key)
    return int(key[:-1])


class _LazyWindows(dict):
    def __init__(self, state, as_of_day: int) -> None:
        super().__init__()
        self._state, self._day = state, as_of_day

    def __missing__(self, key: str) -> Window:
        value = self[key] = window(self._state, self._day, _days(key))
        return value


class _LazyTrends(dict):
    def __init__(self, state: ProfileState, as_of_day: int) -> None:
        super().__init__()
        self._state, self._day = state, as_of_day

    def __missing__(self, key: str) -> Trend:
        value = self[key] = trend(self._state, self._day, _days(key))
        return value


class LazyContext:
    """Quacks like a CallContext for the attributes segments read; computes on demand."""

    def __init__(self, state: ProfileState, as_of_us: int, reach: Inputs = NO_INPUTS) -> None:
        self.state = state
        self.as_of_us = as_of_us
        self.reach = reach
        self.as_of_day = as_of_us // 86_400_000_000
        self.windows = _LazyWindows(state, self.as_of_day)
        self.trend = _LazyTrends(state, self.as_of_day)

    @cached_property
    def summary(self) -> Summary:
        return summary(self.state, self.as_of_us)

    @cached_property
    def velocity(self) -> Velocity:
        return velocity(self.state, self.windows["30d"].calls, self.windows["90d"].calls)

    @cached_property
    def reachability(self) -> Reachability:
        return reachability(self.state, self.as_of_us, self.reach)[0]

    @cached_property
    def signals(self) -> list[Signal]:
        # As assemble() orders them; outside_calling_window depends on the time of day and
        # is not segmentable (attributes.py), so it is not computed here.
        listed = dnc_signal(listings_of(self.state, self.reach, self.as_of_day))
        first = [Signal(listed.code, listed.severity, listed.message, listed.evidence)] if listed else []
        return first + signals(self.state, self.as_of_us)

    @cached_property
    def related(self) -> list[RelatedView]:
        return related_views(self.state)

    @cached_property
    def person(self) -> PersonView:
        return person_view(self.state)


# --- accounts ------------------------------------------------------------------------


class AccountTrend(msgspec.Struct):
    calls: int
    prior_calls: int
    calls_change: int
    calls_change_ratio: float | None
    connects: int
    prior_connects: int
    connects_change: int
    connects_change_ratio: float | None


class AccountState(msgspec.Struct):
    """Every call naming the account (related.account_id), whoever it was with: per-UTC-day
    counts. Kept by adding new call versions and subtracting replaced ones."""

    buckets: dict[int, CallCounts] = {}

    def add(self, day: int, counts: CallCounts, sign: int) -> None:
        bucket = self.buckets.get(day)
        if bucket is None:
            bucket = self.buckets[day] = CallCounts(dispositions={})
        bucket.calls += sign * counts.calls
        bucket.outbound += sign * counts.outbound
        bucket.inbound += sign * counts.inbound
        bucket.connects += sign * counts.connects
        bucket.talk_seconds += sign * counts.talk_seconds
        if bucket.calls == 0:
            del self.buckets[day]


def change_ratio(current: int, prior: int) -> float | None:
    return round((current - prior) / prior, 4) if prior else None


class AccountContext(msgspec.Struct):
    account_id: str
    windows: dict[str, Window]
    trend: dict[str, AccountTrend]


ACCOUNT_WINDOWS = (7, 30, 90)


def account_context(account_id: str, state: AccountState, as_of_day: int) -> AccountContext:
    def account_trend(days: int) -> AccountTrend:
        now, prior = window(state, as_of_day, days), window(state, as_of_day - days, days)
        return AccountTrend(
            now.calls,
            prior.calls,
            now.calls - prior.calls,
            change_ratio(now.calls, prior.calls),
            now.connects,
            prior.connects,
            now.connects - prior.connects,
            change_ratio(now.connects, prior.connects),
        )

    return AccountContext(
        account_id,
        windows={f"{d}d": window(state, as_of_day, d) for d in ACCOUNT_WINDOWS},
        trend={f"{d}d": account_trend(d) for d in ACCOUNT_WINDOWS},
    )
