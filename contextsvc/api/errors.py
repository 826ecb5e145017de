"""The one place where errors become HTTP responses: JSON with a stable code and message.

Every error body passes through the caller's Disclosure: an error that echoes what was
asked (a lookup, a rejected value) shows phones and emails masked to a key without
pii:read, like any other answer."""

from __future__ import annotations

import logging
import math

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

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
        body = ErrorBody(
            body.code,
            disclosure.text(body.message) or "",
            [FieldError(f.field, f.code, disclosure.text(f.message) or "") for f in body.fields] if body.fields else None,
            disclosure.value(body.details) if body.details else None,
        )
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def domain_error(request: Request, exc: DomainError) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
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
            FieldError(str(item.get("key") or item.get("source") or "request"), "invalid_value", str(item.get("message")))
            for item in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(item, dict)
        ]
        return error_response(request, 400, ErrorBody("invalid_request", exc.detail, fields or None))
    body = ErrorBody(_HTTP_CODES.get(exc.status_code, "http_error"), exc.detail)
    return error_response(request, exc.status_code, body, exc.headers)


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


EXCEPTION_HANDLERS = {
    DomainError: domain_error,
    HTTPException: http_error,
    RecursionError: undecodable,
    UnicodeDecodeError: undecodable,
    Exception: unexpected_error,
}
