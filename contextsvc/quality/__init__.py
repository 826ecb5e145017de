"""Data quality: counters of what is wrong with the calls we ingest, and degradation alerts."""

from __future__ import annotations

from contextsvc.quality.alerts import AlertRule
from contextsvc.quality.metrics import Plausibility
from contextsvc.settings import Settings
from contextsvc.timeutil import DAY_US


def quality_rules(settings: Settings) -> tuple[Plausibility, AlertRule]:
    limits = Plausibility(settings.quality_future_skew_seconds * 1_000_000, settings.quality_max_age_days * DAY_US)
    rule = AlertRule(
        settings.quality_alert_factor, settings.quality_min_volume, settings.quality_baseline_days, settings.quality_max_p_value
    )
    return limits, rule
