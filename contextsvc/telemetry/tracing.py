"""Traces: OpenTelemetry, off unless the standard OTEL_* variables ask for an exporter.

On when OTEL_TRACES_EXPORTER names one (`otlp`, `console`, or any installed exporter's
entry point), or when OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
is set (then `otlp`); off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. `otlp`
is OTLP over HTTP/protobuf (the exporter shipped); the SDK reads the rest of its settings
(endpoint, headers, OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES) itself. Off, nothing is installed: no middleware, no spans.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import entry_points

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from contextsvc import __version__

_GROUP = "opentelemetry_traces_exporter"
_ALIASES = {"otlp": "otlp_proto_http"}  # the OTLP exporter installed here speaks HTTP


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [name.strip() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    if not names and (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        names = ["otlp"]
    return [name for name in names if name != "none"]


def span_exporter(name: str) -> SpanExporter:
    """The exporter an OTEL_TRACES_EXPORTER name stands for, by its entry point."""
    for candidate in (name, _ALIASES.get(name)):
        found = entry_points(group=_GROUP, name=candidate) if candidate else ()
        for entry in found:
            exporter: SpanExporter = entry.load()()
            return exporter
    known = sorted({entry.name for entry in entry_points(group=_GROUP)} | set(_ALIASES))
    raise SystemExit(f"OTEL_TRACES_EXPORTER: no exporter {name!r} is installed (known: {', '.join(known)})")


def tracer_provider_from_env(environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """The service's tracer provider as OTEL_* configures it, or None: tracing is off."""
    env = os.environ if environ is None else environ
    names = exporter_names(env)
    if not names:
        return None
    attributes = {"service.version": __version__}
    if not env.get("OTEL_SERVICE_NAME") and "service.name=" not in env.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.name"] = "contextsvc"
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(span_exporter(name)))
    return provider
