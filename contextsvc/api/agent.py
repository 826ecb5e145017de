"""POST /v1/agent/call-context: the call context as an Agentforce / Flow action.

Primitive inputs (one of record_id, phone, email; max_tokens; as_of) and a flat answer
(agent_view.py), because External Services actions and Flow variables handle flat
primitives best. The data is /v1/context's, read through the same memoised path."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, post
from litestar.params import JSONBody

from contextsvc.api.auth import api_key_of
from contextsvc.api.services import readers_of
from contextsvc.api.serving import context_for, utc_as_of
from contextsvc.calls import AwareDatetime
from contextsvc.context import AgentCallContext, CallContext, agent_view
from contextsvc.errors import FieldError, ValidationFailed
from contextsvc.identity import LookupKey, parse_lookup

RECENT_CALLS = 5
_decode_context = msgspec.json.Decoder(CallContext).decode


class AgentCallContextRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Give exactly one of record_id, phone or email."""

    record_id: (
        Annotated[
            str, msgspec.Meta(max_length=64, description="individual id, or Contact/Lead id (15 or 18 characters)")
        ]
        | None
    ) = None
    phone: Annotated[str, msgspec.Meta(max_length=64, description="any common format")] | None = None
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=20, le=4000, description="budget of the prompt block")] = 300
    as_of: AwareDatetime | None = None


_LOOKUP_KINDS = {"record_id": {"individual_id", "salesforce_id"}, "phone": {"phone"}, "email": {"email"}}


def lookup_of(body: AgentCallContextRequest, region: str) -> LookupKey:
    given = [(name, value.strip()) for name in _LOOKUP_KINDS if (value := getattr(body, name)) and value.strip()]
    if len(given) != 1:
        raise ValidationFailed(
            "give exactly one of record_id, phone or email",
            [
                FieldError(name, "one_lookup_required", "exactly one of record_id, phone, email")
                for name in _LOOKUP_KINDS
            ],
            code="invalid_lookup",
        )
    [(name, value)] = given
    try:
        key = parse_lookup(value, region)
    except ValidationFailed as exc:
        raise ValidationFailed(
            exc.message, [FieldError(name, f.code, f.message) for f in exc.fields], code=exc.code
        ) from None
    if key.kind not in _LOOKUP_KINDS[name]:
        expected = " or ".join(sorted(_LOOKUP_KINDS[name])).replace("_", " ")
        raise ValidationFailed(
            f"{name} does not look like a {expected}",
            [FieldError(name, "wrong_lookup_kind", f"read as a {key.kind.replace('_', ' ')}")],
            code="invalid_lookup",
        )
    return key


class AgentController(Controller):
    path = "/v1/agent"
    tags = ["agent"]

    @post(
        "/call-context",
        opt={"scope": "context:read", "errors": (404, 409, 429)},
        status_code=200,
        summary="Call context for an agent action: prompt block, headline and key figures",
        operation_id="getCallContextForAgent",
    )
    async def call_context(self, request: Request, data: JSONBody[AgentCallContextRequest]) -> AgentCallContext:
        """For Agentforce agent actions, Flow and Prompt Builder: one of record_id, phone or
        email in; a flat answer out. Phones and emails are masked unless the API key has
        pii:read; last_recording_url is null unless it has recordings:read."""
        service = readers_of(request)
        as_of = utc_as_of(data.as_of, "POST /v1/agent/call-context")
        key = lookup_of(data, service.settings.default_region)
        rendered = await context_for(service, api_key_of(request), key, as_of, RECENT_CALLS, data.max_tokens)
        return agent_view(_decode_context(rendered.json(as_of)))
