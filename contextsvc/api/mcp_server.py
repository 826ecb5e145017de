"""The MCP server (Model Context Protocol, official SDK, streamable HTTP) mounted at /mcp.

Same API keys and scopes as the REST API: the mount is guarded like any handler
(context:read), and each tool answers as the caller's key may see it (pii:read,
recordings:read). Stateless JSON responses: any worker can answer any request, and no
session outlives a request. The SDK's session manager runs inside the app's lifespan.

Tools: get_call_context, find_person, list_segment_members.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import asgi
from litestar.exceptions import HTTPException
from litestar.types import Receive, Scope, Send
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings

from contextsvc import __version__
from contextsvc.api.auth import ApiKey, disclosure_for, require_scope
from contextsvc.api.segments import segment_members
from contextsvc.api.serving import context_for, limited, utc_as_of, within_key_rate
from contextsvc.context import CallContext, agent_view
from contextsvc.errors import DomainError
from contextsvc.identity import parse_lookup
from contextsvc.privacy import Disclosure
from contextsvc.service import Service

_decode_context = msgspec.json.Decoder(CallContext).decode
RECENT_CALLS = 5


def _caller(ctx: Context) -> tuple[Service, ApiKey]:
    """The running service and the caller's key (the mount's guard put it in the scope)."""
    request = ctx.request_context.request
    if request is None:  # only a stdio transport has no request; this server is mounted over HTTP
        raise RuntimeError("an MCP tool ran outside an HTTP request")
    scope = request.scope
    return scope["app"].state.service, scope["state"]["api_key"]


def _disclosure(service: Service, key: ApiKey) -> Disclosure:
    return disclosure_for(key, service.settings.notes_max_chars, service.settings.default_region)


def build_mcp() -> MCPServer:
    server = MCPServer(
        "contextsvc",
        version=__version__,
        instructions="Call history of the person an agent is about to speak with: look them up by "
        "phone, email, Salesforce Contact/Lead id or individual id with get_call_context; "
        "find_person turns a partial name, number or address into candidates; "
        "list_segment_members pages through a segment's members.",
    )

    @server.tool()
    async def get_call_context(lookup: str, ctx: Context, max_tokens: int = 300, as_of: str | None = None) -> dict:
        """A person's call context: a prompt block within max_tokens (20-4000), a one-line
        headline, key figures and signals. lookup: phone (any format), email, Salesforce
        Contact/Lead id or individual id. as_of: ISO 8601 with a timezone (default now)."""
        service, key = _caller(ctx)
        try:
            when = utc_as_of(datetime.fromisoformat(as_of) if as_of else None, "get_call_context")
            budget = min(max(max_tokens, 20), 4000)
            lookup_key = parse_lookup(lookup, service.settings.default_region)
            rendered = await context_for(service, key, lookup_key, when, RECENT_CALLS, budget)
        except (DomainError, HTTPException, ValueError) as exc:
            # ToolError: the model reads the reason (unknown person, ambiguous number, bad
            # as_of), masked like any answer: the reason may echo the lookup.
            reason = getattr(exc, "message", None) or getattr(exc, "detail", None) or str(exc)
            raise ToolError(_disclosure(service, key).text(reason) or "") from None
        return msgspec.to_builtins(agent_view(_decode_context(rendered.json(when))))

    @server.tool()
    async def find_person(query: str, ctx: Context, limit: int = 10) -> list[dict]:
        """Candidates for a partial name, phone number, email address or Salesforce id,
        best first: individual_id, name, company, title, calls, what matched. Pass the
        individual_id to get_call_context. Keys without pii:read see phones and emails
        masked and find people by them only with the whole number or address; searches
        are rate-limited per key."""
        service, key = _caller(ctx)
        limit = min(max(limit, 1), 50)
        disclosure = _disclosure(service, key)
        try:
            await limited(service.limits.search, key, "searches")
        except DomainError as exc:
            raise ToolError(exc.message) from None
        # Without pii:read, phones and emails match only whole (see PeopleSearch.search).
        matches = await service.people.search(query[:200], limit * 2, partial_identifiers=disclosure.pii)
        found: dict[str, dict] = {}
        for match in matches:
            for person in await service.writer.lookup("individual_id", match.individual_id):  # survivor; [] if erased
                if person in found or len(found) >= limit:
                    continue
                _, profile = await service.profiles.state(person)
                info = profile.person
                found[person] = {
                    "individual_id": person,
                    "name": disclosure.text(" ".join(filter(None, [info.first_name, info.last_name])) or None),
                    "company": disclosure.text(info.company),
                    "title": disclosure.text(info.title),
                    "calls": profile.calls,
                    "phones": [disclosure.phone(p) for p in info.phones],
                    "emails": [disclosure.email(e) for e in info.emails],
                    "matched_on": match.matched_on,
                    "score": match.score,
                }
        return list(found.values())

    @server.tool()
    async def list_segment_members(segment: str, ctx: Context, cursor: str | None = None, limit: int = 50) -> dict:
        """Members of a segment (its id, or its exact name), a page at a time: member ids
        (individual ids, or Account ids for account segments) with when they entered, the
        total count, and next_cursor for the next page. Pass an individual id to
        get_call_context for that person's history."""
        service, key = _caller(ctx)
        try:
            page = await segment_members(service, segment, cursor, min(max(limit, 1), 500))
        except DomainError as exc:
            raise ToolError(_disclosure(service, key).text(exc.message) or "") from None
        return msgspec.to_builtins(page)

    # Stateless JSON: no sessions to pin to a worker. DNS-rebinding protection is off
    # because every request must carry an API key, which a rebound page cannot know.
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return server


def mcp_handler(server: MCPServer, rate_limited: bool = False):
    @asgi(
        "/mcp",
        is_mount=True,
        copy_scope=True,
        opt={"scope": "context:read"},
        include_in_schema=False,
        guards=[require_scope, within_key_rate] if rate_limited else [require_scope],
    )  # no before-request hook runs for mounted ASGI apps
    async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        # The guard (auth.require_scope) has put the caller's key in scope["state"].
        # Litestar types the ASGI scope and messages as TypedDicts, the SDK (Starlette) as
        # MutableMapping[str, Any]: the same ASGI values, types that do not interoperate.
        await server.session_manager.handle_request(scope, receive, send)  # type: ignore[arg-type]

    return mcp_endpoint
