"""GET /v1/context/{lookup}: a person's call context as JSON, or only the prompt block."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from litestar import Controller, MediaType, Request, Response, get
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, Parameter

from contextsvc.context.assemble import CallContext

from contextsvc.identity.lookup import parse_lookup
from contextsvc.store.reads import read_context, resolve_individual


class ContextController(Controller):
    path = "/v1/context"
    tags = ["context"]

    @get(
        "/{lookup:str}",
        opt={"scope": "context:read"},
        summary="A person's call context, for grounding an LLM",
        responses={200: ResponseSpec(data_container=CallContext, description="the call context (format=json)")},
    )
    async def get_context(
        self,
        request: Request,
        lookup: FromPath[str],
        as_of: datetime | None = Parameter(default=None, description="ISO 8601 with timezone; default now"),
        max_tokens: int = Parameter(default=300, ge=20, le=4000, description="budget of the prompt block"),
        recent: int = Parameter(default=5, ge=0, le=50, description="how many recent calls to include"),
        format: Literal["json", "prompt"] = Parameter(default="json", description="prompt: only the text block"),
    ) -> Response:
        """`lookup` is an individual id, a Contact/Lead id (15 or 18 chars), a phone in any
        common format or an email address in any case."""
        state = request.app.state
        if as_of is None:
            as_of = datetime.now(timezone.utc)
        elif as_of.tzinfo is None:
            raise ValidationException(
                "Validation failed for GET /v1/context",
                extra=[{"key": "as_of", "message": "as_of needs a timezone: add Z or an offset such as +00:00"}],
            )
        key = parse_lookup(lookup, state.settings.default_region)
        individual_id = await resolve_individual(state.writer, key)
        context = await read_context(
            state.reader, state.writer.cache, state.memo, state.picklist, individual_id,
            as_of.astimezone(timezone.utc), recent, max_tokens, state.segments.view,
        )
        if format == "prompt":
            return Response(context.prompt, media_type=MediaType.TEXT)
        return Response(context.json(as_of.astimezone(timezone.utc)), media_type=MediaType.JSON)
