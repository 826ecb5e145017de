"""The OpenAPI documents as plain dicts: 3.1 as Litestar generates it, 3.0 for External
Services (openapi30.py). Served at /schema/openapi-3.0.json and written by
`contextsvc openapi`."""

from __future__ import annotations

import msgspec
from litestar import Litestar, MediaType, Request, Response, get
from litestar.serialization import encode_json

from contextsvc.api.openapi30 import external_services_document


def openapi_document(app: Litestar, version: str = "3.0") -> dict:
    document = msgspec.json.decode(encode_json(app.openapi_schema.to_schema()))
    if version == "3.1":
        return document
    if version == "3.0":
        return external_services_document(document)
    raise ValueError(f"unknown OpenAPI version {version!r}: 3.0 or 3.1")


@get("/schema/openapi-3.0.json", include_in_schema=False, tags=["system"])
async def openapi_30(request: Request) -> Response[bytes]:
    """The OpenAPI 3.0 document to import as a Salesforce External Service (open, like /schema)."""
    state = request.app.state
    if state.get("openapi_30") is None:  # built once: the routes never change after start-up
        state.openapi_30 = msgspec.json.encode(openapi_document(request.app, "3.0"))
    return Response(state.openapi_30, media_type=MediaType.JSON)
