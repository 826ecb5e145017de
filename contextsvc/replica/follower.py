"""A follower's own context reads: identity and profile rows from the database, with local
caches (identity look-ups, profile states, the context memo) that the leader's change
messages keep current (replica/changes.py says when they may be trusted).

Each read fetches the freshness token first (one Redis round trip, shared by the reads
that arrive while one is on its way). Caches trusted: served from them, filled from the
database. Not trusted (no subscription, no leader vouching, the subscriber behind for
longer than `catch_up_s`): identity and profile straight from the database, so a Redis
restart or a lost message never serves a stale context; only segment definitions and
reachability inputs are then as last loaded.

The same subscription carries the leader's stream events into this worker's hub
(replica/events.py): GET /v1/events/stream is served from it on every worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.activation import EventHub
from contextsvc.context import ContextMemo, ContextReads, RenderedContext
from contextsvc.identity import LookupKey
from contextsvc.ingest import Picklist
from contextsvc.pipeline import ProfileCache, ProfileReads
from contextsvc.privacy import Disclosure
from contextsvc.reachability import Inputs, ReachabilityObserver
from contextsvc.replica.changes import CHANNEL, TOKEN, ChangeMessage, Freshness, Step, decode_message, parse_token
from contextsvc.replica.events import EVENTS_CHANNEL, decode_item, kept_events
from contextsvc.replica.identity import CachedIdentity, CommittedIdentity, IdentityCache
from contextsvc.segments import Segments
from contextsvc.store import replica_salt

log = logging.getLogger(__name__)
_EVENTS = EVENTS_CHANNEL.encode()


class ReplicaInputs:
    """Segment definitions and reachability inputs as last loaded from the database: what
    ContextReads labels and scores a context with. Replaced whole at each reload, with
    versions above the last ones (they are part of the memo key)."""

    def __init__(self, picklist: Picklist, new_inputs: Callable[[], Inputs]) -> None:
        self.picklist = picklist
        self.new_inputs = new_inputs
        self._segments = Segments(picklist, None)  # type: ignore[arg-type]  # read-only: never writes
        self._reach = ReachabilityObserver(new_inputs(), picklist, None)  # type: ignore[arg-type]
        self.leader_versions: tuple[int, ...] | None = None  # the leader's, when last loaded

    @property
    def view(self):  # SegmentSource
        return self._segments.view

    def for_day(self, day: int) -> Inputs:  # ReachabilitySource
        return self._reach.for_day(day)

    async def reload(self, engine: AsyncEngine, leader_versions: tuple[int, ...] | None) -> None:
        segments = Segments(self.picklist, None)  # type: ignore[arg-type]
        reach = ReachabilityObserver(self.new_inputs(), self.picklist, None)  # type: ignore[arg-type]
        segments.version = self._segments.version  # load() counts on from here
        reach.inputs.market_serial = self._reach.inputs.market_serial
        async with engine.connect() as conn:
            await conn.run_sync(reach.load)
            segments.reach = reach.inputs
            await conn.run_sync(segments.load)
        self._segments, self._reach = segments, reach
        self.leader_versions = leader_versions


class TokenReader:
    """The freshness token, read for a request only by a GET sent after it arrived (an
    earlier one could predate the write it must see); requests that arrive while a GET is
    on its way share the next one."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._inflight: asyncio.Future | None = None
        self._queued: asyncio.Future | None = None

    async def latest(self) -> tuple[str, int] | None:
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._get())
            self._inflight.add_done_callback(self._finished)
            return await asyncio.shield(self._inflight)
        if self._queued is None:
            self._queued = asyncio.ensure_future(self._after(self._inflight))
        return await asyncio.shield(self._queued)

    async def _after(self, previous: asyncio.Future) -> tuple[str, int] | None:
        await asyncio.wait([previous])
        me = self._queued
        self._queued = None
        self._inflight = me
        try:
            return await self._get()
        finally:
            if self._inflight is me:
                self._inflight = None

    def _finished(self, future: asyncio.Future) -> None:
        if self._inflight is future:
            self._inflight = None

    async def _get(self) -> tuple[str, int] | None:
        try:
            return parse_token(await self.redis.get(TOKEN))
        except Exception:  # Redis away: nobody vouches for the caches
            return None


class FollowerReads:
    """ContextReads on a follower: through the caches when the token says they hold every
    acknowledged write, else through the database."""

    def __init__(self, cached: ContextReads, through: ContextReads, replica: Replica) -> None:
        self.cached, self.through, self.replica = cached, through, replica
        self.served_cached = self.served_through = 0

    async def current(self) -> ContextReads:
        """The reads to serve one request with (its look-up and profile rows too)."""
        if await self.replica.caches_fresh():
            self.served_cached += 1
            return self.cached
        self.served_through += 1
        return self.through

    async def read(
        self, key: LookupKey, as_of: datetime, recent: int, max_tokens: int, disclosure: Disclosure
    ) -> RenderedContext:
        return await (await self.current()).read(key, as_of, recent, max_tokens, disclosure)


