"""The composition root: builds every component and wires it into one Litestar app."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import msgspec
from litestar import Litestar, MediaType, Response, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc import __version__
from contextsvc.activation.model import Occurrence
from contextsvc.api.activation import (
    ActivationsController,
    event_stream,
    guard_segment_rules,
)
from contextsvc.api.agent import AgentController
from contextsvc.api.auth import authenticate, parse_api_keys
from contextsvc.api.calls import CallsController
from contextsvc.api.context import ContextController
from contextsvc.api.dnc import DncController
from contextsvc.api.errors import EXCEPTION_HANDLERS
from contextsvc.api.individuals import IndividualsController
from contextsvc.api.insights import InsightsController, load_accounts
from contextsvc.api.mcp_server import build_mcp, mcp_handler
from contextsvc.api.quality import QualityController
from contextsvc.api.schema_export import openapi_30
from contextsvc.api.segments import SegmentsController
from contextsvc.api.serving import ContextReads
from contextsvc.api.system import health
from contextsvc.context.memo import ContextMemo
from contextsvc.delivery.stream import EventHub
from contextsvc.delivery.webhooks import WebhookDispatcher
from contextsvc.identity.graph import IdentityGraph
from contextsvc.identity.identifiers import InvalidIdentifier, normalise_phone
from contextsvc.ingest.dispositions import Picklist
from contextsvc.ingest.normalise import Normaliser
from contextsvc.quality import quality_rules
from contextsvc.reachability.block import Inputs
from contextsvc.reachability.rules import CallingRules
from contextsvc.quality.alerts import QualityAlert
from contextsvc.retention import RetentionPolicy
from contextsvc.settings import Settings
from contextsvc.store.activation import Activation
from contextsvc.store.cache import ProfileCache
from contextsvc.store.engine import (
    create_engine,
    create_schema,
    create_sqlite_read_engine,
)
from contextsvc.store.insights import InsightCounters
from contextsvc.store.maintenance import retention_loop
from contextsvc.store.observers import BatchObserver
from contextsvc.store.outbox import Backoff
from contextsvc.store.profiles import ProfileWriter
from contextsvc.store.quality import QualityObserver
from contextsvc.store.reachability import Reachability
from contextsvc.store.reads import ProfileReader
from contextsvc.store.segments import Segments, midnight_rolls
from contextsvc.store.writer import Writer
from contextsvc.timeutil import micros


def _shared_phones(settings: Settings) -> set[str]:
    phones = set()
    for raw in filter(None, (p.strip() for p in settings.shared_phones.split(","))):
        try:
            phones.add(normalise_phone(raw, settings.default_region).e164)
        except InvalidIdentifier as exc:
            raise SystemExit(f"CONTEXTSVC_SHARED_PHONES: {raw!r}: {exc.message}") from None
    return phones


def baseline_handler(payload: bytes):
    """A bare endpoint returning a fixed payload: the benchmark's yardstick."""

    @get("/bench/baseline", opt={"scope": "context:read"}, include_in_schema=False)
    async def baseline() -> Response[bytes]:
        return Response(payload, media_type=MediaType.JSON)

    return baseline


class SideBranches:
    """What hangs off the profile update: segments, activation (webhooks, SSE), insights,
    data-quality counters and alerts. Every writer of a database runs them, so no ingest
    path can bypass them."""

    def __init__(self, settings: Settings, picklist: Picklist) -> None:
        self.segments = Segments(picklist)
        self.activation = Activation(picklist)  # other producers: activation.emit(conn, Occurrence(...))
        self.segments.listeners.append(self.activation.on_transitions)
        self.segments.on_publish.append(self.activation.flush)
        self.hub = EventHub()
        self.activation.stream_listeners.append(self.hub.publish)
        self.insights = InsightCounters(picklist)
        # Reachability: DNC lists, account regions and market connect rates by local hour,
        # read by every context and by the segments that name reachability.* or signals.
        reach_inputs = Inputs(CallingRules.load(Path(settings.seed_dir) / "calling-rules.toml"),
                              settings.best_time_min_calls)
        self.reachability = Reachability(reach_inputs, picklist)
        self.segments.reach = reach_inputs
        self.reachability.on_inputs_changed.append(self.segments.reevaluate_inputs)
        self.quality = QualityObserver(*quality_rules(settings), publish=self._alerts_to_activation)
        # Activation last among producers' peers: its after_commit flushes what they emitted.
        self.observers: list[BatchObserver] = [self.segments, self.quality, self.activation, self.insights,
                                               self.reachability]

    def _alerts_to_activation(self, conn, alerts: list[QualityAlert]) -> None:
        """Data-quality alerts reach webhooks and the event stream as `quality_alert_raised`."""
        for alert in alerts:
            self.activation.emit(conn, Occurrence(
                "quality_alert_raised", "quality_alert", str(alert.id), micros(alert.raised_at),
                msgspec.to_builtins(alert),
            ))


