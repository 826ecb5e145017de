"""Segment membership equals brute force at every moment.

Random call streams (duplicates, newer and older versions, merges, accounts) go through
the real writer while a clock moves forward by random steps — within a day, across
midnights, weeks at once. After every step the stored membership of random segments must
equal evaluating each condition on every person's full context, assembled from a state
rebuilt from the call log at the clock's time (and, for account segments, on every
account's context rebuilt from the calls naming it). Contexts served through the read
path must list exactly the person's segments.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from contextsvc.calls import decode_call
from contextsvc.context import FULL, ContextReads
from contextsvc.context.assemble import assemble
from contextsvc.context.memo import ContextMemo
from contextsvc.identity.graph import IdentityGraph
from contextsvc.pipeline import ProfileReads
from contextsvc.pipeline.cache import ProfileCache
from contextsvc.pipeline.profiles import ProfileWriter
from contextsvc.pipeline.writer import Writer
from contextsvc.profile.facts import fact_from_call
from contextsvc.profile.state import build
from contextsvc.segments import tables as t
from contextsvc.segments.membership import Segments, _counts_of
from contextsvc.segments.model import Catalogs, SegmentSpec
from contextsvc.segments.views import AccountState, account_context
from contextsvc.store import tables as core
from contextsvc.store.engine import create_engine, create_read_engine, create_schema
from contextsvc.timeutil import day_of, micros
from tests.helpers import MERGING_WHO as WHO
from tests.helpers import MIXED_DISPOSITIONS as DISPOSITIONS
from tests.helpers import PICKLIST, examples
from tests.helpers import lenient_work as to_work

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
STAGES = ["Qualification", "Proposal/Price Quote", "Closed Won"]
ACCOUNTS = [None, "0015e00000ACC01", "0015e00000ACC02"]
CATALOGS = Catalogs(PICKLIST.codes).by_subject
# Always present besides the random ones: memberships that time alone changes often.
TIME_SENSITIVE = [
    {"attribute": "windows.7d.calls", "op": ">=", "value": 1},
    {
        "all": [
            {"attribute": "summary.days_since_last_call", "op": "<=", "value": 2},
            {"not": {"attribute": "signals", "op": "contains", "value": "high_intent"}},
        ]
    },
]
ACCOUNT_TIME_SENSITIVE = {"attribute": "trend.7d.calls_change", "op": "<", "value": 0}


def _comparison(subject: str):
    catalog = CATALOGS[subject]

    @st.composite
    def build(draw):
        attribute = catalog[draw(st.sampled_from(sorted(catalog)))]
        if attribute.kind == "set":
            choices = attribute.choices or tuple(STAGES)
            return {
                "attribute": attribute.name,
                "op": draw(st.sampled_from(["contains", "not_contains"])),
                "value": draw(st.sampled_from(choices)),
            }
        if attribute.kind == "bool":
            return {"attribute": attribute.name, "op": "=", "value": draw(st.booleans())}
        if attribute.kind == "text":
            choices = attribute.choices or tuple(c for c in DISPOSITIONS if c) + ("Initech", "Acme")
            op = draw(st.sampled_from(["=", "!=", "in", "not_in"]))
            value = draw(st.sampled_from(choices))
            return {"attribute": attribute.name, "op": op, "value": [value] if op.endswith("in") else value}
        value = draw(st.integers(-3, 8) if attribute.kind == "int" else st.sampled_from([-0.5, 0.0, 0.3, 1.0, 2.5]))
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "=", "!="]))
        return {"attribute": attribute.name, "op": op, "value": value}

    return build()


def conditions(subject: str):
    return st.recursive(
        _comparison(subject),
        lambda inner: st.one_of(
            st.builds(lambda parts: {"all": parts}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda parts: {"any": parts}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda part: {"not": part}, inner),
        ),
        max_leaves=4,
    )


# Calls land at most 100 days before the clock (never after it), so windows, trends and
# day counts all see movement as the clock advances.
call_strategy = st.fixed_dictionaries(
    {
        "call": st.integers(0, 20),
        "who": st.integers(0, len(WHO) - 1),
        "back_minutes": st.integers(0, 100 * 1440),
        "direction": st.sampled_from(["outbound", "outbound", "inbound"]),
        "disposition": st.sampled_from(DISPOSITIONS),
        "version": st.integers(0, 3),
        "stage": st.sampled_from([None, *STAGES]),
        "account": st.sampled_from(ACCOUNTS),
    }
)
step_strategy = st.tuples(
    st.sampled_from([0, 1, 7, 13 * 60, 24 * 60, 3 * 1440, 30 * 1440 + 7]),  # minutes the clock moves first
    st.lists(call_strategy, max_size=8),
)


def _event(c: dict, now: datetime) -> dict:
    related = {}
    if c["stage"]:
        related |= {"opportunity_id": "0065e00000OPP01", "opportunity_stage": c["stage"]}
    if c["account"]:
        related["account_id"] = c["account"]
    return {
        "call_id": f"c{c['call']}",
        "direction": c["direction"],
        "started_at": (now - timedelta(minutes=c["back_minutes"])).isoformat(),
        "duration_seconds": 300,
        "talk_seconds": 200,
        "disposition": c["disposition"],
        "who": WHO[c["who"]],
        "related": related,
        "updated_at": (START + timedelta(days=900, minutes=c["version"])).isoformat(),
    }


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def _stored_members(engine) -> dict[str, set[str]]:
    members: dict[str, set[str]] = {}
    async with engine.connect() as conn:
        for segment_id, member_id in await conn.execute(
            select(t.segment_members.c.segment_id, t.segment_members.c.member_id)
        ):
            members.setdefault(segment_id, set()).add(member_id)
    return members


async def _brute_force(engine, segments: Segments, now: datetime) -> tuple[dict[str, set[str]], dict]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(core.calls.c.individual_id, core.calls.c.body))).all()
    facts_of: dict[str, list] = {}
    accounts: dict[str, AccountState] = {}
    for individual_id, body in rows:
        call = decode_call(body)
        if individual_id:
            facts_of.setdefault(individual_id, []).append(fact_from_call(call, PICKLIST))
        if call.related.account_id:
            state = accounts.setdefault(call.related.account_id, AccountState(buckets={}))
            state.add(day_of(micros(call.started_at)), _counts_of(call, PICKLIST), 1)
    contexts = {i: assemble(i, build(f), now, 5) for i, f in facts_of.items()}
    expected: dict[str, set[str]] = {}
    for segment in segments.segments.values():
        if segment.subject == "individual":
            members = {i for i, context in contexts.items() if segment.predicate(context)}
        else:
            members = {a for a, s in accounts.items() if segment.predicate(account_context(a, s, day_of(micros(now))))}
        if members:
            expected[segment.id] = members
    return expected, contexts


async def scenario(people_conditions, account_condition, steps, url: str) -> None:
    engine = create_engine(url)
    await create_schema(engine)
    clock = Clock()
    cache = ProfileCache(1000)
    writer = Writer(engine, IdentityGraph, ProfileWriter(PICKLIST, 1000), cache, clock=clock)
    segments = Segments(PICKLIST, writer)
    writer.observe(segments)
    await writer.start()
    read_engine = create_read_engine(url)
    reads = ContextReads(writer, ProfileReads(engine, read_engine, cache, PICKLIST), ContextMemo(10), segments)

    async def define(subject: str, condition: dict) -> None:
        await segments.define(segments.prepare(SegmentSpec("s", condition, subject), micros(clock.now)))

    try:
        await define("individual", people_conditions[0])
        for number, (minutes, calls) in enumerate(steps):
            clock.now += timedelta(minutes=minutes)
            if calls:
                await writer.submit([to_work(_event(c, clock.now)) for c in calls])
            else:  # time passes with no ingest: a read brings membership to the new day
                await segments.current(micros(clock.now))
            if number == 1:  # later definitions start from the calls already there
                for condition in people_conditions[1:] + TIME_SENSITIVE:
                    await define("individual", condition)
                for condition in (account_condition, ACCOUNT_TIME_SENSITIVE):
                    await define("account", condition)
            expected, contexts = await _brute_force(engine, segments, clock.now)
            assert await _stored_members(engine) == expected, f"after step {number} at {clock.now}"
            for individual_id in contexts:
                served = await reads.context(individual_id, clock.now, 5, 300, FULL)
                listed = {s["id"] for s in msgspec.json.decode(served.json(clock.now))["segments"]}
                assert listed == {s for s, members in expected.items() if individual_id in members}
    finally:
        if read_engine is not None:
            read_engine.dispose()
        await writer.stop()
        await engine.dispose()


@settings(
    max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    st.lists(conditions("individual"), min_size=3, max_size=3),
    conditions("account"),
    st.lists(step_strategy, min_size=3, max_size=7),
)
def test_membership_equals_brute_force_over_every_context_at_random_times(databases, people, account, steps):
    with databases.fresh() as url:
        asyncio.run(scenario(people, account, steps, url))
