"""The app factory: the HTTP layer over the running service the composition root opens
(contextsvc/service.py). Routes, auth, error translation, OpenAPI, MCP, and the request
side of operations (request ids, metrics, request logs, traces): nothing else."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import requests
from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.types import ControllerRouterHandler, Scope
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc import __version__
from contextsvc.api.activation import ActivationsController, event_stream
from contextsvc.api.admin import AdminController
from contextsvc.api.agent import AgentController
from contextsvc.api.auth import authenticate, parse_api_keys
from contextsvc.api.calls import CallsController
from contextsvc.api.content import require_json
from contextsvc.api.context import ContextController
from contextsvc.api.daily import daily_calls
from contextsvc.api.demo import demo_console
from contextsvc.api.dnc import DncController
from contextsvc.api.errors import EXCEPTION_HANDLERS, document_errors
from contextsvc.api.fast_context import ContextFastPath
from contextsvc.api.forward import LeaderDirectory, LeaderForwarding, served_by_followers
from contextsvc.api.individuals import IndividualsController
from contextsvc.api.insights import InsightsController, load_accounts
from contextsvc.api.internal import internal_listener
from contextsvc.api.mcp_server import build_mcp, mcp_handler
from contextsvc.api.metrics import metrics_handler
from contextsvc.api.observe import RequestObserver
from contextsvc.api.probes import live, ready
from contextsvc.api.quality import QualityController
from contextsvc.api.schema_export import openapi_30
from contextsvc.api.segments import SegmentsController
from contextsvc.api.serving import within_key_rate
from contextsvc.api.system import health
from contextsvc.service import (
    engine_for,
    key_rates,
    lease_free,
    open_replica,
    open_service,
    retention_policy,
    shared_phones,
)
from contextsvc.settings import Settings
from contextsvc.store import DatabaseHeld, register_leader
from contextsvc.telemetry import Instruments, ReplicaState, Telemetry, tracer_provider_from_env

log = logging.getLogger(__name__)


def baseline_handler(payload: bytes) -> ControllerRouterHandler:
    """A bare endpoint returning a fixed payload: the benchmark's yardstick."""

    @get("/bench/baseline", opt={"scope": "context:read"}, include_in_schema=False)
    async def baseline() -> Response[bytes]:
        return Response(payload, media_type=MediaType.JSON)

    return baseline


async def before_request(request: Request) -> None:
    """Every HTTP handler: the key and its scope (401/403), then a JSON body (415)."""
    await authenticate(request)
    require_json(request)


async def before_request_rate_limited(request: Request) -> None:
    """The same, then the key's own request limit (429): installed only when a limit is
    set, so that without one no request pays for the check."""
    await authenticate(request)
    await within_key_rate(request)
    require_json(request)


def _span_details(scope: Scope) -> tuple[str, dict]:
    """The request span's first name: the method alone. The raw path can hold a phone
    number or an email; api/observe.py renames the span to the route template."""
    return str(scope.get("method") or scope["type"]), {}


