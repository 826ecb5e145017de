"""The quality counters kept on ingest equal a recount from the call log, whatever the mix
of new calls, replaced versions, duplicates, conflicting replays and quarantined items."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from contextsvc.identity.graph import IdentityGraph
from contextsvc.ingest.intake import prepare
from contextsvc.ingest.normalise import Normaliser
from contextsvc.pipeline.cache import ProfileCache
from contextsvc.pipeline.profiles import ProfileWriter
from contextsvc.pipeline.writer import Writer
from contextsvc.quality import tables as t
from contextsvc.quality.alerts import binomial_tail
from contextsvc.quality.metrics import METRICS, Plausibility, day_number
from contextsvc.quality.monitor import QualityObserver
from contextsvc.quality.reads import quality_report
from contextsvc.quality.recount import recount
from contextsvc.store.engine import create_engine, create_schema
from tests.helpers import PICKLIST, T0, call_event, examples

NORMALISER = Normaliser(PICKLIST)
# Report ranges around the calls (days 2026-10-31 .. 2026-11-03): within a month, across month
# ends, whole months, and whole months with days either side.
RANGES = [
    (date(2026, 11, 1), date(2026, 11, 2)),
    (date(2026, 10, 31), date(2026, 11, 3)),
    (date(2026, 10, 1), date(2026, 12, 31)),
    (date(2026, 10, 15), date(2026, 12, 2)),
    (date(2026, 11, 1), date(2026, 11, 30)),
    (date(2026, 10, 31), date(2026, 11, 30)),
    (date(2026, 11, 1), date(2026, 12, 2)),
    (date(2026, 10, 1), date(2026, 11, 2)),
]

versions = st.fixed_dictionaries(
    {
        "call": st.integers(0, 5),
        "version": st.integers(0, 3),  # updated_at offset in minutes: replays, stale and newer
        "day": st.integers(-2, 1),
        "rep": st.sampled_from(["rep-1", "rep-2", None]),
        "queue": st.sampled_from(["sales", None]),
        "disposition": st.sampled_from(["interested", "Left VM", "shrug", None]),
        "who": st.sampled_from(["sfid", "phone", "none", "bad_phone"]),
        "duration": st.booleans(),
        "when": st.sampled_from(["normal", "future", "ancient"]),
        "broken": st.integers(0, 9),  # 0: missing direction -> quarantine
    }
)

WHO = {
    "sfid": {"salesforce_id": "0035g00000AbCdEAAV", "last_name": "Smith"},
    "phone": {"phone": "(212) 555-0142", "first_name": "Bob", "last_name": "Smith"},
    "none": {},
    "bad_phone": {"phone": "12"},
}


def body(op: dict) -> bytes:
    started = T0 + timedelta(days=op["day"])
    if op["when"] == "future":
        started = T0 + timedelta(days=30)
    elif op["when"] == "ancient":
        started = T0 - timedelta(days=3000)
    event = call_event(
        f"c{op['call']}",
        who=WHO[op["who"]],
        rep_id=op["rep"],
        queue=op["queue"],
        disposition=op["disposition"],
        started_at=started.isoformat(),
        updated_at=(T0 + timedelta(minutes=op["version"])).isoformat(),
    )
    event = {k: v for k, v in event.items() if v is not None}
    if not op["duration"]:
        event.pop("duration_seconds")
        event.pop("talk_seconds")
    if op["broken"] == 0:
        event.pop("direction")
    return msgspec.json.encode(event)


async def ingest_and_recount(batches: list[list[dict]], url: str):
    engine = create_engine(url)
    await create_schema(engine)
    limits = Plausibility()
    writer = Writer(
        engine, IdentityGraph, ProfileWriter(PICKLIST, 100), ProfileCache(100), clock=lambda: T0 + timedelta(hours=12)
    )
    writer.observe(QualityObserver(limits))
    await writer.start()
    for batch in batches:
        # admin-style lenient intake: unmapped dispositions and bad phones are stored and flagged
        await writer.submit([prepare(body(op), NORMALISER, strict=False, channel="test") for op in batch])
    await writer.stop()

    def counters(conn) -> dict:
        c = t.quality_counts.c
        rows = conn.execute(select(c.dimension, c.day, c.value, c.direction, *(c[m] for m in METRICS)))
        found = {tuple(row[:4]): tuple(row[4:]) for row in rows if any(row[4:])}
        r = t.quality_rejects.c
        rejects = {
            tuple(row[:4]): row[4]
            for row in conn.execute(select(r.dimension, r.day, r.value, r.reason, r.rejected))
            if row[4]
        }
        m = t.quality_monthly.c
        months = {
            tuple(row[:3]): tuple(row[3:])
            for row in conn.execute(select(m.dimension, m.month, m.value, *(m[x] for x in METRICS)))
            if any(row[3:])
        }
        return found, rejects, months

    def reports(conn) -> list:
        """The report (whole months from the roll-up) next to a sum of the daily rows."""
        out = []
        c = t.quality_counts.c
        for first, last in RANGES:
            report = quality_report(conn, first, last, "rep")
            daily = conn.execute(
                select(c.value, *(func.sum(c[x]) for x in METRICS))
                .where(c.dimension == "rep", c.day.between(day_number(first), day_number(last)))
                .group_by(c.value)
            )
            expected = {value: [int(n) for n in counts] for value, *counts in daily if any(counts)}
            found = {row.group: [row.counts[x] for x in METRICS] for row in report.groups if any(row.counts.values())}
            out.append((found, expected))
        return out

    async with engine.connect() as conn:
        incremental = await conn.run_sync(counters)
        sums = await conn.run_sync(reports)
        await conn.run_sync(recount, limits)
        recounted = await conn.run_sync(counters)
    await engine.dispose()
    return incremental, recounted, sums


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(versions, min_size=1, max_size=6), min_size=1, max_size=6))
def test_incremental_counters_equal_a_recount_from_the_call_log(databases, batches):
    with databases.fresh() as url:
        incremental, recounted, sums = asyncio.run(ingest_and_recount(batches, url))
    assert incremental == recounted
    for found, expected in sums:
        assert found == expected


def test_binomial_tail_matches_the_exact_sum():
    from math import comb

    for n, p in ((10, 0.1), (40, 0.25), (200, 0.02)):
        for k in range(n + 1):
            exact = sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
            assert abs(binomial_tail(k, n, p) - exact) <= 1e-9 + (1.0 if k <= n * p else 1e-6 * exact)
