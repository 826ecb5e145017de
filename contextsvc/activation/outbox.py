"""The webhook outbox: which deliveries are due, what each attempt did, redrive.

Status moves pending -> delivered, or pending -> (retries with exponential backoff) ->
dead after max_attempts; a redrive puts dead rows back to pending with a fresh count.
The event uuid (idempotency key) and payload bytes never change between attempts.
"""

from __future__ import annotations

import msgspec
from sqlalchemy import Connection, bindparam, func, select, update

from contextsvc.activation import tables as t

c = t.outbox.c


class Due(msgspec.Struct, frozen=True):
    id: int
    event_uuid: str
    rule_id: str
    url: str
    payload: bytes
    attempts: int
    created_at: int  # µs: when the change that caused it committed
    last_error: str | None = None  # kept by a redrive (which resets attempts): the row was tried before


class Attempt(msgspec.Struct, frozen=True):
    id: int
    attempts: int  # including this one
    ok: bool
    error: str | None
    at_us: int
    final: bool = False  # a refusal no retry can change: a dead letter at once (redrive after the fix)


class Backoff(msgspec.Struct, frozen=True):
    max_attempts: int
    base_us: int
    cap_us: int

    def delay_us(self, attempts: int) -> int:
        """After the n-th failed attempt: base, 2·base, 4·base, … capped."""
        return min(self.cap_us, self.base_us * 2 ** (attempts - 1))


def due(conn: Connection, now_us: int, limit: int) -> list[Due]:
    rows = conn.execute(
        select(c.id, c.event_uuid, c.rule_id, c.url, c.payload, c.attempts, c.created_at, c.last_error)
        .where(c.status == "pending", c.next_attempt_at <= now_us)
        .order_by(c.next_attempt_at, c.id)
        .limit(limit)
    )
    return [Due(*row) for row in rows]


def next_due_at(conn: Connection) -> int | None:
    return conn.execute(select(func.min(c.next_attempt_at)).where(c.status == "pending")).scalar()


_RECORD = (
    update(t.outbox)
    .where(c.id == bindparam("b_id"), c.status == "pending")
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_next"),
        last_error=bindparam("b_error"),
        delivered_at=bindparam("b_delivered"),
    )
)


def record(conn: Connection, attempts: list[Attempt], backoff: Backoff) -> None:
    rows = []
    for a in attempts:
        dead = not a.ok and (a.final or a.attempts >= backoff.max_attempts)
        rows.append(
            {
                "b_id": a.id,
                "b_status": "delivered" if a.ok else "dead" if dead else "pending",
                "b_attempts": a.attempts,
                "b_next": a.at_us if a.ok or dead else a.at_us + backoff.delay_us(a.attempts),
                "b_error": a.error,
                "b_delivered": a.at_us if a.ok else None,
            }
        )
    if rows:
        conn.execute(_RECORD, rows)


class Backlog(msgspec.Struct, frozen=True):
    pending: int
    dead: int
    oldest_pending_at: int | None  # µs: created_at of the oldest undelivered event


def backlog(conn: Connection) -> Backlog:
    """What is waiting and what gave up, read through the (status, next_attempt_at) index;
    delivered rows, which only grow, are never counted."""
    query = select(c.status, func.count()).where(c.status.in_(("pending", "dead"))).group_by(c.status)
    counts: dict[str, int] = dict(conn.execute(query).tuples().all())
    oldest = conn.execute(select(func.min(c.created_at)).where(c.status == "pending")).scalar()
    return Backlog(counts.get("pending", 0), counts.get("dead", 0), oldest)


def abandon_rule(conn: Connection, rule_id: str, now_us: int) -> None:
    """A deleted rule's undelivered events: dead, with the reason (its secret is gone)."""
    conn.execute(
        update(t.outbox)
        .where(c.rule_id == rule_id, c.status == "pending")
        .values(status="dead", last_error="the rule was deleted", next_attempt_at=now_us)
    )


def redrive(conn: Connection, ids: list[int] | None, live_rules: set[str], now_us: int) -> int:
    """Dead deliveries (these ids, or all) of rules that still exist back to pending."""
    query = update(t.outbox).where(c.status == "dead", c.rule_id.in_(sorted(live_rules)))
    if ids is not None:
        query = query.where(c.id.in_(ids))
    return conn.execute(query.values(status="pending", attempts=0, next_attempt_at=now_us)).rowcount


class Delivery(msgspec.Struct):
    id: int
    event_uuid: str
    rule_id: str
    event_type: str
    url: str
    status: str
    attempts: int
    next_attempt_at: int
    last_error: str | None
    created_at: int
    delivered_at: int | None


def deliveries(
    conn: Connection, status: str | None, rule_id: str | None, before_id: int | None, limit: int
) -> list[Delivery]:
    query = select(
        c.id,
        c.event_uuid,
        c.rule_id,
        c.event_type,
        c.url,
        c.status,
        c.attempts,
        c.next_attempt_at,
        c.last_error,
        c.created_at,
        c.delivered_at,
    )
    if status:
        query = query.where(c.status == status)
    if rule_id:
        query = query.where(c.rule_id == rule_id)
    if before_id is not None:
        query = query.where(c.id < before_id)
    return [Delivery(*row) for row in conn.execute(query.order_by(c.id.desc()).limit(limit))]


def counts(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(c.status, func.count()).group_by(c.status)).tuples().all())
