"""What every HTTP surface that serves a person shares (GET /v1/context, the agent
action, GET /v1/individuals, the MCP tools): the caller's Disclosure, the as_of check,
the per-key lookup limit, and the context read itself."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar.connection import ASGIConnection
from litestar.exceptions import ValidationException

from contextsvc.api.auth import ApiKey, disclosure_for
from contextsvc.api.services import readers_of
from contextsvc.context import RenderedContext
from contextsvc.errors import RateLimited
from contextsvc.identity import LookupKey
from contextsvc.pipeline import key_fingerprint
from contextsvc.privacy import MASKED, Disclosure
from contextsvc.ratelimit import RateLimiter
from contextsvc.service import FollowerService, Service
from contextsvc.timeutil import EARLIEST, LATEST, supported_utc


def disclosure_of(connection: ASGIConnection) -> Disclosure:
    """What the request's key may see; everything masked when no key was accepted."""
    key = connection.scope.get("state", {}).get("api_key")
    service = getattr(connection.app.state, "service", None) or getattr(connection.app.state, "follower", None)
    if service is None:
        return MASKED
    settings = service.settings
    if key is None:
        return Disclosure(False, False, settings.notes_max_chars, settings.default_region)
    return disclosure_for(key, settings.notes_max_chars, settings.default_region)


async def limited(limiter: RateLimiter, api_key: ApiKey, what: str) -> None:
    retry_after = await limiter.acquire(key_fingerprint(api_key.key))  # a bucket that holds no key
    if retry_after is not None:
        raise RateLimited(
            f"too many {what} for this API key; retry in {retry_after:.1f} s",
            retry_after,
            details={"retry_after_s": round(retry_after, 1)},
        )


async def within_key_rate(connection: ASGIConnection, _handler: object = None) -> None:
    """The key's own request limit (CONTEXTSVC_KEY_RATE_LIMITS), once it is authenticated;
    also a guard (the MCP mount, where no before-request hook runs). Open routes (health,
    metrics) carry no key and are not counted."""
    key = connection.scope["state"].get("api_key")
    if key is None:
        return
    limiter = readers_of(connection).limits.keys.for_key(key.key)
    if limiter is not None:
        await limited(limiter, key, "requests")


def utc_as_of(as_of: datetime | None, where: str) -> datetime:
    if as_of is None:
        return datetime.now(UTC)
    if as_of.tzinfo is None:
        raise ValidationException(
            f"Validation failed for {where}",
            extra=[{"key": "as_of", "message": "as_of needs a timezone: add Z or an offset such as +00:00"}],
        )
    utc = supported_utc(as_of)
    if utc is None:
        raise ValidationException(
            f"Validation failed for {where}",
            extra=[{"key": "as_of", "message": f"as_of must lie between {EARLIEST.date()} and {LATEST.date()} (UTC)"}],
        )
    return utc


async def guard_lookup(service: Service | FollowerService, api_key: ApiKey, key: LookupKey) -> None:
    """Keys that see phones and emails masked may look people up by them, at a bounded
    rate: otherwise whole numbers could be guessed one after another against the masks."""
    settings = service.settings
    if (
        key.kind in ("phone", "email")
        and not disclosure_for(api_key, settings.notes_max_chars, settings.default_region).pii
    ):
        await limited(service.limits.lookup, api_key, "lookups by phone or email")


async def context_for(
    service: Service | FollowerService, api_key: ApiKey, key: LookupKey, as_of: datetime, recent: int, max_tokens: int
) -> RenderedContext:
    await guard_lookup(service, api_key, key)
    settings = service.settings
    disclosure = disclosure_for(api_key, settings.notes_max_chars, settings.default_region)
    return await service.reads.read(key, as_of, recent, max_tokens, disclosure)
