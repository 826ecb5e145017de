"""Operations: Prometheus instruments and the state read at scrape time, structured logs
without personal data, and OpenTelemetry tracing (README "Operating it")."""

from __future__ import annotations

from contextsvc.telemetry.exposition import CONTENT_TYPE, ServiceMetrics, Telemetry
from contextsvc.telemetry.instruments import LATENCY_BUCKETS, BoundedLabel, Instruments, RequestHistogram
from contextsvc.telemetry.logs import REQUEST_ID, REQUEST_LOGGER, configure_logging, logging_config
from contextsvc.telemetry.recorders import IngestMetrics, commit_recorder, webhook_recorder
from contextsvc.telemetry.replica import ReplicaState
from contextsvc.telemetry.tracing import exporter_names, span_exporter, tracer_provider_from_env

__all__ = [
    "BoundedLabel",
    "commit_recorder",
    "configure_logging",
    "CONTENT_TYPE",
    "IngestMetrics",
    "Instruments",
    "LATENCY_BUCKETS",
    "logging_config",
    "REQUEST_ID",
    "REQUEST_LOGGER",
    "ReplicaState",
    "RequestHistogram",
    "ServiceMetrics",
    "Telemetry",
    "exporter_names",
    "span_exporter",
    "tracer_provider_from_env",
    "webhook_recorder",
]
