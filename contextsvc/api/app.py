"""The composition root: builds every component and wires it into one Litestar app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from litestar import Litestar, MediaType, Response, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig

from contextsvc import __version__
from contextsvc.api.auth import parse_api_keys, require_scope
from contextsvc.api.calls import CallsController
from contextsvc.api.context import ContextController
from contextsvc.api.errors import EXCEPTION_HANDLERS
from contextsvc.api.individuals import IndividualsController
from contextsvc.api.quality import QualityController
from contextsvc.api.system import health
from contextsvc.context.memo import ContextMemo
from contextsvc.identity.graph import IdentityGraph
from contextsvc.identity.identifiers import InvalidIdentifier, normalise_phone
from contextsvc.ingest.dispositions import Picklist
from contextsvc.ingest.normalise import Normaliser
from contextsvc.quality import quality_rules
from contextsvc.settings import Settings
from contextsvc.store.cache import ProfileCache
from contextsvc.store.engine import create_engine, create_schema, create_sqlite_read_engine
from contextsvc.store.observers import BatchObserver
from contextsvc.store.profiles import ProfileWriter
from contextsvc.store.quality import QualityObserver
from contextsvc.store.reads import ProfileReader
from contextsvc.store.writer import Writer


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


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    api_keys = parse_api_keys(settings.api_keys)
    picklist = Picklist.load(Path(settings.seed_dir) / "dispositions.toml")
    # Side branches off the profile update (segments, activation, data quality) register here.
    observers: list[BatchObserver] = []
    # Data quality: counters and degradation alerts. Its sinks receive each committed batch's
    # new alerts (stored already); activation targets plug in there.
    quality = QualityObserver(*quality_rules(settings))
    observers.append(quality)
    graph_factory = partial(
        IdentityGraph,
        shared_line_threshold=settings.shared_line_threshold,
        shared_phones=_shared_phones(settings),
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Loop-bound resources are created here, on the app's own event loop.
        engine = create_engine(settings.database_url)
        await create_schema(engine)
        writer = Writer(
            engine,
            graph_factory,
            ProfileWriter(picklist, settings.cache_size),
            ProfileCache(settings.cache_size),
            max_batch=settings.max_batch,
            commit_window_ms=settings.commit_window_ms,
            observers=observers,
        )
        await writer.start()
        reader = ProfileReader(engine, create_sqlite_read_engine(settings.database_url))
        app.state.engine, app.state.writer, app.state.reader = engine, writer, reader
        app.state.memo = ContextMemo(settings.context_memo_size)
        try:
            yield
        finally:
            await writer.stop()
            reader.close()
            await engine.dispose()

    handlers = [CallsController, ContextController, IndividualsController, QualityController, health]
    if settings.bench_baseline_file:
        handlers.append(baseline_handler(Path(settings.bench_baseline_file).read_bytes()))
    return Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        guards=[require_scope],
        exception_handlers=EXCEPTION_HANDLERS,
        state=State(
            {
                "settings": settings,
                "api_keys": api_keys,
                "picklist": picklist,
                "normaliser": Normaliser(picklist, settings.default_region),
            }
        ),
        openapi_config=OpenAPIConfig(title="contextsvc", version=__version__, path="/schema"),
        request_max_body_size=32 * 1024 * 1024,
        debug=False,
    )
