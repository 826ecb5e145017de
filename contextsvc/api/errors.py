"""The one place where errors become HTTP responses: JSON with a stable code and message.

Every error body passes through the caller's Disclosure: an error that echoes what was
asked (a lookup, a rejected value) shows phones and emails masked to a key without
pii:read, like any other answer."""

from __future__ import annotations

import logging
import math
from urllib.parse import unquote

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import InterfaceError, OperationalError

from contextsvc.api.serving import disclosure_of
from contextsvc.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)

log = logging.getLogger(__name__)

STATUS = {
    ValidationFailed: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    UnsupportedMediaType: 415,
    RateLimited: 429,
    Unavailable: 503,
}


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every error answer: a stable machine-readable `code`, a human `message`, the fields
    at fault (validation), and details that depend on the code."""

    code: str
    message: str
    fields: list[FieldError] | None = None
    details: dict | None = None


def error_response(request: Request, status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> Response:
    disclosure = disclosure_of(request)
    if not disclosure.pii:
        # An error may quote what was sent percent-encoded (kim%40contoso.com): decoded
        # before masking, so the encoding cannot carry an address or number past it.
        body = ErrorBody(body.code, unquote(body.message), body.fields, body.details)
        body = ErrorBody(
            body.code,
            disclosure.text(body.message) or "",
            [FieldError(f.field, f.code, disclosure.text(f.message) or "") for f in body.fields]
            if body.fields
            else None,
            disclosure.value(body.details) if body.details else None,
        )
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def domain_error(request: Request, exc: DomainError) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    elif status == 503:  # retryable: say when
        headers = {"Retry-After": str(exc.details.get("retry_after_s", 1))}
    return error_response(
        request,
        status,
        ErrorBody(exc.code, exc.message, getattr(exc, "fields", None) or None, exc.details or None),
        headers,
    )


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def http_error(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, ValidationException):
        fields = [
            FieldError(
                str(item.get("key") or item.get("source") or "request"), "invalid_value", str(item.get("message"))
            )
            for item in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(item, dict)
        ]
        # Litestar's detail repeats the URL, query string included (percent-encoded, which
        # no masking would recognise): the route's template says where, without the values.
        where = f"{request.method} {request.scope.get('path_template') or request.url.path}"
        return error_response(
            request, 400, ErrorBody("invalid_request", f"Validation failed for {where}", fields or None)
        )
    body = ErrorBody(_HTTP_CODES.get(exc.status_code, "http_error"), exc.detail)
    return error_response(request, exc.status_code, body, exc.headers)


def database_unreachable(request: Request, exc: Exception) -> Response:
    """A read that needed the database while it was away (a restart, a failover): retryable."""
    log.warning("database unreachable for a read: %s: %s", type(exc).__name__, str(exc).splitlines()[0][:200])
    return error_response(
        request, 503, ErrorBody("unavailable", "the call store is unreachable; retry the request"), {"Retry-After": "1"}
    )


def undecodable(request: Request, exc: Exception) -> Response:
    """Bodies a decoder gave up on before any handler could name the field (the handlers
    that read bodies check depth and UTF-8 first and name it)."""
    if isinstance(exc, RecursionError):
        error = FieldError("body", "too_deep", "the JSON is nested too deep")
    else:
        error = FieldError("body", "invalid_utf8", "the body is not valid UTF-8")
    return error_response(request, 422, ErrorBody("validation_failed", "the body could not be decoded", [error]))


def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(request, 500, ErrorBody("internal_error", "an unexpected error occurred; it has been logged"))


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: domain_error,
    HTTPException: http_error,
    RecursionError: undecodable,
    UnicodeDecodeError: undecodable,
    # Lost connections, refused connects, a database shutting down: not a bug, a wait.
    OperationalError: database_unreachable,
    InterfaceError: database_unreachable,
    ConnectionError: database_unreachable,
    Exception: unexpected_error,
}


# --- the error answers in the OpenAPI documents ---------------------------------------

ERROR_ANSWERS = {
    400: "invalid_request: a query or path parameter is malformed or out of its bounds (the field is named)",
    401: "missing_api_key, invalid_api_key: no key, or not a known key",
    403: "missing_scope: the key lacks the scope this operation needs",
    404: "not_found: no such person, identifier, segment or rule",
    409: "conflicting_replay, ambiguous_lookup, segment_in_use, salesforce_not_configured: the request contradicts "
    "what is stored, or needs what this server lacks",
    413: "body_too_large: the body is over the 32 MB request limit",
    415: "unsupported_media_type: a body not sent as Content-Type: application/json",
    422: "validation_failed (and invalid_lookup, batch_too_large, unsafe_target): the body or lookup is invalid; "
    "the fields are named",
    429: "rate_limited: too many requests of this kind from this key; retry after the Retry-After seconds",
    503: "unavailable: the store could not commit; nothing was acknowledged, retry the request",
}
_WITH_BODY = {"POST", "PUT", "PATCH"}


def error_statuses(handler, path: str) -> list[int]:
    """The errors an operation can answer with, from what it is: a scope means 401/403,
    parameters or a body 400, a body 413/415/422, path parameters 404, a write 503; what only
    some operations do (409, 429, a lookup's 422) is named in their opt["errors"]."""
    codes = set(handler.opt.get("errors", ()))
    if handler.opt.get("scope"):
        codes |= {401, 403}
    methods = set(handler.http_methods)
    parameters = handler.parsed_fn_signature.parameters
    names = set(parameters) - {"self", "request", "data", "scope", "receive", "send"}
    path_names = {part.strip("{}").split(":")[0] for part in path.split("/") if part.startswith("{")}
    if names or methods & _WITH_BODY:  # what Litestar validates before the handler runs
        codes.add(400)
    if path_names:
        codes.add(404)
    if methods & _WITH_BODY:
        codes |= {413, 415, 422}
    if methods - {"GET", "HEAD"}:
        codes.add(503)
    return sorted(codes)


def document_errors(app) -> None:
    """Put every operation's error answers, with the ErrorBody schema, in the OpenAPI
    document (the 3.0 export is derived from it). Before the document is first built."""
    from litestar.openapi.datastructures import ResponseSpec

    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not getattr(handler, "include_in_schema", False) or not route.path.startswith("/v1"):
                continue
            declared = dict(handler.responses or {})
            for status in error_statuses(handler, route.path):
                declared.setdefault(
                    status,
                    ResponseSpec(data_container=ErrorBody, description=ERROR_ANSWERS[status], generate_examples=False),
                )
            handler.responses = declared
