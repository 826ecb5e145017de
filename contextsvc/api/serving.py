"""The context read as every HTTP surface serves it (GET /v1/context, the agent action,
the MCP tools): the caller's key decides what it may see."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from litestar.exceptions import ValidationException

from contextsvc.api.auth import ApiKey, disclosure_for
from contextsvc.context import RenderedContext
from contextsvc.identity import LookupKey
from contextsvc.service import Service


def utc_as_of(as_of: datetime | None, where: str) -> datetime:
    if as_of is None:
        return datetime.now(timezone.utc)
    if as_of.tzinfo is None:
        raise ValidationException(
            f"Validation failed for {where}",
            extra=[{"key": "as_of", "message": "as_of needs a timezone: add Z or an offset such as +00:00"}],
        )
    return as_of.astimezone(timezone.utc)


async def context_for(
    service: Service, api_key: ApiKey, key: LookupKey, as_of: datetime, recent: int, max_tokens: int
) -> RenderedContext:
    settings = service.settings
    disclosure = disclosure_for(api_key, settings.notes_max_chars, settings.default_region)
    return await service.reads.read(key, as_of, recent, max_tokens, disclosure)
