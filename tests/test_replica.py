"""A follower's caches and what it may trust of them (contextsvc/replica): the order of the
leader's change messages, the identity cache's invalidation, the freshness token's reads,
look-ups from committed rows answering exactly as the leader's identity graph does, and
stream events reaching every worker's hub through Redis."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from sqlalchemy import select

from contextsvc.activation import ChangeEvent, EventHub, item_of
from contextsvc.identity.graph import IdentityGraph
from contextsvc.pipeline import Announcement
from contextsvc.pipeline.cache import ProfileCache
from contextsvc.pipeline.profiles import ProfileWriter
from contextsvc.pipeline.writer import Writer
from contextsvc.replica import ChangeMessage, EventRelay, Freshness, IdentityCache, Step, committed_lookup, key_digest
from contextsvc.replica.changes import decode_message, encode_message, parse_token
from contextsvc.replica.events import EVENTS_CHANNEL, decode_item, kept_events
from contextsvc.replica.follower import TokenReader
from contextsvc.store import tables as t
from contextsvc.store.engine import create_engine, create_schema
from tests.helpers import MERGING_WHO, PICKLIST, examples
from tests.helpers import lenient_work as to_work

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


# --- the order of change messages -----------------------------------------------------------


def test_a_follower_trusts_its_caches_only_up_to_what_it_applied():
    freshness = Freshness()
    assert freshness.trusts(("e1", 0)) is False  # not subscribed yet
    freshness.synced("e1", 4)
    assert freshness.trusts(("e1", 4)) is True
    assert freshness.trusts(("e1", 3)) is True
    assert freshness.trusts(("e1", 5)) is None  # a write it has not heard of yet: wait
    assert freshness.trusts(("e2", 0)) is None  # a new leader's: wait for its first word
    assert freshness.trusts(None) is False  # nobody vouches (Redis away, no leader)
    assert freshness.step(ChangeMessage("e1", 5)) is Step.APPLY
    freshness.applied_up_to(5)
    assert freshness.trusts(("e1", 5)) is True
    freshness.lost()
    assert freshness.trusts(("e1", 5)) is False


def test_a_missed_message_or_a_new_leader_makes_a_follower_drop_everything():
    freshness = Freshness()
    freshness.synced("e1", 4)
    assert freshness.step(ChangeMessage("e1", 4)) is Step.APPLY  # already counted: harmless again
    assert freshness.step(ChangeMessage("e1", 6)) is Step.RESYNC  # 5 never came
    assert freshness.step(ChangeMessage("e1", 4, beat=True)) is Step.APPLY
    assert freshness.step(ChangeMessage("e1", 5, beat=True)) is Step.RESYNC  # the beat says 5 was sent
    assert freshness.step(ChangeMessage("e2", 0, beat=True)) is Step.RESYNC


def test_change_messages_and_tokens_round_trip():
    message = ChangeMessage("e1", 7, people=("ind_1",), keys=(b"k" * 12,), forget=True, inputs=(1, 2, 3))
    assert decode_message(encode_message(message)) == message
    assert parse_token(b"ab12:42") == ("ab12", 42)
    assert parse_token(None) is None and parse_token(b"garbage") is None


def test_identifier_digests_depend_on_the_deployments_secret():
    assert key_digest(1, "phone", "+14155550100") == key_digest(1, "phone", "+14155550100")
    assert key_digest(1, "phone", "+14155550100") != key_digest(2, "phone", "+14155550100")
    assert key_digest(1, "phone", "+14155550100") != key_digest(1, "email", "+14155550100")


# --- the identity cache ---------------------------------------------------------------------


def test_the_identity_cache_forgets_what_a_change_names():
    cache = IdentityCache(10)
    cache.fill(b"phone", ["ind_a"], cache.generation)
    cache.fill(b"email", ["ind_a"], cache.generation)
    cache.fill(b"other", ["ind_b"], cache.generation)
    cache.fill(b"unknown", [], cache.generation)  # not cached: the first link would not say so
    assert cache.get(b"unknown") is None
    cache.invalidate({"ind_a"}, ())  # merged away or changed: every key that named them
    assert cache.get(b"phone") is None and cache.get(b"email") is None
    assert cache.get(b"other") == ("ind_b",)
    cache.invalidate((), [b"other"])  # a new link on that key (a second owner of a number)
    assert cache.get(b"other") is None and len(cache) == 0


def test_a_slow_look_up_cannot_reinstall_what_a_change_invalidated():
    cache = IdentityCache(10)
    started = cache.generation
    cache.invalidate({"ind_a"}, ())
    cache.fill(b"phone", ["ind_a"], started)
    assert cache.get(b"phone") is None


def test_the_identity_cache_is_bounded():
    cache = IdentityCache(3)
    for i in range(10):
        cache.fill(bytes([i]), [f"ind_{i}"], cache.generation)
    assert len(cache) == 3 and cache.get(bytes([9])) == ("ind_9",) and cache.get(bytes([0])) is None
    cache.invalidate({f"ind_{i}" for i in range(10)}, ())
    assert len(cache) == 0 and cache._keys_of == {}


# --- the freshness token -------------------------------------------------------------------


class _SlowRedis:
    """GET answers what the token was when the GET was sent, after a delay."""

    def __init__(self) -> None:
        self.token = b"e:0"
        self.gets = 0

    async def get(self, _key: str) -> bytes:
        self.gets += 1
        sent_with = self.token
        await asyncio.sleep(0.01)
        return sent_with


async def test_a_read_uses_only_a_token_fetched_after_it_arrived_and_reads_share_one():
    redis = _SlowRedis()
    reader = TokenReader(redis)  # type: ignore[arg-type]
    first = asyncio.ensure_future(reader.latest())
    await asyncio.sleep(0.001)  # that GET is on its way
    redis.token = b"e:1"  # a write acknowledged now: a read from here on must see 1
    later = [asyncio.ensure_future(reader.latest()) for _ in range(50)]
    assert await first == ("e", 0)
    assert {await read for read in later} == {("e", 1)}
    assert redis.gets == 2  # fifty reads, one GET between them


# --- look-ups from committed rows ------------------------------------------------------------

# Merging identities, and numbers two people share (a shared line's owners).
WHO = [
    *MERGING_WHO,
    {"phone": "+14155550100", "first_name": "Sam", "last_name": "Lee"},
    {"phone": "+14155550111", "first_name": "Ann", "last_name": "Kay", "email": "ann@kay.org"},
    {"phone": "+14155550122", "first_name": "Ann", "last_name": "Kay"},
    {"phone": "+14155550122", "first_name": "Tom", "last_name": "Ray"},
]

events = st.lists(
    st.builds(
        lambda call, who, minute: {
            "call_id": f"c{call}",
            "direction": "outbound",
            "started_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "disposition": "interested",
            "who": WHO[who],
        },
        st.integers(0, 40),
        st.integers(0, len(WHO) - 1),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=40,
)


async def _lookups_agree(calls: list[dict], cuts: list[int], url: str) -> None:
    engine = create_engine(url)
    await create_schema(engine)
    writer = Writer(engine, IdentityGraph, ProfileWriter(PICKLIST, 100), ProfileCache(100))
    announced: list[Announcement] = []

    async def hear(announcement: Announcement) -> None:
        announced.append(announcement)

    writer.announcers.append(hear)
    await writer.start()
    try:
        work = [to_work(e) for e in calls]
        bounds = sorted({0, len(work), *[c % (len(work) + 1) for c in cuts]})
        await asyncio.gather(*(writer.submit(work[a:b]) for a, b in itertools.pairwise(bounds) if b > a))
        async with engine.connect() as conn:
            keys = set((await conn.execute(select(t.identifiers.c.kind, t.identifiers.c.value))).all())
            ids = set((await conn.execute(select(t.individuals.c.id))).scalars())
        keys = {(kind, value) for kind, value in keys if kind in ("phone", "email", "salesforce_id")}
        unknown = {("phone", "+14155559999"), ("individual_id", "ind_" + "0" * 20)}
        for kind, value in sorted(keys | unknown | {("individual_id", i) for i in ids}):
            assert await committed_lookup(engine, kind, value) == writer.graph.lookup(kind, value), (kind, value)
        # Every identifier newly linked was announced, and every changed person.
        assert keys <= {key for a in announced for key in a.linked}
        people = set().union(*(a.people for a in announced))
        assert ids <= people
    finally:
        await writer.stop()
        await engine.dispose()


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events, st.lists(st.integers(0, 100), max_size=4))
def test_look_ups_from_committed_rows_answer_as_the_identity_graph_does(databases, calls, cuts):
    with databases.fresh() as url:
        asyncio.run(_lookups_agree(calls, cuts, url))


# --- the event stream across workers ------------------------------------------------------------


def _event(n: int) -> ChangeEvent:
    return ChangeEvent(f"uuid-{n}", "dnc", "call_flagged", T0, "Call", f"c{n}", {"n": n}, None, "rule-1")


async def _events_after(hub: EventHub, last_event_id: str | None, count: int) -> list[str]:
    stream = hub.subscribe(last_event_id)
    assert (await anext(stream))["comment"] == "connected"
    ids = [(await asyncio.wait_for(anext(stream), 2))["id"] for _ in range(count)]
    await stream.aclose()
    return ids


async def test_a_hub_passes_each_event_on_once_and_replays_the_newest_it_keeps():
    hub = EventHub(keep=3)
    for n in (1, 2, 2, 3, 1, 4):  # heard twice: a replay from Redis after a reconnection
        hub.push(item_of(_event(n)))
    assert await _events_after(hub, "uuid-2", 2) == ["uuid-3", "uuid-4"]
    assert hub.push(item_of(_event(4))) is False and hub.push(item_of(_event(5))) is True


async def test_stream_events_wait_for_redis_and_reach_every_worker_in_order(redis_server):
    """The leader's events outlive a Redis outage in its memory, go out in order once Redis
    is back, and Redis keeps the newest `keep` for replays on any worker."""
    redis = Redis.from_url(redis_server.url, socket_timeout=0.25, socket_connect_timeout=0.25)
    relay = EventRelay(redis, keep=4, retry_s=0.05)
    await relay.start()
    try:
        redis_server.stop()
        for n in range(3):
            relay.publish(_event(n))
        await asyncio.sleep(0.3)
        assert len(relay.pending) == 3  # not sent, not lost
        redis_server.start()
        for _ in range(100):
            if not relay.pending:
                break
            await asyncio.sleep(0.05)
        assert [uuid for uuid, _, _ in await kept_events(redis)] == ["uuid-0", "uuid-1", "uuid-2"]
        listening = Redis.from_url(redis_server.url)
        async with listening.pubsub() as pubsub:
            await pubsub.subscribe(EVENTS_CHANNEL)
            for n in range(3, 6):
                relay.publish(_event(n))
            heard: list[str] = []
            deadline = time.monotonic() + 5
            while len(heard) < 3 and time.monotonic() < deadline:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:  # None: nothing, or the subscription's confirmation
                    heard.append(decode_item(message["data"])[0])
        await listening.aclose()
        assert heard == ["uuid-3", "uuid-4", "uuid-5"]
        assert [uuid for uuid, _, _ in await kept_events(redis)] == ["uuid-2", "uuid-3", "uuid-4", "uuid-5"]
    finally:
        await relay.stop()
        await redis.aclose()
