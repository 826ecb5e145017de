"""Traces: off unless OTEL_* configures an exporter; when on, a request's span (named by
its route template, no raw path), the writer commit it waited for, the context assembly."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from contextsvc.api.app import create_app
from contextsvc.telemetry import exporter_names, span_exporter, tracer_provider_from_env
from tests.helpers import READER, WRITER, call_event

PHONE = "(212) 555-0142"


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, []),
        ({"OTEL_SERVICE_NAME": "contextsvc"}, []),  # naming the service exports nothing
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, []),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_tracing_is_on_only_when_otel_variables_ask_for_an_exporter(environ, names):
    assert exporter_names(environ) == names
    provider = tracer_provider_from_env(environ)
    assert (provider is not None) == bool(names)
    if provider is not None:
        provider.shutdown()


def test_exporters_come_from_their_entry_points():
    assert isinstance(span_exporter("console"), ConsoleSpanExporter)
    assert isinstance(span_exporter("otlp"), OTLPSpanExporter)  # OTLP over HTTP, the one shipped
    with pytest.raises(SystemExit, match="no exporter 'zipkin'"):
        span_exporter("zipkin")


async def test_spans_for_the_request_its_commit_and_the_context_assembly(settings_for):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings_for(), tracer_provider=provider)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with AsyncTestClient(app=app) as api:
        posted = await api.post("/v1/calls", json=call_event("c1"), headers={**WRITER, "traceparent": parent})
        assert posted.status_code == 201
        assert (await api.get(f"/v1/context/{PHONE}", headers=READER)).status_code == 200
    spans = {span.name: span for span in exporter.get_finished_spans()}

    post, submit, commit = spans["POST /v1/calls"], spans["writer.submit"], spans["writer.commit"]
    assert post.kind == SpanKind.SERVER
    assert format(post.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace
    assert submit.parent.span_id == post.context.span_id
    assert commit.parent.span_id == submit.context.span_id  # the commit it waited for, in its trace
    assert commit.attributes["contextsvc.items"] == 1
    read, assembled = spans["GET /v1/context/{lookup}"], spans["context.assemble"]
    assert assembled.parent.span_id == read.context.span_id
    assert read.attributes["http.route"] == "/v1/context/{lookup}"
    everything = " ".join(
        [span.name for span in spans.values()] + [str(v) for span in spans.values() for v in span.attributes.values()]
    )
    # No phone, no name: the path is a template. (Not "555" alone: an id's hex may hold it.)
    assert not [trace for trace in ("2125550142", "555-0142", "Smith") if trace in everything]


async def test_nothing_is_traced_without_a_provider(api):
    # No OTEL_* in the test environment: no plugin, and the writer gets no tracer.
    with pytest.raises(KeyError):
        api.app.plugins.get("OpenTelemetryPlugin")
    assert api.app.state.service.writer._tracer is None
    assert api.app.state.service.reads.tracer is None
