"""The composition root: every part of the service built from the settings, in the order
the parts need, and `open_service`, which opens a running service (engine, schema,
writer, read path, and optionally the background jobs) and closes it again.

The HTTP app, every CLI command, the simulator's demo seeding and the benchmarks open
the service here, so each runs the same writer with the same side branches and no
ingest path can bypass them. A new side branch is one line in `SideBranches`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import requests
from opentelemetry.trace import Tracer
from redis.asyncio import Redis
from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.activation import Activation, Backoff, EventHub, Occurrence, OutboundPolicy, WebhookDispatcher
from contextsvc.context import ContextMemo, ContextReads
from contextsvc.identity import IdentityGraph, InvalidIdentifier, PeopleSearch, normalise_phone
from contextsvc.ingest import IntakeLimits, ItemResult, Normaliser, Picklist, Work
from contextsvc.insights import InsightCounters
from contextsvc.pipeline import (
    REBUILD_NEEDED,
    ErasureReport,
    ProfileCache,
    ProfileReads,
    ProfileWriter,
    RebuildReport,
    RetentionPolicy,
    RetentionReport,
    Writer,
    erase,
    key_fingerprint,
    purge_expired,
    rebuild_profiles,
    retention_loop,
)
from contextsvc.quality import AlertRule, Plausibility, QualityAlert, QualityObserver, recount_operation
from contextsvc.ratelimit import KeyRates, RateLimiter, RedisTokenBuckets, TokenBuckets, parse_key_rates
from contextsvc.reachability import CallingRules, Inputs, ReachabilityObserver
from contextsvc.replica import ChangePublisher, EventRelay, Replica
from contextsvc.salesforce import SalesforceApi, SalesforceDeliverer, SalesforceJob, SalesforceSync
from contextsvc.segments import Segments, midnight_rolls
from contextsvc.settings import Settings
from contextsvc.store import (
    WriterLease,
    create_engine,
    create_read_engine,
    ensure_schema,
    metadata,
    replica_salt,
    tables,
)
from contextsvc.telemetry import IngestMetrics, ServiceMetrics, Telemetry, commit_recorder, webhook_recorder
from contextsvc.timeutil import DAY_US, micros

# Every package that keeps data defines its tables on the shared metadata; the packages
# imported above bring theirs, so every database gets the whole schema whoever opens it.

log = logging.getLogger(__name__)


def load_picklist(settings: Settings) -> Picklist:
    return Picklist.load(Path(settings.seed_dir) / "dispositions.toml")


def shared_phones(settings: Settings) -> set[str]:
    """CONTEXTSVC_SHARED_PHONES as E.164 numbers; a bad entry stops start-up, not a request."""
    phones = set()
    for raw in filter(None, (p.strip() for p in settings.shared_phones.split(","))):
        try:
            phones.add(normalise_phone(raw, settings.default_region).e164)
        except InvalidIdentifier as exc:
            raise SystemExit(f"CONTEXTSVC_SHARED_PHONES: {raw!r}: {exc.message}") from None
    return phones


def retention_policy(settings: Settings) -> RetentionPolicy:
    try:
        return RetentionPolicy.parse(settings.retention_days, settings.retention_rules)
    except ValueError as exc:
        raise SystemExit(f"CONTEXTSVC_RETENTION_*: {exc}") from None


def quality_rules(settings: Settings) -> tuple[Plausibility, AlertRule]:
    limits = Plausibility(settings.quality_future_skew_seconds * 1_000_000, settings.quality_max_age_days * DAY_US)
    rule = AlertRule(
        settings.quality_alert_factor,
        settings.quality_min_volume,
        settings.quality_baseline_days,
        settings.quality_max_p_value,
    )
    return limits, rule


def key_rates(settings: Settings) -> dict[str, int]:
    """CONTEXTSVC_KEY_RATE_LIMITS parsed; a bad entry stops start-up."""
    try:
        return parse_key_rates(settings.key_rate_limits)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


class RateLimits:
    """Every rate limit the API applies, per caller: find_person searches, masked lookups
    by phone or email, and each key's own request limit. In this process's memory, or in
    Redis when CONTEXTSVC_REDIS_URL is set, so that every worker counts against the same
    buckets."""

    def __init__(self, settings: Settings) -> None:
        self.redis: Redis | None = None
        if settings.redis_url:
            # Short timeouts: a limit check must not hold a request for long when Redis is
            # away (each process then counts on its own for a while: ratelimit/shared.py).
            self.redis = Redis.from_url(settings.redis_url, socket_timeout=0.1, socket_connect_timeout=0.1)
        self.search: RateLimiter = self._buckets("search", settings.search_rate_per_minute)
        self.lookup: RateLimiter = self._buckets("lookup", settings.lookup_rate_per_minute)
        self.keys = KeyRates(key_rates(settings), lambda per_minute: self._buckets("key", per_minute))

    def _buckets(self, name: str, per_minute: int) -> RateLimiter:
        if self.redis is None:
            return TokenBuckets(per_minute)
        return RedisTokenBuckets(self.redis, f"contextsvc:rate:{name}:{per_minute}", per_minute)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def reachability_inputs(settings: Settings) -> Inputs:
    """Empty reachability inputs under the configured calling rules (loaded from the database later)."""
    rules = CallingRules.load(Path(settings.seed_dir) / "calling-rules.toml")
    return Inputs(rules, settings.best_time_min_calls)


def replica_redis(settings: Settings, *, listening: bool = False) -> Redis:
    """A connection pool for change messages and freshness tokens: short timeouts (a commit
    and a read wait for them); `listening`, for the subscription, none on reads."""
    if listening:
        return Redis.from_url(settings.redis_url, socket_connect_timeout=0.25)
    return Redis.from_url(settings.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)


def build_writer(settings: Settings, engine: AsyncEngine, picklist: Picklist, tracer: Tracer | None = None) -> Writer:
    """The one Writer of a database, without side branches (SideBranches adds them)."""
    graph_factory = partial(
        IdentityGraph,
        shared_line_threshold=settings.shared_line_threshold,
        shared_phones=shared_phones(settings),
    )
    return Writer(
        engine,
        graph_factory,
        ProfileWriter(picklist, settings.cache_size),
        ProfileCache(settings.cache_size),
        max_batch=settings.max_batch,
        commit_slice=settings.commit_slice,
        commit_window_ms=settings.commit_window_ms,
        quarantine_budget_bytes=settings.quarantine_budget_bytes,
        tracer=tracer,
    )


class SideBranches:
    """What hangs off the profile update: segments, activation (webhooks, SSE), insights,
    data-quality counters and alerts. Each sees every batch inside its transaction, in the
    order below; activation comes after the producers whose events it flushes."""

    def __init__(self, settings: Settings, picklist: Picklist, writer: Writer, events: EventHub | None = None) -> None:
        self.segments = Segments(picklist, writer)
        self.quality = QualityObserver(*quality_rules(settings), publish=self._alerts_to_activation)
        outbound = OutboundPolicy(settings.outbound_allow, settings.outbound_allow_http)
        self.activation = Activation(picklist, writer, self.segments, outbound)
        self.insights = InsightCounters(picklist)
        # `events`: a hub fed through Redis by whichever worker leads (several workers),
        # which this one's events reach that way too (_event_relay).
        self.hub = events or EventHub()
        if events is None:
            self.activation.stream_listeners.append(self.hub.publish)
        # DNC lists, account regions and market connect rates by local hour: read by every
        # context and by the segments that name reachability.* (re-evaluated when they change).
        self.reachability = ReachabilityObserver(reachability_inputs(settings), picklist, writer)
        self.segments.reach = self.reachability.inputs
        self.reachability.on_inputs_changed.append(self.segments.reevaluate_inputs)
        self.reachability.after_inputs_changed.append(self.segments.publish)
        writer.observe(self.segments, self.quality, self.activation, self.insights, self.reachability)

    def _alerts_to_activation(self, conn: Connection, alerts: list[QualityAlert]) -> None:
        """Data-quality alerts reach webhooks and the event stream as `quality_alert_raised`."""
        for alert in alerts:
            self.activation.emit(
                conn,
                Occurrence(
                    "quality_alert_raised",
                    "quality_alert",
                    str(alert.id),
                    micros(alert.raised_at),
                    msgspec.to_builtins(alert),
                ),
            )


class Service:
    """Everything the HTTP handlers, MCP tools, CLI commands and jobs use: one typed object
    per running service, built by `open_service`."""

    __slots__ = (
        "settings",
        "picklist",
        "normaliser",
        "intake",
        "engine",
        "writer",
        "profiles",
        "reads",
        "people",
        "limits",
        "branches",
        "dispatcher",
        "salesforce",
        "metrics",
    )

    def __init__(
        self,
        settings: Settings,
        picklist: Picklist,
        engine: AsyncEngine,
        writer: Writer,
        profiles: ProfileReads,
        branches: SideBranches,
        salesforce_session: Callable[[], requests.Session] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.settings = settings
        self.picklist = picklist
        self.normaliser = Normaliser(picklist, settings.default_region)
        # What a body the API receives may be (the Salesforce sync sets its own: its
        # versions are Salesforce's clock, not ours).
        self.intake = IntakeLimits(settings.quarantine_item_bytes, future_skew_s=settings.ingest_max_future_seconds)
        self.engine = engine
        self.writer = writer
        self.profiles = profiles
        self.branches = branches
        memo = ContextMemo(settings.context_memo_size)
        self.reads = ContextReads(writer, profiles, memo, branches.segments, branches.reachability, tracer)
        self.people = PeopleSearch(engine, settings.default_region)
        self.limits = RateLimits(settings)
        backoff = Backoff(
            settings.webhook_max_attempts, settings.webhook_retry_base_ms * 1000, settings.webhook_retry_max_ms * 1000
        )
        self.dispatcher = WebhookDispatcher(engine, writer, branches.activation, backoff, settings.webhook_timeout_s)
        self.salesforce = SalesforceJob(settings, engine, self.salesforce_sync, salesforce_session)
        if self.salesforce.state.configured:  # activation rules may then create Tasks and publish events
            self.dispatcher.add_deliverer("salesforce", SalesforceDeliverer(settings, salesforce_session))
        self.metrics: ServiceMetrics | None = None  # /metrics, when the service was opened with instruments

    async def ingest(self, work: list[Work]) -> list[ItemResult]:
        """Commit the work through the writer; answers once all of it is durable."""
        return await self.writer.submit(work)

    async def load_markets(self, rows: list[dict]) -> None:
        """Accounts' market attributes (insights), in one writer transaction with what they
        change: a region can name people's time zone, which segments may read."""
        insights, reachability = self.branches.insights, self.branches.reachability

        def load(conn: Connection) -> None:
            insights.set_markets(conn, rows)
            reachability.markets_changed(conn, micros(datetime.now(UTC)))

        await self.writer.run(load)
        self.branches.segments.publish()

    async def erase(self, individual_id: str, presented_key: str) -> ErasureReport:
        """Right to erasure, in order with ingest; the memo forgets the person too."""
        operation = erase(individual_id, key_fingerprint(presented_key), self.settings.default_region)
        report: ErasureReport = await self.writer.run_exclusive(operation)
        self.reads.forget(set(report.erased_ids))
        return report

    async def rebuild(self, individual_id: str | None = None) -> RebuildReport:
        """One person's profile (or everyone's) recomputed from the call log, in order with ingest."""
        report: RebuildReport = await self.writer.run_exclusive(rebuild_profiles(individual_id))
        if individual_id is None:
            self.reads.memo.clear()
        else:
            self.reads.forget({individual_id})
        return report

    async def recount_quality(self) -> int:
        """The data-quality counters recounted from the call log, in order with ingest."""
        counted: int = await self.writer.run_exclusive(recount_operation(quality_rules(self.settings)[0]))
        return counted

    async def purge_expired(self, policy: RetentionPolicy) -> RetentionReport:
        report: RetentionReport = await self.writer.run_exclusive(purge_expired(policy))
        if report.calls:
            self.reads.memo.clear()  # entries of touched people are unreachable now; free them
        return report

    async def finish_migrations(self) -> None:
        """A migration that added something the stored calls must teach (store/migrations)
        left a marker: rebuild everyone now, through the writer, before serving."""
        markers = tables.markers
        async with self.engine.connect() as conn:
            needed = (await conn.execute(select(markers.c.value).where(markers.c.name == REBUILD_NEEDED))).first()
        if needed:
            log.warning("a schema migration needs what the stored calls teach: rebuilding every profile now")
            report = await self.rebuild()
            log.warning("rebuilt %d profiles from the call log", report.profiles)

    def salesforce_sync(self, api: SalesforceApi, **options: Any) -> SalesforceSync:
        """A Salesforce pull that submits through this service's writer."""
        lookback_s = self.settings.salesforce_lookback_s
        intake = IntakeLimits(self.settings.quarantine_item_bytes, future_skew_s=None)
        return SalesforceSync(
            api, self.engine, self.writer, self.normaliser, lookback_s=lookback_s, intake=intake, **options
        )

    def jobs(self) -> list[asyncio.Task]:
        """The server's background work: midnight segment rolls, webhook delivery, the
        Salesforce sync when credentials are set, the retention schedule when a policy is.
        Cancelled by `open_service` on close."""
        tasks = [
            asyncio.create_task(midnight_rolls(self.branches.segments), name="segment-midnight"),
            asyncio.create_task(self.dispatcher.run(), name="webhook-dispatcher"),
        ]
        if self.salesforce.state.configured:
            tasks.append(asyncio.create_task(self.salesforce.run(), name="salesforce-sync"))
        policy = retention_policy(self.settings)
        if policy.active:
            interval = self.settings.retention_interval_seconds
            tasks.append(asyncio.create_task(retention_loop(self.purge_expired, policy, interval), name="retention"))
        return tasks


