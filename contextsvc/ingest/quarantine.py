"""The quarantine: what was rejected, kept within a budget, listed for the client that sent it.

Bounded twice: each item keeps at most CONTEXTSVC_QUARANTINE_ITEM_BYTES of its body (the
size it had is recorded), and all items together at most CONTEXTSVC_QUARANTINE_BUDGET_BYTES:
past it the oldest items are evicted in the transaction that adds new ones, counted in
the `quarantine_budget` row, logged, and reported with every listing — never silently.
Listings are paged by count and by bytes, so no answer holds more than `max_bytes` of bodies.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.ingest.results import QuarantineWork
from contextsvc.privacy import Disclosure
from contextsvc.store import from_json_text, json_text
from contextsvc.store import tables as t
from contextsvc.timeutil import from_micros

log = logging.getLogger(__name__)
_EVICT_CHUNK = 500


class QuarantineView(msgspec.Struct, omit_defaults=True):
    id: int
    received_at: datetime
    channel: str
    call_id: str | None
    reason: str
    errors: list[dict]
    size: int  # bytes received
    kept: int  # bytes kept (less than size when the body was cut to the per-item cap)
    truncated: bool
    body: str | None = None  # the kept bytes as text (pii:read or admin only)
    body_base64: str | None = None  # the kept bytes, when they are not UTF-8 text (same)
    body_withheld: bool = False  # true when the key may not see bodies


class Budget(msgspec.Struct):
    limit_bytes: int
    kept_bytes: int
    items: int
    evicted_items: int  # oldest items removed to stay within the budget, ever
    evicted_bytes: int
    last_evicted_at: datetime | None


class QuarantinePage(msgspec.Struct):
    items: list[QuarantineView]
    next_after: int | None  # pass as `after` for the next page; null at the end
    budget: Budget


# --- in the writer's transaction ------------------------------------------------------


def _stored_form(body: bytes) -> tuple[str, bytes | None]:
    """(text, None) for UTF-8 without NUL; ("", bytes) otherwise. A cut may split the
    last character: the body is then kept one character shorter, as text."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data":
            return "", body
        try:
            text = body[: exc.start].decode("utf-8")
        except UnicodeDecodeError:
            return "", body
    return ("", body) if "\x00" in text else (text, None)


def quarantine_rows(items: list[QuarantineWork], now_us: int) -> list[dict]:
    rows = []
    for item in items:
        text, raw = _stored_form(item.body)
        kept = len(raw) if raw is not None else len(text.encode())
        rows.append(
            {
                "received_at": now_us,
                "channel": item.channel[:64],
                "call_id": item.call_id,
                "reason": item.reason[:64],
                "errors": json_text(item.errors),
                "body": text,
                "body_bytes": raw,
                "size": item.size if item.size is not None else len(item.body),
                "kept": kept,
            }
        )
    return rows


def _kept_of():
    q = t.quarantine.c
    return func.coalesce(q.kept, func.length(q.body) + func.coalesce(func.length(q.body_bytes), 0))


def _budget_row(conn: Connection) -> dict:
    row = conn.execute(select(t.quarantine_budget).where(t.quarantine_budget.c.id == 1)).mappings().first()
    if row is not None:
        return dict(row)
    kept, items = conn.execute(
        select(func.coalesce(func.sum(_kept_of()), 0), func.count()).select_from(t.quarantine)
    ).one()
    fresh = {
        "id": 1,
        "kept_bytes": int(kept),
        "items": int(items),
        "evicted_items": 0,
        "evicted_bytes": 0,
        "last_evicted_at": None,
    }
    conn.execute(insert(t.quarantine_budget).values(fresh))
    return fresh


def keep(conn: Connection, rows: list[dict], budget_bytes: int, now_us: int) -> list[int]:
    """Insert the rows (their ids, in order), then evict the oldest items while the total
    is over the budget."""
    budget = _budget_row(conn)
    # One statement for all rows, ids back in row order (RETURNING; SQLite and PostgreSQL).
    statement = insert(t.quarantine).returning(t.quarantine.c.id, sort_by_parameter_order=True)
    ids = list(conn.execute(statement, rows).scalars()) if rows else []
    budget["kept_bytes"] += sum(row["kept"] for row in rows)
    budget["items"] += len(rows)
    evicted_items = evicted_bytes = 0
    q = t.quarantine.c
    while budget["kept_bytes"] > budget_bytes and budget["items"] > 0:
        oldest = conn.execute(select(q.id, _kept_of()).order_by(q.id).limit(_EVICT_CHUNK)).all()
        if not oldest:
            break
        doomed = []
        for row_id, kept in oldest:
            if budget["kept_bytes"] <= budget_bytes:
                break
            doomed.append(row_id)
            budget["kept_bytes"] -= kept
            budget["items"] -= 1
            evicted_items += 1
            evicted_bytes += kept
        conn.execute(delete(t.quarantine).where(q.id.in_(doomed)))
    if evicted_items:
        budget["evicted_items"] += evicted_items
        budget["evicted_bytes"] += evicted_bytes
        budget["last_evicted_at"] = now_us
        log.warning(
            "quarantine over its budget of %d bytes: evicted the %d oldest items (%d bytes); %d evicted in all",
            budget_bytes,
            evicted_items,
            evicted_bytes,
            budget["evicted_items"],
        )
    conn.execute(
        update(t.quarantine_budget)
        .where(t.quarantine_budget.c.id == 1)
        .values({k: v for k, v in budget.items() if k != "id"})
    )
    return ids


