"""API keys and scopes: parsing is pure; the guard checks every request but /health."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from functools import lru_cache

import msgspec
from litestar.connection import ASGIConnection, Request
from litestar.handlers.base import BaseRouteHandler

from contextsvc.errors import Forbidden, Unauthenticated
from contextsvc.privacy import Disclosure

# pii:read: phone numbers and emails in clear in contexts and prompts (masked otherwise);
# recordings:read: recording links of calls; segments:write: define segments and
# activation rules. A bare KEY, and admin, have every scope.
SCOPES = frozenset({"calls:write", "context:read", "admin", "pii:read", "recordings:read", "segments:write"})


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


def presented_key_of_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The same as presented_key, from raw ASGI headers (the request log: any response,
    a 404 of an unknown route included, says which key asked — by fingerprint; the
    context fast path). Like Litestar's `headers.get`, the first of repeated headers
    counts: a second Authorization or X-API-Key must not change which key is checked."""
    authorization = api_key = None
    for name, value in headers:
        if name == b"authorization":
            if authorization is None:
                authorization = value
        elif name == b"x-api-key" and api_key is None:
            api_key = value
    if authorization:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return api_key.decode("latin-1") or None if api_key is not None else None


async def authenticate(request: Request) -> None:
    """App-wide before-request hook for HTTP handlers. Not a guard: Litestar copies the
    route handler for every guard call, which cost more than the whole context read."""
    check_scope(request, request.route_handler.opt.get("scope"))


async def require_scope(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """The same check as a guard, for mounted ASGI apps and websockets (no before-request
    hook runs for them). async on purpose: Litestar runs sync guards in a thread pool."""
    check_scope(connection, handler.opt.get("scope"))


def check_scope(connection: ASGIConnection, scope: str | None) -> None:
    if scope is None:
        return
    presented = presented_key(connection)
    if presented is None:
        raise Unauthenticated(
            "send an API key as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'", code="missing_api_key"
        )
    key = find_key(connection.app.state.api_keys, presented)
    if key is None:
        raise Unauthenticated("the API key is not valid", code="invalid_api_key")
    if not key.allows(scope):
        raise Forbidden(
            f"this API key lacks the '{scope}' scope", code="missing_scope", details={"required_scope": scope}
        )
    # Straight into the scope's state dict: connection.state builds a wrapper per access.
    connection.scope["state"]["api_key"] = key


def api_key_of(connection: ASGIConnection) -> ApiKey:
    """The key the request was authenticated with."""
    return connection.scope["state"]["api_key"]


@lru_cache(maxsize=1024)  # keys are few and fixed: one Disclosure each, not one per request
def disclosure_for(key: ApiKey, notes_max_chars: int, region: str) -> Disclosure:
    """What this key may see of a context (the Disclosure is part of the memo key)."""
    return Disclosure.for_scopes(key.scopes, notes_max_chars, region)
