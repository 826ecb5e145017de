"""API keys and scopes: parsing is pure; the guard checks every request but /health."""

from __future__ import annotations

import hmac

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from contextsvc.errors import Forbidden, Unauthenticated

# segments:write: define segments and activation rules (admin implies it).
SCOPES = frozenset({"calls:write", "context:read", "segments:write", "admin"})


class ApiKey(msgspec.Struct, frozen=True):
    key: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def parse_api_keys(spec: str) -> list[ApiKey]:
    """'k1, k2:calls:write|context:read' -> keys; a bare KEY has every scope."""
    keys = []
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, scopes = entry.partition(":")
        if not key:
            raise ValueError("CONTEXTSVC_API_KEYS has an entry with an empty key")
        granted = frozenset(s.strip() for s in scopes.split("|") if s.strip()) if sep else SCOPES
        unknown = granted - SCOPES
        if unknown:
            raise ValueError(f"CONTEXTSVC_API_KEYS: unknown scope(s) {sorted(unknown)}; valid: {sorted(SCOPES)}")
        keys.append(ApiKey(key, granted))
    return keys


def find_key(keys: list[ApiKey], presented: str) -> ApiKey | None:
    """Compare against every key in constant time, so timing reveals neither key nor position."""
    found = None
    for candidate in keys:
        if hmac.compare_digest(candidate.key.encode(), presented.encode()):
            found = candidate
    return found


def presented_key(connection: ASGIConnection) -> str | None:
    auth = connection.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return connection.headers.get("x-api-key") or None


async def require_scope(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    # async on purpose: Litestar runs sync guards in a thread pool, a hand-off per request.
    scope = handler.opt.get("scope")
    if scope is None:
        return
    presented = presented_key(connection)
    if presented is None:
        raise Unauthenticated("send an API key as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'", code="missing_api_key")
    key = find_key(connection.app.state.api_keys, presented)
    if key is None:
        raise Unauthenticated("the API key is not valid", code="invalid_api_key")
    if not key.allows(scope):
        raise Forbidden(f"this API key lacks the '{scope}' scope", code="missing_scope", details={"required_scope": scope})
    connection.state.api_key = key
