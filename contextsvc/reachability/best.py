"""When a person picks up: connect rates by local hour and weekday. Pure.

Counts are kept per UTC hour (ProfileState.outbound_hours) or per local hour of the week
(market counters, 168 cells), and ranked here as windows: one local hour on weekdays
(Mon-Fri) or at weekends (Sat-Sun). A window is claimed only with at least `min_calls`
outbound calls in it; otherwise the answer is "not enough data".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec

from contextsvc.timeutil import from_micros, zone

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs is Python 3.13+

HOURS_OF_WEEK = 168
_HOUR_US = 3_600_000_000
DAY_GROUPS = (("Mon–Fri", range(0, 5)), ("Sat–Sun", range(5, 7)))


class BestWindow(msgspec.Struct, frozen=True):
    days: str  # Mon–Fri | Sat–Sun
    start: str  # local, "10:00"
    end: str  # local, "11:00"
    connect_rate: float
    calls: int  # outbound calls in this window: the evidence
    connects: int


def hour_of_week(at_us: int, zone_name: str) -> int:
    moment = from_micros(at_us).astimezone(zone(zone_name))
    return moment.weekday() * 24 + moment.hour


def local_hours(outbound_hours: dict[int, list[int]], zone_name: str) -> list[list[int]]:
    """UTC hour counts -> 168 cells of [calls, connects] in local time (each UTC hour is
    converted at its own instant, so DST is exact; a zone offset by 30 or 45 minutes counts
    an hour where it starts)."""
    cells = [[0, 0] for _ in range(HOURS_OF_WEEK)]
    tz = zone(zone_name)
    for hour, (calls, connects) in outbound_hours.items():
        moment = from_micros(hour * _HOUR_US).astimezone(tz)
        cell = cells[moment.weekday() * 24 + moment.hour]
        cell[0] += calls
        cell[1] += connects
    return cells


def _clock(hour: int) -> str:
    return f"{hour % 24:02d}:00"


def _is_flat(cells: list[list[int]] | list[int]) -> TypeIs[list[int]]:
    return bool(cells) and isinstance(cells[0], int)


def best_windows(cells: list[list[int]] | list[int], min_calls: int, top: int = 2) -> tuple[list[BestWindow], int]:
    """(up to `top` windows, best connect rate first; the outbound calls considered).
    `cells` is 168 [calls, connects] pairs, or a flat list of 336 ints."""
    flat = cells if _is_flat(cells) else [n for pair in cells for n in pair]
    candidates = []
    for order, (label, days) in enumerate(DAY_GROUPS):
        for hour in range(24):
            calls = sum(flat[2 * (d * 24 + hour)] for d in days)
            if calls >= max(min_calls, 1):
                connects = sum(flat[2 * (d * 24 + hour) + 1] for d in days)
                candidates.append((-connects / calls, -calls, order, hour, label, calls, connects))
    candidates.sort()
    windows = [
        BestWindow(label, _clock(hour), _clock(hour + 1), round(connects / calls, 4), calls, connects)
        for _, _, _, hour, label, calls, connects in candidates[:top]
    ]
    return windows, sum(flat[0::2])


def add_cells(total: list[int], cells: Iterable[int], sign: int = 1) -> None:
    for i, value in enumerate(cells):
        total[i] += sign * value
