"""The one context read every surface shares: GET /v1/context, the agent action and the
MCP tools. Lookup -> individual -> memoised context, as the caller's key may see it."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from litestar.datastructures import State
from litestar.exceptions import ValidationException

from contextsvc.api.auth import ApiKey, disclosure_for
from contextsvc.context.memo import RenderedContext
from contextsvc.identity.lookup import LookupKey
from contextsvc.store.reads import read_context, resolve_individual


def utc_as_of(as_of: datetime | None, where: str) -> datetime:
    if as_of is None:
        return datetime.now(timezone.utc)
    if as_of.tzinfo is None:
        raise ValidationException(
            f"Validation failed for {where}",
            extra=[{"key": "as_of", "message": "as_of needs a timezone: add Z or an offset such as +00:00"}],
        )
    return as_of.astimezone(timezone.utc)


class ContextReads:
    """Everything a context read needs, gathered once at start-up: on the hot path every
    attribute of Litestar's State costs a Python-level __getattr__."""

    __slots__ = ("writer", "reader", "memo", "picklist", "segments", "notes_max_chars", "region", "reachability")

    def __init__(self, writer, reader, memo, picklist, segments, settings, reachability) -> None:
        self.writer, self.reader, self.memo, self.picklist, self.segments = writer, reader, memo, picklist, segments
        self.notes_max_chars, self.region = settings.notes_max_chars, settings.default_region
        self.reachability = reachability

    async def read(self, api_key: ApiKey, key: LookupKey, as_of: datetime, recent: int, max_tokens: int) -> RenderedContext:
        writer = self.writer
        individual_id = await resolve_individual(writer, key)
        return await read_context(
            self.reader, writer.cache, self.memo, self.picklist, individual_id, as_of, recent, max_tokens,
            disclosure_for(api_key, self.notes_max_chars, self.region), self.segments.view,
            # Market figures: the snapshot of today's (wall-clock) UTC day, whatever as_of.
            self.reachability.for_day(int(time.time()) // 86_400),
        )


async def context_for(
    state: State, api_key: ApiKey, key: LookupKey, as_of: datetime, recent: int, max_tokens: int
) -> RenderedContext:
    return await state.context_reads.read(api_key, key, as_of, recent, max_tokens)
