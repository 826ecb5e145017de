"""The served context equals a from-scratch recomputation from the call log.

Random streams of calls — duplicates, newer and older versions, out-of-order arrival,
identities that merge — go through the real writer (identity resolution, group commit,
incremental profiles, cache). Then, for random as_of values including window
boundaries, the context served from the cache and from the stored profile must equal
the one assembled from a state rebuilt from the calls table.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from contextsvc.calls import decode_call
from contextsvc.context import FULL, ContextMemo, ContextReads
from contextsvc.context.assemble import assemble
from contextsvc.context.prompt import render
from contextsvc.identity.graph import IdentityGraph
from contextsvc.pipeline import ProfileReads
from contextsvc.pipeline.cache import ProfileCache
from contextsvc.pipeline.profiles import ProfileWriter
from contextsvc.pipeline.writer import Writer
from contextsvc.profile.facts import fact_from_call
from contextsvc.profile.state import build
from contextsvc.store import tables as t
from contextsvc.store.engine import create_engine, create_read_engine, create_schema
from contextsvc.timeutil import micros
from tests.helpers import MERGING_WHO as WHO
from tests.helpers import MIXED_DISPOSITIONS as DISPOSITIONS
from tests.helpers import PICKLIST, examples
from tests.helpers import lenient_work as to_work

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

event_strategy = st.builds(
    lambda call, who, day, minute, direction, disposition, version, talk, stage: {
        "call_id": f"c{call}",
        "direction": direction,
        "started_at": (T0 + timedelta(days=day, minutes=minute)).isoformat(),
        "duration_seconds": 600,
        "talk_seconds": talk,
        "disposition": disposition,
        "who": WHO[who],
        "related": {"opportunity_id": "0065e00000OPP01", "opportunity_stage": stage} if stage else {},
        "updated_at": (T0 + timedelta(days=300, minutes=version)).isoformat(),
    },
    st.integers(0, 25),  # few call ids: duplicates and new versions are common
    st.integers(0, len(WHO) - 1),
    st.integers(0, 120),
    st.integers(0, 1439),
    st.sampled_from(["outbound", "outbound", "inbound"]),
    st.sampled_from(DISPOSITIONS),
    st.integers(0, 3),  # version: same, newer or older than what is stored
    st.integers(0, 600),
    st.sampled_from([None, "Qualification", "Proposal/Price Quote"]),
)


async def scenario(events: list[dict], cuts: list[int], probes: list[int], url: str) -> None:
    engine = create_engine(url)
    await create_schema(engine)
    cache = ProfileCache(1000)
    writer = Writer(engine, IdentityGraph, ProfileWriter(PICKLIST, 1000), cache)
    await writer.start()
    read_engine = create_read_engine(url)
    try:
        work = [to_work(e) for e in events]
        bounds = sorted({0, len(work), *[c % (len(work) + 1) for c in cuts]})
        # Batches go in concurrently, so group commit mixes them as it likes.
        await asyncio.gather(*(writer.submit(work[a:b]) for a, b in itertools.pairwise(bounds) if b > a))
        async with engine.connect() as conn:
            rows = (await conn.execute(select(t.calls.c.individual_id, t.calls.c.body))).all()
            stored = {r[0]: r[1] for r in await conn.execute(select(t.profiles.c.individual_id, t.profiles.c.state))}
        calls_of: dict[str, list] = {}
        for individual_id, body in rows:
            if individual_id:
                calls_of.setdefault(individual_id, []).append(fact_from_call(decode_call(body), PICKLIST))
        assert set(stored) == set(calls_of), "one profile per person with calls, none for merged-away people"
        last = max(f.started_at for facts in calls_of.values() for f in facts) if calls_of else micros(T0)
        for individual_id, facts in calls_of.items():
            assert writer.graph.survivor(individual_id) == individual_id
            memo = ContextMemo(1000)  # shared across probes: later ones may hit earlier entries
            for probe in probes:
                for as_of in _same_day(_as_of(probe, last)):
                    oracle = build(f for f in facts if f.started_at <= micros(as_of))
                    expected = assemble(individual_id, oracle, as_of, 50)
                    expected.prompt, expected.prompt_tokens = render(expected, 300)
                    cold = ProfileCache(10)  # the stored row, not the writer's cache
                    for served_cache in (cache, cold):
                        profiles = ProfileReads(engine, read_engine, served_cache, PICKLIST)
                        reads = ContextReads(writer, profiles, memo, None)
                        served = await reads.context(individual_id, as_of, 50, 300, FULL)
                        assert msgspec.json.decode(served.json(as_of)) == msgspec.to_builtins(expected)
                        assert served.prompt_at(as_of) == expected.prompt
    finally:
        if read_engine is not None:
            read_engine.dispose()
        await writer.stop()
        await engine.dispose()


def _same_day(as_of: datetime) -> list[datetime]:
    """as_of, then later moments of the same UTC day: a memoised context must fit them all."""
    end = as_of.replace(hour=23, minute=59, second=59, microsecond=999_999)
    return [as_of, as_of + (end - as_of) / 2, end]


def _as_of(probe: int, last_us: int) -> datetime:
    """Probes: after the newest call, on window edges (midnight, 7/30/90 days on), or
    in the past (which serves from the call log)."""
    last = datetime.fromtimestamp(last_us / 1e6, UTC)
    midnight = last.replace(hour=0, minute=0, second=0, microsecond=0)
    choices = [
        last,
        last + timedelta(hours=3),
        midnight + timedelta(days=7),
        midnight + timedelta(days=7) - timedelta(microseconds=1),
        midnight + timedelta(days=30),
        midnight + timedelta(days=90, hours=12),
        midnight + timedelta(days=200),
        last - timedelta(days=10),
        T0 + timedelta(days=60, hours=5),
    ]
    return choices[probe % len(choices)]


@settings(max_examples=examples(50), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(event_strategy, min_size=1, max_size=40),
    st.lists(st.integers(0, 100), max_size=5),
    st.lists(st.integers(0, 100), min_size=1, max_size=4),
)
def test_served_context_equals_recomputation_from_the_call_log(databases, events, cuts, probes):
    with databases.fresh() as url:
        asyncio.run(scenario(events, cuts, probes, url))
