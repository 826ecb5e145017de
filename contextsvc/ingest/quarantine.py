"""The quarantine: what was rejected, listed for the client that sent it."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.store import tables as t
from contextsvc.store import from_json_text
from contextsvc.timeutil import from_micros


class QuarantineView(msgspec.Struct):
    id: int
    received_at: datetime
    channel: str
    call_id: str | None
    reason: str
    errors: list[dict]
    body: str


async def quarantined(engine: AsyncEngine, *, after_id: int = 0, limit: int = 100, reason: str | None = None) -> list[QuarantineView]:
    query = select(t.quarantine).where(t.quarantine.c.id > after_id).order_by(t.quarantine.c.id).limit(limit)
    if reason:
        query = query.where(t.quarantine.c.reason == reason)
    async with engine.connect() as conn:
        rows = await conn.execute(query)
        return [QuarantineView(r.id, from_micros(r.received_at), r.channel, r.call_id, r.reason, from_json_text(r.errors), r.body) for r in rows]
