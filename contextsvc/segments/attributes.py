"""The attributes a segment condition may name, each a getter over a context. Pure.

Names are the context's own JSON paths (`windows.30d.connects`,
`summary.days_since_last_connect`), plus a few derived ones (`trend.30d.calls_change_ratio`,
`related.open_opportunity_stages`). `time_dependent` says whether the value can change
with the as_of day alone; segments using none of those never need re-evaluating as time
passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from contextsvc.context import WINDOWS
from contextsvc.segments.views import ACCOUNT_WINDOWS, change_ratio

Kind = Literal["int", "number", "text", "bool", "set"]
SIGNAL_CODES = (
    "on_dnc_list",
    "do_not_call",
    "bad_number",
    "high_intent",
    "quiet_after_interest",
    "callback_due",
    "many_attempts_no_connect",
)
# Context paths a segment may not name, and why. Membership is stored per UTC day and must
# equal the served context at every instant; these change within a day or with figures
# from other people's calls, so a stored answer would be wrong for part of the day.
NOT_SEGMENTABLE = {
    "reachability.callable_now": "it changes with the time of day in the person's zone; "
    "segments are evaluated per UTC day",
    "reachability.window_open": "it changes with the time of day in the person's zone; "
    "segments are evaluated per UTC day",
    "reachability.local_time": "it changes every minute",
    "reachability.next_window_opens_at": "it changes with the time of day in the person's zone",
    "reachability.best_time": "market figures come from everyone's calls, refreshed daily",
}
# An input besides the person's calls (DNC lists, account regions) can change these:
# segments naming them are re-evaluated when those inputs change.
INPUT_PREFIXES = ("reachability.", "signals")
TREND_LABELS = ("rising", "steady", "falling", "gone quiet", "new", "inactive")
COUNTS = ("calls", "outbound", "inbound", "connects", "talk_seconds")


class Attribute(msgspec.Struct, frozen=True):
    name: str
    kind: Kind
    time_dependent: bool
    get: Callable[[Any], Any]
    choices: tuple[str, ...] | None = None  # the values a text or set attribute can take


def _closed(stage: str | None) -> bool:
    return stage is not None and stage.lower().startswith("closed")


def _open_opportunities(context) -> list:
    return [r for r in context.related if r.kind == "opportunity" and not _closed(r.stage)]


def _record_kind(context) -> str | None:
    ids = context.person.identifiers.salesforce_ids
    if any(i.startswith("003") for i in ids):
        return "contact"
    return "lead" if any(i.startswith("00Q") for i in ids) else None


def _getter(*path: str) -> Callable[[Any], Any]:
    first, *rest = path

    def get(context):
        value = getattr(context, first)
        for step in rest:
            value = value[step] if isinstance(value, dict) else getattr(value, step)
        return value

    return get


def _disposition_count(days: str, code: str) -> Callable[[Any], Any]:
    def get(context):
        return context.windows[days].dispositions.get(code, 0)

    return get


def _trend_ratio(days: str, field: str) -> Callable[[Any], Any]:
    def get(context):
        t = context.trend[days]
        return change_ratio(getattr(t, field), getattr(t, "prior_" + field))

    return get


def individual_catalog(disposition_codes: list[str]) -> dict[str, Attribute]:
    attrs: list[Attribute] = []
    for name in COUNTS:
        attrs.append(Attribute(f"summary.{name}", "int", False, _getter("summary", name)))
    attrs += [
        Attribute("summary.connect_rate", "number", False, _getter("summary", "connect_rate")),
        Attribute("summary.days_since_last_call", "int", True, _getter("summary", "days_since_last_call")),
        Attribute("summary.days_since_last_connect", "int", True, _getter("summary", "days_since_last_connect")),
        # Free text too: an unmapped disposition is its own value, so no fixed choices.
        Attribute("summary.last_disposition", "text", False, _getter("summary", "last_disposition")),
        Attribute("summary.attempts_to_first_connect", "int", False, _getter("summary", "attempts_to_first_connect")),
        Attribute(
            "summary.attempts_since_last_connect", "int", False, _getter("summary", "attempts_since_last_connect")
        ),
        Attribute("summary.do_not_call", "bool", False, _getter("summary", "do_not_call")),
    ]
    for days in (f"{d}d" for d in WINDOWS):
        for name in COUNTS:
            attrs.append(Attribute(f"windows.{days}.{name}", "int", True, _getter("windows", days, name)))
        for code in disposition_codes:
            attrs.append(Attribute(f"windows.{days}.dispositions.{code}", "int", True, _disposition_count(days, code)))
    for days in ("7d", "30d"):
        for name in ("calls", "prior_calls", "calls_change", "connects", "prior_connects", "connects_change"):
            attrs.append(Attribute(f"trend.{days}.{name}", "int", True, _getter("trend", days, name)))
        for name in ("connect_rate", "prior_connect_rate", "connect_rate_change"):
            attrs.append(Attribute(f"trend.{days}.{name}", "number", True, _getter("trend", days, name)))
        for name in ("calls", "connects"):
            attrs.append(Attribute(f"trend.{days}.{name}_change_ratio", "number", True, _trend_ratio(days, name)))
        attrs.append(Attribute(f"trend.{days}.label", "text", True, _getter("trend", days, "label"), TREND_LABELS))
    attrs += [
        Attribute("velocity.calls_per_week_30d", "number", True, _getter("velocity", "calls_per_week_30d")),
        Attribute("velocity.calls_per_week_90d", "number", True, _getter("velocity", "calls_per_week_90d")),
        Attribute("velocity.median_gap_days", "number", False, _getter("velocity", "median_gap_days")),
        Attribute(
            "velocity.days_first_touch_to_first_connect",
            "number",
            False,
            _getter("velocity", "days_first_touch_to_first_connect"),
        ),
        Attribute(
            "signals",
            "set",
            True,
            lambda c: {s.code for s in c.signals if s.code != "outside_calling_window"},
            SIGNAL_CODES,
        ),
        Attribute("reachability.time_zone", "text", False, _getter("reachability", "time_zone")),
        Attribute(
            "reachability.time_zone_source",
            "text",
            False,
            _getter("reachability", "time_zone_source"),
            ("call", "account", "phone", "none"),
        ),
        Attribute(
            "reachability.time_zone_ambiguous", "bool", False, lambda c: len(c.reachability.time_zone_candidates) > 1
        ),
        Attribute("reachability.country", "text", False, _getter("reachability", "country")),
        Attribute("reachability.rule", "text", False, _getter("reachability", "rule")),
        # Time-dependent: a listing expires at the start of a UTC day.
        Attribute("reachability.do_not_call", "bool", True, _getter("reachability", "do_not_call")),
        Attribute("reachability.on_dnc_list", "bool", True, lambda c: bool(c.reachability.dnc_listings)),
        Attribute(
            "related.opportunities", "int", False, lambda c: sum(1 for r in c.related if r.kind == "opportunity")
        ),
        Attribute("related.open_opportunities", "int", False, lambda c: len(_open_opportunities(c))),
        Attribute(
            "related.open_opportunity_stages",
            "set",
            False,
            lambda c: {r.stage for r in _open_opportunities(c) if r.stage},
        ),
        Attribute("person.record", "text", False, _record_kind, ("contact", "lead")),
        Attribute("person.company", "text", False, _getter("person", "company")),
        Attribute("person.title", "text", False, _getter("person", "title")),
    ]
    return {a.name: a for a in attrs}


def account_catalog() -> dict[str, Attribute]:
    attrs: list[Attribute] = []
    for days in (f"{d}d" for d in ACCOUNT_WINDOWS):
        for name in COUNTS:
            attrs.append(Attribute(f"windows.{days}.{name}", "int", True, _getter("windows", days, name)))
        for name in ("calls", "prior_calls", "calls_change", "connects", "prior_connects", "connects_change"):
            attrs.append(Attribute(f"trend.{days}.{name}", "int", True, _getter("trend", days, name)))
        for name in ("calls_change_ratio", "connects_change_ratio"):
            attrs.append(Attribute(f"trend.{days}.{name}", "number", True, _getter("trend", days, name)))
    return {a.name: a for a in attrs}
