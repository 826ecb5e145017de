"""The one place where errors become HTTP responses: JSON with a stable code and message."""

from __future__ import annotations

import logging

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import InterfaceError, OperationalError

from contextsvc.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    NotFound,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
)

log = logging.getLogger(__name__)

STATUS = {
    ValidationFailed: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    Unavailable: 503,
}


class ErrorBody(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    fields: list[FieldError] | None = None
    details: dict | None = None


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def domain_error(_: Request, exc: DomainError) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:  # retryable: say when
        headers = {"Retry-After": str(exc.details.get("retry_after_s", 1))}
    return error_response(
        status,
        ErrorBody(exc.code, exc.message, getattr(exc, "fields", None) or None, exc.details or None),
        headers,
    )


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 429: "rate_limited"}


def http_error(_: Request, exc: HTTPException) -> Response:
    if isinstance(exc, ValidationException):
        fields = [
            FieldError(str(item.get("key") or item.get("source") or "request"), "invalid_value", str(item.get("message")))
            for item in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(item, dict)
        ]
        return error_response(400, ErrorBody("invalid_request", exc.detail, fields or None))
    return error_response(exc.status_code, ErrorBody(_HTTP_CODES.get(exc.status_code, "http_error"), exc.detail))


def database_unreachable(_: Request, exc: Exception) -> Response:
    """A read that needed the database while it was away (a restart, a failover): retryable."""
    log.warning("database unreachable for a read: %s: %s", type(exc).__name__, str(exc).splitlines()[0][:200])
    return error_response(
        503, ErrorBody("unavailable", "the call store is unreachable; retry the request"), {"Retry-After": "1"}
    )


def unexpected_error(_: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, ErrorBody("internal_error", "an unexpected error occurred; it has been logged"))


EXCEPTION_HANDLERS = {
    DomainError: domain_error,
    HTTPException: http_error,
    # Lost connections, refused connects, a database shutting down: not a bug, a wait.
    OperationalError: database_unreachable,
    InterfaceError: database_unreachable,
    ConnectionError: database_unreachable,
    Exception: unexpected_error,
}
