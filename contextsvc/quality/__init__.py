"""Data quality: counters of what is wrong with the calls we ingest, kept on ingest and
recountable from the call log, degradation alerts, and the report."""

from __future__ import annotations

from contextsvc.quality.alerts import AlertRule, QualityAlert
from contextsvc.quality.metrics import METRICS, Plausibility
from contextsvc.quality.monitor import QualityObserver
from contextsvc.quality.reads import alerts_by_metric, quality_alerts, quality_report
from contextsvc.quality.recount import recount, recount_operation
from contextsvc.quality.report import GroupBy, QualityReport
from contextsvc.quality.table import report_table

__all__ = [
    "alerts_by_metric",
    "AlertRule",
    "GroupBy",
    "METRICS",
    "Plausibility",
    "QualityAlert",
    "QualityObserver",
    "QualityReport",
    "quality_alerts",
    "quality_report",
    "recount",
    "recount_operation",
    "report_table",
]
