"""Builders shared by the tests."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import strategies as st
from sqlalchemy import text

from contextsvc.calls import Person
from contextsvc.identity import IdentityGraph
from contextsvc.ingest import CallEvent, CallWork, Normaliser, Picklist
from contextsvc.pipeline import BatchChanges, BatchObserver
from contextsvc.profile import CallFact
from contextsvc.settings import REPO_ROOT
from contextsvc.store import create_engine

ADMIN = {"Authorization": "Bearer admin-key"}
WRITER = {"X-API-Key": "writer-key"}
READER = {"Authorization": "Bearer reader-key"}
KEYS = "admin-key,writer-key:calls:write,reader-key:context:read"

# The session's databases (tests/conftest.py sets it): SQLite files or a throwaway PostgreSQL.
DATABASES: Any = None
# The run's backend, set by tests/conftest.py before any test module is imported.
BACKEND = "sqlite"


def examples(n: int) -> int:
    """How many examples a property test that writes to the database draws: all of them on
    SQLite; a third on PostgreSQL, where the same logic runs and what is new is the SQL
    (every example a database of its own)."""
    return n if BACKEND == "sqlite" else max(10, n // 3)


def url_for(path: Path) -> str:
    """The database URL standing for a file path a test chose, on the run's backend; outside
    a test session (the benchmarks reuse these builders) that SQLite file."""
    if DATABASES is None:
        return f"sqlite+aiosqlite:///{path}"
    return str(DATABASES.for_path(path))


T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def counter_ids(start: int = 1):
    counter = itertools.count(start)
    return lambda: f"ind_{next(counter):020x}"


def graph(first_id: int = 1, **kw) -> IdentityGraph:
    return IdentityGraph(new_id=counter_ids(first_id), **kw)


def person(**kw) -> Person:
    return Person(**kw)


def call_event(call_id: str, minutes: int = 0, **kw) -> dict:
    """A valid CallEvent body; keyword arguments override fields (who=… replaces who)."""
    body = {
        "call_id": call_id,
        "direction": "outbound",
        "started_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "duration_seconds": 120,
        "talk_seconds": 90,
        "disposition": "interested",
        "rep_id": "rep-1",
        "who": {"phone": "(212) 555-0142", "first_name": "Bob", "last_name": "Smith", "company": "Acme"},
    }
    body.update(kw)
    return body


PICKLIST = Picklist.load(REPO_ROOT / "seed" / "dispositions.toml")
NORMALISER = Normaliser(PICKLIST)


def work(body: dict) -> CallWork:
    """A CallEvent body as the public API would accept it (strict normalisation)."""
    return CallWork(NORMALISER.normalise(msgspec.convert(body, CallEvent), strict=True))


def lenient_work(body: dict) -> CallWork:
    """The same as a trusted source's: messy values kept and flagged, not refused."""
    return CallWork(NORMALISER.normalise(msgspec.convert(body, CallEvent), strict=False))


# Identities chosen so streams of calls merge people: the lead and the contact share an
# email through the third, the phone-only caller joins whoever owns the number first,
# Bob/Robert by nickname.
MERGING_WHO = [
    {"salesforce_id": "00Q5e00000AAAAA", "email": "pat@acme.com", "last_name": "Doe", "first_name": "Pat"},
    {"salesforce_id": "0035e00000BBBBB", "phone": "+14155550100", "last_name": "Doe", "first_name": "Patricia"},
    {"salesforce_id": "0035e00000BBBBB", "email": "pat@acme.com"},
    {"phone": "(415) 555-0100"},
    {"salesforce_id": "0035e00000CCCCC", "converted_lead_id": "00Q5e00000DDDDD", "last_name": "Roe"},
    {
        "salesforce_id": "00Q5e00000DDDDD",
        "phone": "+14155550111",
        "first_name": "Bob",
        "last_name": "Roe",
        "company": "Initech",
    },
    {"first_name": "Robert", "last_name": "Roe", "company": "Initech Inc", "email": "rob@initech.com"},
    {"email": "solo@else.org"},
]
# Picklist codes, free text that maps (Left VM) and that does not, and none at all.
MIXED_DISPOSITIONS = [
    "no_answer",
    "voicemail_left",
    "interested",
    "meeting_booked",
    "call_back_later",
    "not_interested",
    "do_not_call",
    "bad_number",
    "Left VM",
    None,
    "Spoke to his dog",
]


