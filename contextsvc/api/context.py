"""GET /v1/context/{lookup}: a person's call context as JSON, or only the prompt block."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from litestar import Controller, MediaType, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, Parameter
from litestar.response.base import ASGIResponse

from contextsvc.api.auth import api_key_of
from contextsvc.api.services import readers_of
from contextsvc.api.serving import context_for, utc_as_of
from contextsvc.context import CallContext
from contextsvc.identity import parse_lookup


class ContextController(Controller):
    path = "/v1/context"
    tags = ["context"]

    @get(
        "/{lookup:str}",
        opt={"scope": "context:read", "errors": (409, 422, 429)},
        summary="A person's call context, for grounding an LLM",
        responses={
            200: ResponseSpec(
                data_container=CallContext, description="the call context (format=json)", generate_examples=False
            )
        },
    )
    async def get_context(
        self,
        request: Request,
        lookup: FromPath[str],
        as_of: datetime | None = Parameter(default=None, description="ISO 8601 with timezone; default now"),
        max_tokens: int = Parameter(default=300, ge=20, le=4000, description="budget of the prompt block"),
        recent: int = Parameter(default=5, ge=0, le=50, description="how many recent calls to include"),
        format: Literal["json", "prompt"] = Parameter(default="json", description="prompt: only the text block"),
    ) -> ASGIResponse:
        """`lookup` is an individual id, a Contact/Lead id (15 or 18 chars), a phone in any
        common format or an email address in any case."""
        service = readers_of(request)
        as_of = utc_as_of(as_of, "GET /v1/context")
        key = parse_lookup(lookup, service.settings.default_region)
        context = await context_for(service, api_key_of(request), key, as_of, recent, max_tokens)
        # A ready ASGIResponse skips Litestar's response conversion: the hot path of the service.
        if format == "prompt":
            return ASGIResponse(body=context.prompt_at(as_of).encode(), media_type=MediaType.TEXT)
        return ASGIResponse(body=context.json(as_of), media_type=MediaType.JSON)
