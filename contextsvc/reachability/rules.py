"""Permitted calling windows, and whether `as_of` falls in one. Pure.

Windows are local wall-clock intervals per weekday; each is turned into UTC instants for
the actual local date with zoneinfo, so a window "08:00-21:00" is 13 hours long on an
ordinary day and still starts at 08:00 local on the days DST begins or ends. A person
whose zone is ambiguous is callable only when every candidate zone allows it, and not
callable when none does; in between the answer is unknown.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path

import msgspec

from contextsvc.timeutil import from_micros, micros, zone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SHORTHANDS = {"all": DAYS, "weekdays": DAYS[:5], "weekend": DAYS[5:]}
_US = 1_000_000


class Rule(msgspec.Struct, frozen=True):
    id: str  # a country code, or "default"
    description: str
    source: str
    windows: tuple[tuple[tuple[int, int], ...], ...]  # per weekday (Mon=0): (start, end) minutes


class CallingRules(msgspec.Struct, frozen=True):
    default: Rule
    countries: dict[str, Rule]

    def for_country(self, country: str | None) -> Rule:
        return self.countries.get(country or "", self.default)

    @classmethod
    def load(cls, path: Path) -> CallingRules:
        return cls.parse(tomllib.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def parse(cls, raw: dict) -> CallingRules:
        countries = {code.upper(): _rule(code.upper(), spec) for code, spec in raw.get("countries", {}).items()}
        return cls(_rule("default", raw["default"]), countries)


def _minutes(text: str, where: str) -> int:
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= 24 * 60:
        raise ValueError(f"{where}: {text!r} is not a time of day")
    return value


def _rule(rule_id: str, spec: dict) -> Rule:
    for key in ("description", "source"):
        if not spec.get(key):
            raise ValueError(f"calling rule {rule_id}: {key} is required (cite where the window comes from)")
    per_day: dict[str, tuple[tuple[int, int], ...]] = {}
    for key in (*SHORTHANDS, *DAYS):  # named days last: they override shorthands
        if key not in spec:
            continue
        intervals = []
        for start, end in spec[key]:
            a, b = _minutes(start, f"{rule_id}.{key}"), _minutes(end, f"{rule_id}.{key}")
            if a >= b:
                raise ValueError(f"calling rule {rule_id}.{key}: {start}-{end} ends before it starts")
            intervals.append((a, b))
        for day in SHORTHANDS.get(key, (key,)):
            per_day[day] = tuple(sorted(intervals))
    return Rule(rule_id, spec["description"], spec["source"], tuple(per_day.get(day, ()) for day in DAYS))


def _instant(day: date, minutes: int, tz) -> int:
    if minutes == 24 * 60:  # midnight at the end of the day: the next day's 00:00
        day, minutes = day + timedelta(days=1), 0
    # A local time skipped by a DST change (02:30 on the spring-forward day) reads as the
    # instant it would have been without the change: zoneinfo's fold=0.
    moment = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)
    return micros(moment)


def open_intervals(
    rule: Rule, zone_name: str, around_us: int, days_before: int = 1, days_after: int = 8
) -> list[tuple[int, int]]:
    """The rule's windows as UTC µs intervals, for local dates around the instant."""
    tz = zone(zone_name)
    local_day = from_micros(around_us).astimezone(tz).date()
    out = []
    for offset in range(-days_before, days_after + 1):
        day = local_day + timedelta(days=offset)
        for start, end in rule.windows[day.weekday()]:
            out.append((_instant(day, start, tz), _instant(day, end, tz)))
    return _merged(out)


def _merged(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _intersection(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


class WindowState(msgspec.Struct, frozen=True, gc=False):
    callable: bool | None  # None: the candidate zones disagree
    opens_at_us: int | None  # when it is not callable: the next instant every zone allows
    closes_at_us: int | None  # when it is callable: when the window ends
    # The answer holds for every instant in [valid_from_us, valid_until_us).
    valid_from_us: int
    valid_until_us: int


def window_state(rule: Rule, zones: tuple[str, ...], at_us: int) -> WindowState:
    per_zone = [open_intervals(rule, name, at_us) for name in zones]
    everywhere = per_zone[0]
    for intervals in per_zone[1:]:
        everywhere = _intersection(everywhere, intervals)
    anywhere = _merged([i for intervals in per_zone for i in intervals])
    in_all = next((i for i in everywhere if i[0] <= at_us < i[1]), None)
    in_any = any(start <= at_us < end for start, end in anywhere)
    callable_now = True if in_all else (None if in_any else False)
    opens = None if in_all else next((start for start, _ in everywhere if start > at_us), None)
    edges = sorted({edge for intervals in per_zone for i in intervals for edge in i})
    earlier = [e for e in edges if e <= at_us]
    later = [e for e in edges if e > at_us]
    horizon = at_us + 8 * 86_400 * _US
    return WindowState(
        callable_now,
        opens,
        in_all[1] if in_all else None,
        earlier[-1] if earlier else at_us - 86_400 * _US,
        later[0] if later else horizon,
    )


def local(at_us: int, zone_name: str) -> datetime:
    return from_micros(at_us).astimezone(zone(zone_name))