async def until(predicate, seconds: float = 15.0):
    """Poll an async predicate until it is truthy or the time is up; its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def deliveries(api, **params) -> dict:
    response = await api.get("/v1/activations/deliveries", params={"limit": 1000, **params}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


FACT_DAY = 86_400 * 1_000_000
FACT_T0 = 20_000 * FACT_DAY  # 2024-10-04, as micros: profile facts' clock

FACT_DISPOSITIONS = {
    "no_answer": (False, ()),
    "voicemail_left": (False, ("voicemail",)),
    "interested": (True, ("positive",)),
    "meeting_booked": (True, ("positive", "meeting")),
    "call_back_later": (True, ("callback",)),
    "do_not_call": (True, ("negative", "do_not_call")),
    None: (False, ()),
}


def fact(call_id: str, started_at: int, direction: str, disposition: str | None, **extra) -> CallFact:
    """A CallFact as stored for such a call; `extra` overrides any field (`text`: the
    disposition text of a call logged without a disposition)."""
    connect, flags = FACT_DISPOSITIONS[disposition]
    base = CallFact(
        call_id=call_id,
        started_at=started_at,
        direction=direction,
        connect=connect,
        human_answered=connect,
        flags=flags,
        disposition=disposition,
        disposition_text=disposition or extra.pop("text", None),
        talk_seconds=60 if connect else 0,
        duration_seconds=90,
        rep_id="r1",
        notes=None,
        account_id=None,
        opportunity_id=None,
        opportunity_stage=None,
        case_id=None,
        quality=() if disposition else ("disposition_missing",),
        salesforce_id=None,
        email=None,
        phone=None,
        first_name=None,
        last_name=None,
        company=None,
        title=None,
    )
    return msgspec.structs.replace(base, **extra)


facts_strategy = st.lists(
    st.builds(
        lambda i, day, second, direction, disposition, stage, title: fact(
            f"c{i}",
            FACT_T0 + day * FACT_DAY + second * 1_000_000,
            direction,
            disposition,
            opportunity_id="006A" if stage else None,
            opportunity_stage=stage,
            title=title,
        ),
        st.integers(0, 10_000),
        st.integers(0, 600),  # spans more than the 400 retained bucket days
        st.integers(0, 3),  # tiny range: equal timestamps happen, ordered by call_id
        st.sampled_from(["outbound", "outbound", "inbound", "internal"]),
        st.sampled_from(list(FACT_DISPOSITIONS)),
        st.sampled_from([None, "Prospecting", "Negotiation/Review"]),
        st.sampled_from([None, "CFO", "VP Sales"]),
    ),
    max_size=60,
    unique_by=lambda f: f.call_id,
)


async def fetch_all(url: str, statement: Any) -> list:
    """Rows of one statement on a database, through an engine of its own (any backend)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(statement))
    finally:
        await engine.dispose()


class Recorder(BatchObserver):
    def __init__(self) -> None:
        self.loads = 0
        self.seen: list[tuple[BatchChanges, int]] = []  # (changes, calls in the table meanwhile)
        self.committed: list[BatchChanges] = []
        self.veto = False
        self.crash_after = False

    def load(self, conn) -> None:
        self.loads += 1

    def in_transaction(self, conn, changes) -> None:
        calls_in_tx = conn.execute(text("select count(*) from calls")).scalar()
        self.seen.append((changes, calls_in_tx))
        if self.veto:
            raise RuntimeError("observer refused")

    def after_commit(self, changes) -> None:
        self.committed.append(changes)
        if self.crash_after:
            raise RuntimeError("dispatcher hiccup")


class Scrape:
    """One /metrics answer, parsed by prometheus_client's own parser."""

    def __init__(self, text: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self.text = text
        self.samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, metric: str, /, **labels: str) -> float:
        """The sum of every sample of that name whose labels include these."""
        return sum(s.value for s in self.samples if s.name == metric and labels.items() <= s.labels.items())

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}


async def scrape(api, **headers: str) -> Scrape:
    response = await api.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


async def on_app_loop(api, fn, *args):
    """Await fn(*args) on the app's own event loop (the test client runs the app on a loop
    of its own): for the app's engine and writer, which belong to that loop."""
    return await asyncio.to_thread(api.blocking_portal.call, fn, *args)


async def sql(api, statement: str, **params):
    """Run SQL on the app's database through its engine, on its loop; the rows, if any."""
    from sqlalchemy import text

    async def run():
        async with api.app.state.service.engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return result.all() if result.returns_rows else None

    return await on_app_loop(api, run)
