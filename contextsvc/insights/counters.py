"""Calculated insights on the write path: counters and digests kept with every batch.

- call_hours rows (per UTC hour, direction, queue) take each new call version and give
  back each replaced one, by increments in the ingest transaction: connect rate by hour
  and weekday, and the contact-centre metrics, are sums over at most a few rows per hour.
- a digest per person (insights/people.py), replaced when their profile changes and
  dropped when they merge away: market and velocity insights read these in memory.
Both are exact as of the last commit; answers say so and when that was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from contextsvc.calls import Call
from contextsvc.ingest import Picklist
from contextsvc.insights import tables as t
from contextsvc.insights.people import Digest, digest
from contextsvc.pipeline import BatchChanges, BatchObserver
from contextsvc.profile import decode_state
from contextsvc.store import add_deltas
from contextsvc.store import tables as core
from contextsvc.timeutil import micros

HOUR_US = 3_600_000_000
COUNTERS = ("calls", "connects", "answered", "abandoned", "callback_requests", "talk_seconds", "handle_seconds")


class InsightCounters(BatchObserver):
    def __init__(self, picklist: Picklist, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.picklist = picklist
        self.digests: dict[str, Digest] = {}
        self.markets: dict[str, dict[str, str | None]] = {}  # account id -> industry/region/segment
        self.fresh_as_of: int = micros(clock())  # the last commit the in-memory parts include

    def load(self, conn: Connection) -> None:
        self.digests = {
            i: digest(decode_state(blob))
            for i, blob in conn.execute(select(core.profiles.c.individual_id, core.profiles.c.state))
        }
        self.markets = {row["account_id"]: dict(row) for row in conn.execute(select(t.account_attributes)).mappings()}

    def in_transaction(self, conn: Connection, changes: BatchChanges) -> None:
        deltas: dict[tuple, dict[str, int]] = {}
        for calls, sign in ((changes.calls.values(), 1), ([r.call for r in changes.replaced.values()], -1)):
            for call in calls:
                key = (micros(call.started_at) // HOUR_US, call.direction, call.queue or "")
                delta = deltas.setdefault(key, dict.fromkeys(COUNTERS, 0))
                for name, value in self._counts(call):
                    delta[name] += sign * value
        add_deltas(conn, t.call_hours, ("hour", "direction", "queue"), deltas)

    def reset_call_counts(self, conn: Connection) -> None:
        conn.execute(t.call_hours.delete())

    def count_stored_calls(self, conn: Connection, changes: BatchChanges) -> None:
        self.in_transaction(conn, changes)

    def after_commit(self, changes: BatchChanges) -> None:
        for individual_id in changes.removed:
            self.digests.pop(individual_id, None)
        for individual_id, state in changes.profiles.items():
            self.digests[individual_id] = digest(state)
        self.fresh_as_of = changes.now_us

    def _counts(self, call: Call):
        meaning = self.picklist.meaning(call.disposition)
        yield "calls", 1
        yield "connects", meaning.connect
        yield "answered", meaning.human_answered
        yield "abandoned", call.disposition == "abandoned"
        yield "callback_requests", "callback" in meaning.flags and not meaning.human_answered
        yield "talk_seconds", call.talk_seconds or 0
        # Handling starts when someone answers: an abandoned caller's hold is waiting, not handling.
        yield "handle_seconds", (call.talk_seconds or 0) + (call.hold_seconds or 0) if meaning.human_answered else 0

    def market_of(self, account_id: str | None) -> dict[str, str | None]:
        return self.markets.get(account_id, {}) if account_id else {}

    def set_markets(self, conn: Connection, rows: list[dict]) -> None:
        """Upsert account market attributes (a Writer.run function: Service.load_markets)."""
        ids = [r["account_id"] for r in rows]
        conn.execute(t.account_attributes.delete().where(t.account_attributes.c.account_id.in_(ids)))
        conn.execute(t.account_attributes.insert(), rows)
        self.markets.update({r["account_id"]: r for r in rows})


def hour_rows(conn: Connection, first_hour: int, last_hour: int, direction: str | None) -> Sequence[Row[Any]]:
    c = t.call_hours.c
    query = select(c.hour, c.direction, c.queue, *(c[n] for n in COUNTERS)).where(
        c.hour >= first_hour, c.hour <= last_hour
    )
    if direction:
        query = query.where(c.direction == direction)
    return conn.execute(query).all()