class Replica:
    """What a follower serves from: its caches, the subscription that keeps them current,
    and the reads over both."""

    def __init__(
        self,
        engine: AsyncEngine,
        sync_engine: Engine | None,
        redis: Redis,
        listening: Redis,
        picklist: Picklist,
        new_inputs: Callable[[], Inputs],
        cache_size: int,
        memo_size: int,
        catch_up_s: float = 0.5,
        silence_s: float = 3.0,
    ) -> None:
        self.engine, self.redis, self.listening = engine, redis, listening
        self.freshness = Freshness()
        self.inputs = ReplicaInputs(picklist, new_inputs)
        self.profile_cache = ProfileCache(cache_size)
        self.identity_cache = IdentityCache(cache_size)
        self.memo = ContextMemo(memo_size)
        self.identity = CachedIdentity(engine, self.identity_cache)
        self._profile_rows = ProfileReads(engine, sync_engine, ProfileCache(0), picklist)
        cached = ContextReads(
            self.identity,
            ProfileReads(engine, sync_engine, self.profile_cache, picklist),
            self.memo,
            self.inputs,
            self.inputs,
        )
        through = ContextReads(CommittedIdentity(engine), self._profile_rows, self.memo, self.inputs, self.inputs)
        self.reads = FollowerReads(cached, through, self)
        self.tokens = TokenReader(redis)
        self.events = EventHub()
        self.catch_up_s, self.silence_s = catch_up_s, silence_s
        self._progress = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.why_not_trusted = "not subscribed yet"
        self.applied = self.resyncs = 0  # change messages applied; caches dropped to catch up

    async def start(self) -> None:
        await self.inputs.reload(self.engine, None)
        self._task = asyncio.create_task(self._follow(), name="replica-subscriber")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._profile_rows.close()

    @property
    def trusted(self) -> bool:
        """Subscribed and following a leader's messages (reads may still wait for the
        subscriber to reach a token)."""
        return self.freshness.subscribed and self.freshness.epoch is not None

    def describe(self) -> str:
        if self.trusted:
            return "local, caches kept current by the leader's change messages"
        return f"local, reading through the database ({self.why_not_trusted})"

    async def caches_fresh(self) -> bool:
        freshness = self.freshness
        if not freshness.subscribed:
            return False
        token = await self.tokens.latest()
        deadline = time.monotonic() + self.catch_up_s
        while True:
            trusted = freshness.trusts(token)
            if trusted is not None:
                return trusted
            progress = self._progress
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(progress.wait(), remaining)
            except TimeoutError:
                return False

    # --- the subscription ---------------------------------------------------------------

    async def _follow(self) -> None:
        while True:
            try:
                async with self.listening.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL, EVENTS_CHANNEL)
                    # Subscribed first: an event sent meanwhile is both heard and kept, and
                    # the hub drops the second copy.
                    for item in await kept_events(self.redis):
                        self.events.push(item)
                    await self._resync(None)
                    await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away or silent: distrust, then subscribe again
                self._lose(f"the subscription to Redis failed: {type(exc).__name__}")
                await asyncio.sleep(0.5)

    async def _listen(self, pubsub) -> None:
        heard_at = time.monotonic()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=self.silence_s)
            if message is None:
                if time.monotonic() - heard_at >= self.silence_s:
                    raise TimeoutError("no change message or heartbeat from a leader")
                continue
            heard_at = time.monotonic()
            if message.get("type") != "message":
                continue
            if message["channel"] == _EVENTS:
                self.events.push(decode_item(message["data"]))
                continue
            change = decode_message(message["data"])
            if self.freshness.step(change) is Step.RESYNC:
                await self._resync(change)
            else:
                await self._apply(change)

    def _lose(self, why: str) -> None:
        if self.freshness.subscribed:
            log.warning("this worker stops trusting its caches: %s", why)
        self.freshness.lost()
        self.why_not_trusted = why

    def _drop_caches(self) -> None:
        self.profile_cache.publish({}, set())  # bumps its generation: no slow read refills
        self.profile_cache.clear()
        self.identity_cache.clear()
        self.memo.clear()

    async def _resync(self, change: ChangeMessage | None) -> None:
        """Drop every cache and start counting again from the message (or the token)."""
        self._lose("catching up with the leader")
        self.resyncs += 1
        self._drop_caches()
        self.identity.salt = await replica_salt(self.engine)
        versions = change.inputs if change is not None else None
        await self.inputs.reload(self.engine, versions)
        if change is not None:
            self.freshness.synced(change.epoch, change.seq)
        else:
            token = await self.tokens.latest()
            self.freshness.synced(*(token if token is not None else (None, -1)))
        self.why_not_trusted = "no leader has announced itself yet"
        self._advanced()

    async def _apply(self, change: ChangeMessage) -> None:
        if change.everything:
            self._drop_caches()
        elif change.people or change.keys:
            people = set(change.people)
            self.profile_cache.publish({}, people)
            self.identity_cache.invalidate(people, change.keys)
            if change.forget:
                self.memo.forget(people)
        if change.inputs != self.inputs.leader_versions:
            await self.inputs.reload(self.engine, change.inputs)
        self.freshness.applied_up_to(change.seq)
        self.applied += 1
        self._advanced()

    def _advanced(self) -> None:
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()
