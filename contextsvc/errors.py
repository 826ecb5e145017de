"""Domain errors. Pure: the HTTP layer (api/errors.py) decides how each one is shown.

DomainError
 ├── ValidationFailed      a body or field is wrong (field-level detail)
 ├── NotFound              an id or lookup matches nothing
 ├── Conflict              a replay contradicts what was already accepted
 ├── Unauthenticated       no valid credentials
 ├── Forbidden             valid credentials, missing scope
 ├── UnsupportedMediaType  a body that is not JSON
 ├── RateLimited           too many requests of a kind from one key; retry after a while
 └── Unavailable           the store cannot take work right now
"""

from __future__ import annotations

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    field: str
    code: str
    message: str


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class ValidationFailed(DomainError):
    code = "validation_failed"

    def __init__(self, message: str, fields: list[FieldError], **kw) -> None:
        super().__init__(message, **kw)
        self.fields = fields


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class Unavailable(DomainError):
    code = "unavailable"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s
