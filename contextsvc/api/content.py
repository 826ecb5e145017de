"""Request bodies are JSON, and say so: a body sent as text/plain or a form is refused
(415) rather than guessed at, before anything reads it."""

from __future__ import annotations

from litestar import Request

from contextsvc.errors import UnsupportedMediaType

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def has_body(request: Request) -> bool:
    headers = request.headers
    length = headers.get("content-length")
    return bool(headers.get("transfer-encoding")) or (length is not None and length.strip() not in ("", "0"))


def require_json(request: Request) -> None:
    if request.method not in _WITH_BODY or not has_body(request):
        return
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    # A handler that reads other bodies too says so: POST /v1/dnc takes CSV uploads.
    accepted = ("application/json", *request.route_handler.opt.get("also_accepts", ()))
    if media_type not in accepted:
        raise UnsupportedMediaType(
            f"send the body as 'Content-Type: {' or '.join(accepted)}' (got {media_type or 'no content type'!r})",
            details={"expected": list(accepted)},
        )