def forget(conn: Connection, ids: list[int]) -> int:
    """Delete these items (erasure) and take them off the running total."""
    if not ids:
        return 0
    budget = _budget_row(conn)
    q = t.quarantine.c
    removed, freed = 0, 0
    for start in range(0, len(ids), _EVICT_CHUNK):
        part = ids[start : start + _EVICT_CHUNK]
        count, kept = conn.execute(
            select(func.count(), func.coalesce(func.sum(_kept_of()), 0)).where(q.id.in_(part))
        ).one()
        conn.execute(delete(t.quarantine).where(q.id.in_(part)))
        removed, freed = removed + int(count), freed + int(kept)
    conn.execute(
        update(t.quarantine_budget)
        .where(t.quarantine_budget.c.id == 1)
        .values(kept_bytes=budget["kept_bytes"] - freed, items=budget["items"] - removed)
    )
    return removed


def stored_text(body: str, body_bytes: bytes | None) -> str:
    """A stored body as text for searching it (erasure): bytes read leniently."""
    return body if body_bytes is None else body_bytes.decode("utf-8", "replace")


# --- reads ----------------------------------------------------------------------------


async def quarantined(
    engine: AsyncEngine,
    disclosure: Disclosure,
    *,
    budget_bytes: int,
    after_id: int = 0,
    limit: int = 100,
    max_bytes: int = 1024 * 1024,
    reason: str | None = None,
) -> QuarantinePage:
    """A page of at most `limit` items and `max_bytes` of bodies (at least one item).
    Bodies only when the disclosure allows personal data; field errors masked otherwise."""
    q = t.quarantine.c
    columns = [q.id, q.received_at, q.channel, q.call_id, q.reason, q.errors, q.size, _kept_of().label("kept")]
    if disclosure.pii:
        columns += [q.body, q.body_bytes]
    query = select(*columns).where(q.id > after_id).order_by(q.id).limit(limit)
    if reason:
        query = query.where(q.reason == reason)
    items: list[QuarantineView] = []
    spent, more = 0, False
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
        found = (
            (await conn.execute(select(t.quarantine_budget).where(t.quarantine_budget.c.id == 1))).mappings().first()
        )
        if found is not None:
            budget: dict[str, Any] = dict(found)
        else:  # nothing quarantined since the budget was introduced: count what there is
            kept, count = (
                await conn.execute(
                    select(func.coalesce(func.sum(_kept_of()), 0), func.count()).select_from(t.quarantine)
                )
            ).one()
            budget = {
                "kept_bytes": int(kept),
                "items": int(count),
                "evicted_items": 0,
                "evicted_bytes": 0,
                "last_evicted_at": None,
            }
    for row in rows:
        if disclosure.pii and items and spent + row.kept > max_bytes:
            more = True
            break
        items.append(_view(row, disclosure))
        spent += row.kept
    more = more or len(rows) == limit
    return QuarantinePage(
        items,
        items[-1].id if items and more else None,
        Budget(
            budget_bytes,
            budget["kept_bytes"],
            budget["items"],
            budget["evicted_items"],
            budget["evicted_bytes"],
            from_micros(budget["last_evicted_at"]),
        ),
    )


def _view(row, disclosure: Disclosure) -> QuarantineView:
    size = row.size if row.size is not None else row.kept
    errors = from_json_text(row.errors)
    received_at = from_micros(row.received_at)
    assert received_at is not None  # NOT NULL
    view = QuarantineView(
        row.id,
        received_at,
        row.channel,
        disclosure.text(row.call_id),
        row.reason,
        disclosure.value(errors),
        size,
        row.kept,
        size > row.kept,
    )
    if not disclosure.pii:
        view.body_withheld = True
    elif row.body_bytes is not None:
        view.body_base64 = base64.b64encode(row.body_bytes).decode()
    else:
        view.body = row.body
    return view