async def _stopped_within(stopping: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        return False
    return True


def tracing_plugin(provider: TracerProvider) -> OpenTelemetryPlugin:
    return OpenTelemetryPlugin(
        OpenTelemetryConfig(
            tracer_provider=provider,
            scope_span_details_extractor=_span_details,
            exclude_spans=["receive", "send"],  # one span per request, not three
        )
    )


def create_app(
    settings: Settings | None = None,
    *,
    salesforce_session: Callable[[], requests.Session] | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Litestar:
    """`salesforce_session`: a requests session factory for the Salesforce client (tests
    hand in one that trusts their fake's CA); None: the client's own. `tracer_provider`:
    tests pass one with an in-memory exporter; otherwise OTEL_* decides
    (contextsvc/telemetry/tracing.py) and, unset, nothing is traced."""
    settings = settings or Settings.from_env()
    api_keys = parse_api_keys(settings.api_keys)
    # Bad settings stop start-up here, not at the first request or the first purge.
    shared_phones(settings)
    retention_policy(settings)
    rate_limited = any(per_minute > 0 for per_minute in key_rates(settings).values())
    if settings.access_log not in ("errors", "all", "off"):
        raise SystemExit(f"CONTEXTSVC_ACCESS_LOG must be errors, all or off, not {settings.access_log!r}")
    own_provider = tracer_provider is None
    provider = tracer_provider_from_env() if own_provider else tracer_provider
    instruments = Instruments() if settings.metrics else None
    telemetry = Telemetry(instruments, provider.get_tracer("contextsvc") if provider else None)
    mcp = build_mcp()

    @asynccontextmanager
    async def serving(app: Litestar) -> AsyncIterator[None]:
        # Loop-bound resources are created here, on the app's own event loop.
        follower = getattr(app.state, "follower", None)  # its hub carries every worker's events
        async with open_service(
            settings,
            jobs=True,
            salesforce_session=salesforce_session,
            telemetry=telemetry,
            events=follower.replica.events if follower is not None else None,
        ) as service:
            app.state.service = service
            # The identity graph just loaded is long-lived: move it out of the collector's
            # reach, or every full collection re-walks it (80 ms pauses at 200k objects).
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                del app.state.service

    async def lead(app: Litestar, stopping: asyncio.Event) -> None:
        """Wait for the writer lease, then lead until the app stops: serve, and take the
        other workers' requests on the internal listener. Another worker may take the
        lease first: then wait again."""
        check_s = min(max(settings.leader_timeout_s / 10, 0.05), 1.0)
        while True:
            try:
                await lease_free(settings)
                async with serving(app), internal_listener(app, settings) as address:
                    writer = app.state.service.writer
                    await register_leader(app.state.service.engine, address)
                    log.warning("the writer lease was free: this worker leads now (followers hand it %s)", address)
                    # Lead while the lease is ours: a session PostgreSQL ended (terminated, its
                    # connection lost) freed the lock for another worker, so this one steps
                    # down to follow within check_s instead of leading beside it.
                    while not await _stopped_within(stopping, check_s):
                        if not await writer.holds_lease():
                            log.error("this worker lost the writer lease: it steps down and follows")
                            break
                    else:
                        return
            except DatabaseHeld:
                continue
            except Exception:  # the database away while waiting or taking over: try again
                log.exception("this worker could not take over the writer; trying again")
                await asyncio.sleep(1)

    @asynccontextmanager
    async def _following(app: Litestar, engine: AsyncEngine) -> AsyncIterator[None]:
        """With Redis, a worker answers context reads itself while it follows (its caches
        follow the leader's change messages); without, it hands them to the leader too."""
        if not settings.redis_url:
            yield
            return
        async with open_replica(settings, engine) as follower:
            app.state.follower = follower
            state = ReplicaState(follower.replica, leading=lambda: hasattr(app.state, "service"))
            if instruments is not None:
                instruments.registry.register(state)
            try:
                yield
            finally:
                if instruments is not None:
                    instruments.registry.unregister(state)
                del app.state.follower

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if settings.standby:
            stopping = asyncio.Event()
            engine = engine_for(settings)
            forwarding.directory = LeaderDirectory(engine)
            # No proxy from the environment (that is for outbound webhooks and Salesforce):
            # the hop to the leader carries API keys and event streams.
            forwarding.client = httpx.AsyncClient(
                timeout=httpx.Timeout(None, connect=2.0),
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=2.0),
                trust_env=False,
            )
            leading = asyncio.create_task(lead(app, stopping), name="leader-election")
            try:
                async with mcp.session_manager.run(), _following(app, engine):
                    yield
            finally:
                stopping.set()
                if not hasattr(app.state, "service"):  # still following: nothing to close
                    leading.cancel()
                await asyncio.gather(leading, return_exceptions=True)
                await forwarding.client.aclose()
                forwarding.client = forwarding.directory = None
                await engine.dispose()
        else:
            async with serving(app), mcp.session_manager.run():
                yield
        if provider is not None and own_provider:
            provider.shutdown()  # send the spans still buffered

    handlers: list[ControllerRouterHandler] = [
        CallsController,
        ContextController,
        IndividualsController,
        AgentController,
        SegmentsController,
        ActivationsController,
        event_stream,
        InsightsController,
        load_accounts,
        QualityController,
        AdminController,
        health,
        live,
        ready,
        openapi_30,
        DncController,
        mcp_handler(mcp, rate_limited),
        demo_console,
        daily_calls,  # the browser demo (/demo) and the per-day series its chart draws
    ]
    if instruments is not None:
        handlers.append(metrics_handler(settings.metrics_key, instruments.registry))
    if settings.bench_baseline_file:
        handlers.append(baseline_handler(Path(settings.bench_baseline_file).read_bytes()))
    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        before_request=before_request_rate_limited if rate_limited else before_request,
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({"api_keys": api_keys}),
        openapi_config=OpenAPIConfig(title="contextsvc", version=__version__, path="/schema"),
        request_max_body_size=32 * 1024 * 1024,
        plugins=[tracing_plugin(provider)] if provider else [],
        # Logging is the process's (contextsvc/telemetry/logs.py); Litestar's default would
        # replace the root handler with its own format when the app is built.
        logging_config=None,
        debug=False,
    )
    document_errors(app)
    if settings.standby:  # a worker among several: followers hand requests to the leader
        if settings.internal_host in ("0.0.0.0", "::", "") and not settings.advertise_host:
            raise SystemExit(
                f"CONTEXTSVC_INTERNAL_HOST={settings.internal_host!r} is no address the other workers can reach: "
                "set CONTEXTSVC_ADVERTISE_HOST to this host's address"
            )
        forwarding = LeaderForwarding(
            app.asgi_handler,
            lambda: hasattr(app.state, "service"),
            lambda scope: hasattr(app.state, "follower") and served_by_followers(scope),
        )
        app.asgi_handler = app.state.forwarding = forwarding
    if instruments is not None or settings.access_log != "off" or provider is not None:
        # Around the whole ASGI handler (Litestar builds it at init: exception handling,
        # routing, the tracing middleware), so 404s of unknown routes are seen too.
        app.asgi_handler = observer = RequestObserver(
            app.asgi_handler,
            instruments.http_duration if instruments else None,
            access_log=settings.access_log,
            slow_request_ms=settings.slow_request_ms,
            traced=provider is not None,
        )
    else:
        observer = None
    if provider is None:  # traced, every request goes through the framework and its spans
        app.asgi_handler = ContextFastPath(app.asgi_handler, app.state, api_keys, observer, rate_limited)
    return app