def build_writer(
    settings: Settings, engine: AsyncEngine, picklist: Picklist, observers: list[BatchObserver] | None = None
) -> Writer:
    """The one Writer for a database (the API's, or a CLI's such as salesforce sync); by
    default with the standard side branches."""
    if observers is None:
        observers = SideBranches(settings, picklist).observers
    graph_factory = partial(
        IdentityGraph,
        shared_line_threshold=settings.shared_line_threshold,
        shared_phones=_shared_phones(settings),
    )
    return Writer(
        engine,
        graph_factory,
        ProfileWriter(picklist, settings.cache_size),
        ProfileCache(settings.cache_size),
        max_batch=settings.max_batch,
        commit_slice=settings.commit_slice,
        commit_window_ms=settings.commit_window_ms,
        observers=observers,
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    api_keys = parse_api_keys(settings.api_keys)
    picklist = Picklist.load(Path(settings.seed_dir) / "dispositions.toml")
    try:
        retention = RetentionPolicy.parse(settings.retention_days, settings.retention_rules)
    except ValueError as exc:
        raise SystemExit(f"CONTEXTSVC_RETENTION_*: {exc}") from None
    mcp = build_mcp()
    side = SideBranches(settings, picklist)
    _shared_phones(settings)  # a bad CONTEXTSVC_SHARED_PHONES stops start-up, not the first request

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Loop-bound resources are created here, on the app's own event loop.
        engine = create_engine(settings.database_url)
        await create_schema(engine)
        writer = build_writer(settings, engine, picklist, side.observers)
        await writer.start()
        # The identity graph just loaded is long-lived: move it out of the collector's
        # reach, or every full collection re-walks it (80 ms pauses at 200k objects).
        gc.collect()
        gc.freeze()
        reader = ProfileReader(engine, create_sqlite_read_engine(settings.database_url))
        app.state.engine, app.state.writer, app.state.reader = engine, writer, reader
        app.state.memo = ContextMemo(settings.context_memo_size)
        app.state.context_reads = ContextReads(writer, reader, app.state.memo, picklist, side.segments, settings,
                                               side.reachability)
        backoff = Backoff(settings.webhook_max_attempts, settings.webhook_retry_base_ms * 1000,
                          settings.webhook_retry_max_ms * 1000)
        app.state.dispatcher = WebhookDispatcher(engine, writer, side.activation, backoff, settings.webhook_timeout_s)
        background = [
            asyncio.create_task(midnight_rolls(writer, side.segments), name="segment-midnight"),
            asyncio.create_task(app.state.dispatcher.run(), name="webhook-dispatcher"),
        ]
        if retention.active:
            background.append(asyncio.create_task(
                retention_loop(writer, app.state.memo, retention, settings.retention_interval_seconds), name="retention"
            ))
        try:
            async with mcp.session_manager.run():
                yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await writer.stop()
            reader.close()
            await engine.dispose()

    handlers = [
        CallsController, ContextController, IndividualsController, AgentController, SegmentsController,
        ActivationsController, event_stream, InsightsController, load_accounts, QualityController, DncController,
        health, openapi_30,
        mcp_handler(mcp),
    ]
    if settings.bench_baseline_file:
        handlers.append(baseline_handler(Path(settings.bench_baseline_file).read_bytes()))
    return Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        before_request=authenticate,
        exception_handlers=EXCEPTION_HANDLERS,
        state=State(
            {
                "settings": settings,
                "api_keys": api_keys,
                "picklist": picklist,
                "normaliser": Normaliser(picklist, settings.default_region),
                "segments": side.segments,
                "segment_guards": [guard_segment_rules(side.activation)],  # run before a segment is deleted
                "activation": side.activation,
                "hub": side.hub,
                "insights": side.insights,
                "reachability": side.reachability,
            }
        ),
        openapi_config=OpenAPIConfig(title="contextsvc", version=__version__, path="/schema"),
        request_max_body_size=32 * 1024 * 1024,
        debug=False,
    )