def engine_for(settings: Settings) -> AsyncEngine:
    """An engine on the configured database, nothing more (the caller disposes of it)."""
    return create_engine(settings.database_url)


@asynccontextmanager
async def open_database(settings: Settings, *, upgrade: bool | None = None) -> AsyncIterator[AsyncEngine]:
    """The database alone, its schema at the newest revision (created when empty, upgraded
    or refused when old: store/migrate.py): for reads that need no writer."""
    engine = engine_for(settings)
    try:
        await ensure_schema(engine, metadata, upgrade=upgrade)
        yield engine
    finally:
        await engine.dispose()


async def lease_free(settings: Settings) -> None:
    """Return once nobody holds the database's writer lease: a standby server waiting for
    the writer to go (kill -9 included: the OS or the database ends the lease with the
    process). The lease is not kept: `open_service` takes it, or meets the next standby's."""
    poll_s = min(max(settings.leader_timeout_s / 10, 0.05), 1.0)
    engine = engine_for(settings)
    lease = WriterLease(engine)
    try:
        while not await lease.try_acquire():
            await asyncio.sleep(poll_s)
        await lease.release()
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_service(
    settings: Settings,
    *,
    jobs: bool = False,
    salesforce_session: Callable[[], requests.Session] | None = None,
    telemetry: Telemetry | None = None,
    events: EventHub | None = None,
) -> AsyncIterator[Service]:
    """A running service over settings.database_url: schema created, writer started with
    the side branches, and with `jobs` the background work. Closes everything on exit,
    after the writer has committed what was queued. `telemetry` (the HTTP app's) adds
    metrics and tracing; without it nothing is measured. `events`: the stream's hub when
    it is fed through Redis (a worker among several)."""
    picklist = load_picklist(settings)
    retention_policy(settings)  # a bad policy stops start-up, not the first scheduled purge
    telemetry = telemetry or Telemetry()
    instruments = telemetry.instruments
    async with open_database(settings) as engine:
        writer = build_writer(settings, engine, picklist, telemetry.tracer)
        branches = SideBranches(settings, picklist, writer, events)
        if instruments is not None:
            writer.observe(IngestMetrics(instruments))
            writer.commit_listeners.append(commit_recorder(instruments))
        await writer.start()
        profiles = ProfileReads(engine, create_read_engine(settings.database_url), writer.cache, picklist)
        service = Service(settings, picklist, engine, writer, profiles, branches, salesforce_session, telemetry.tracer)
        if instruments is not None:
            service.dispatcher.attempt_listeners.append(webhook_recorder(instruments, settings.webhook_max_attempts))
            service.metrics = ServiceMetrics(
                instruments, writer, service.reads.memo, branches.hub, branches.segments, engine, service.salesforce
            )
        await service.finish_migrations()
        publisher = await _change_publisher(settings, engine, writer, branches) if settings.standby else None
        relay = await _event_relay(settings, branches) if settings.standby else None
        background = service.jobs() if jobs else []
        try:
            yield service
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await writer.stop()
            if relay is not None:  # after the writer: its last events go out too
                await relay.stop()
                await relay.redis.aclose()
            if publisher is not None:
                await publisher.stop()
                await publisher.redis.aclose()
            profiles.close()
            await service.limits.close()
            if service.metrics is not None:
                service.metrics.close()


