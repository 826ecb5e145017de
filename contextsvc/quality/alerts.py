"""Degradation alerts: each rate compared with its own trailing baseline. Pure: no I/O.

A completed UTC day of one dimension value (a rep, a queue, a source, or everything) is
compared with the `baseline_days` before it. An alert needs all of:
  - volume: at least `min_volume` calls that day and in the baseline;
  - size: the day's rate at least `factor` times the baseline rate;
  - evidence: the day's count would be this high by chance with probability at most
    `max_p_value` (binomial tail at the smoothed baseline rate), so that hundreds of
    rates checked every day stay quiet on clean data.
The baseline is adjusted to the day's direction mix (each direction's own baseline rate,
weighted by the day's calls in that direction): an inbound-only weekend is compared with
inbound calls, not with a weekday of outbound dialling.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Protocol

import msgspec

from contextsvc.quality.metrics import INDEX, day_date

Vector = Sequence[int]
ByDirection = Mapping[str, Vector]

_CALLS, _QUARANTINED = INDEX["calls"], INDEX["quarantined"]


def _received(v: Vector) -> int:
    return v[_CALLS] + v[_QUARANTINED]


def _metric(name: str) -> Callable[[Vector], int]:
    i = INDEX[name]
    return lambda v: v[i]


# Alertable rates: name -> (numerator, denominator), both functions of a counter vector.
RATES: dict[str, tuple[Callable[[Vector], int], Callable[[Vector], int]]] = {
    **{
        name: (_metric(name), _metric("calls"))
        for name in (
            "no_disposition",
            "unmapped_disposition",
            "no_crm_record",
            "no_person",
            "unresolved",
            "no_duration",
            "future_time",
            "old_time",
            "conflicts",
            "inferred_direction",
        )
    },
    "off_picklist": (lambda v: v[_CALLS] - v[INDEX["picklist_code"]], _metric("calls")),
    "quarantined": (_metric("quarantined"), _received),
    "missing_direction": (_metric("missing_direction"), _received),
}


def flagged_rates(vector: Vector) -> list[str]:
    """The rates one call's (or item's) contribution counts against: for sample call ids."""
    return [name for name, (numerator, _) in RATES.items() if numerator(vector) > 0]


class AlertRule(msgspec.Struct, frozen=True):
    factor: float = 2.0
    min_volume: int = 30
    baseline_days: int = 14
    max_p_value: float = 1e-6


class QualityAlert(msgspec.Struct, kw_only=True):
    day: date  # the UTC day whose data degraded
    dimension: str  # all | source | rep | queue
    value: str  # the rep, queue or source ("" for all, or for calls without one)
    metric: str  # a key of RATES
    rate_before: float  # the trailing baseline, adjusted to the day's direction mix
    rate_now: float
    count_now: int
    calls_now: int
    calls_before: int  # volume behind the baseline
    baseline_from: date
    baseline_to: date
    p_value: float  # chance of a day this bad at the baseline rate
    sample_call_ids: list[str]
    raised_at: datetime
    id: int | None = None


class AlertSink(Protocol):
    """Where new alerts go once their batch is committed (they are already stored).

    The default sink does nothing more; activation (webhooks, SSE) plugs in here."""

    def emit(self, alerts: Sequence[QualityAlert]) -> None: ...


class StoredOnly:
    def emit(self, alerts: Sequence[QualityAlert]) -> None:
        return None


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space from k upward."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0 or k <= n * p:
        return 1.0  # at or below the mean: never evidence of degradation
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    total = 0.0
    for i in range(k, n + 1):
        term = math.exp(log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
        total += term
        if term < total * 1e-12:  # terms only shrink above the mean
            break
    return min(1.0, total)


def _expected(rate: str, today: ByDirection, baseline: ByDirection) -> tuple[float, float, int]:
    """(raw, smoothed) baseline rate at the day's direction mix, and the baseline volume."""
    numerator, denominator = RATES[rate]
    pooled_k = sum(numerator(v) for v in baseline.values())
    pooled_n = sum(denominator(v) for v in baseline.values())
    raw = smoothed = 0.0
    n_now = 0
    for direction, vector in today.items():
        n = denominator(vector)
        if not n:
            continue
        n_now += n
        base = baseline.get(direction)
        k0, n0 = (numerator(base), denominator(base)) if base is not None else (0, 0)
        if n0 < 10:  # too few calls in this direction for a rate of its own
            k0, n0 = pooled_k, pooled_n
        raw += n * (k0 / n0 if n0 else 0.0)
        smoothed += n * (k0 + 1) / (n0 + 2)
    return raw / n_now, smoothed / n_now, pooled_n


def evaluate_day(
    day: int,
    today: Mapping[tuple[str, str], ByDirection],
    baseline: Mapping[tuple[str, str], ByDirection],
    rule: AlertRule,
    *,
    skip: set[tuple[str, str, str]],
    samples: Mapping[tuple[str, str, str], list[str]],
    raised_at: datetime,
) -> list[QualityAlert]:
    """Alerts for one completed day. `skip` holds (dimension, value, rate) already alerted
    within the baseline window: a lasting degradation is reported once, not daily."""
    alerts = []
    for (dimension, value), by_direction in sorted(today.items()):
        base = baseline.get((dimension, value))
        if not base:
            continue
        for rate, (numerator, denominator) in RATES.items():
            if (dimension, value, rate) in skip:
                continue
            n_now = sum(denominator(v) for v in by_direction.values())
            if n_now < rule.min_volume:
                continue
            k_now = min(n_now, sum(numerator(v) for v in by_direction.values()))
            before, smoothed, n_before = _expected(rate, by_direction, base)
            if n_before < rule.min_volume:
                continue
            now = k_now / n_now
            if now <= before or now < rule.factor * before:
                continue
            p_value = binomial_tail(k_now, n_now, smoothed)
            if p_value > rule.max_p_value:
                continue
            alerts.append(
                QualityAlert(
                    day=day_date(day),
                    dimension=dimension,
                    value=value,
                    metric=rate,
                    rate_before=round(before, 4),
                    rate_now=round(now, 4),
                    count_now=k_now,
                    calls_now=n_now,
                    calls_before=n_before,
                    baseline_from=day_date(day - rule.baseline_days),
                    baseline_to=day_date(day - 1),
                    p_value=p_value,
                    sample_call_ids=list(samples.get((dimension, value, rate), ())),
                    raised_at=raised_at,
                )
            )
    return alerts