async def _change_publisher(
    settings: Settings, engine: AsyncEngine, writer: Writer, branches: SideBranches
) -> ChangePublisher | None:
    """On a leader among several workers with Redis: every commit told to the followers'
    caches before it is answered (replica/publisher.py)."""
    if not settings.redis_url:
        return None
    salt = await replica_salt(engine, create=True)
    assert salt is not None

    def inputs() -> tuple[int, ...]:
        return (branches.segments.version, *branches.reachability.inputs.version)

    publisher = ChangePublisher(replica_redis(settings), salt, inputs)
    writer.announcers.append(publisher.announce)
    await publisher.start()
    return publisher


async def _event_relay(settings: Settings, branches: SideBranches) -> EventRelay | None:
    """On a leader among several workers with Redis: stream events to every worker's hub
    (replica/events.py)."""
    if not settings.redis_url:
        return None
    relay = EventRelay(replica_redis(settings))
    branches.activation.stream_listeners.append(relay.publish)
    await relay.start()
    return relay


class FollowerService:
    """What a follower serves by itself (a person's context, daily series and identity),
    with the faces of Service those routes use: settings, rate limits (shared through
    Redis), the database, context reads."""

    __slots__ = ("settings", "limits", "reads", "replica", "engine")

    def __init__(self, settings: Settings, replica: Replica) -> None:
        self.settings = settings
        self.limits = RateLimits(settings)
        self.replica = replica
        self.reads = replica.reads
        self.engine = replica.engine


@asynccontextmanager
async def open_replica(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FollowerService]:
    """A follower's own context reads over `engine` (the caller's), its caches kept current
    by the leader's change messages in Redis (replica/follower.py)."""
    redis, listening = replica_redis(settings), replica_redis(settings, listening=True)
    replica = Replica(
        engine,
        create_read_engine(settings.database_url),
        redis,
        listening,
        load_picklist(settings),
        partial(reachability_inputs, settings),
        settings.cache_size,
        settings.context_memo_size,
    )
    follower = FollowerService(settings, replica)
    try:
        await replica.start()
        yield follower
    finally:
        await replica.close()
        await follower.limits.close()
        await redis.aclose()
        await listening.aclose()
