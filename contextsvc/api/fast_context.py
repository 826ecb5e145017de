"""GET /v1/context/{lookup} answered before the framework: the hot path of the service.

Every agent's grounding call is this read, and on a warm read the framework's routing,
parameter parsing, hooks and response objects cost more than the read itself (a bare
Litestar endpoint returning fixed bytes was the ceiling: BENCHMARKS.md). This layer,
outermost in the ASGI stack, serves the plain case itself — a known key with the
`context:read` scope, no request limit on it, a lookup the key may make freely, and a
query of at most `max_tokens`, `recent` and `format` in their valid ranges — through the
same read as ContextController (`ContextReads.read`, memoised and validated by profile
version) and the same request observer (histogram, request id, log line).

Anything else goes to the app unchanged: a missing or wrong key, `as_of`, another query
parameter or value, a rate-limited key or lookup, tracing, and any failure of the read
(not found, ambiguous, storage), so every error is answered by the one place that
answers errors (api/errors.py), exactly as before. A read that failed here is read again
there (twice the work for a 404; the observer times both, from the first); reads
have no effects but cache fills.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime
from time import perf_counter
from typing import cast

from litestar._asgi.utils import is_valid_host
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from contextsvc.api.auth import ApiKey, disclosure_for, find_key, presented_key_of_headers
from contextsvc.api.observe import STARTED, RequestObserver
from contextsvc.identity import parse_lookup
from contextsvc.telemetry import LATENCY_BUCKETS

PREFIX = "/v1/context/"
TEMPLATE = "/v1/context/{lookup}"  # the route's template, as Litestar puts it in the scope
SCOPE = "context:read"
_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_BOUNDS = {"max_tokens": (20, 4000), "recent": (0, 50)}  # as ContextController declares them
_DEFAULTS = (300, 5, "json")


def plain_query(query: bytes) -> tuple[int, int, str] | None:
    """(max_tokens, recent, format) from a query this layer may answer, else None."""
    if not query:
        return _DEFAULTS
    max_tokens, recent, form = _DEFAULTS
    seen = set()
    for pair in query.split(b"&"):
        name, _, raw = pair.partition(b"=")
        key = name.decode("latin-1")
        if key in seen:
            return None
        seen.add(key)
        if key == "format":
            if raw not in (b"json", b"prompt"):
                return None
            form = raw.decode()
        elif key in _BOUNDS:
            # Litestar's int parsing refuses leading zeros ("05"): so does this.
            if not raw.isdigit() or len(raw) > 5 or (len(raw) > 1 and raw[:1] == b"0"):
                return None
            number = int(raw)
            low, high = _BOUNDS[key]
            if not low <= number <= high:
                return None
            if key == "max_tokens":
                max_tokens = number
            else:
                recent = number
        else:
            return None
    return max_tokens, recent, form


class ContextFastPath:
    def __init__(
        self, app: ASGIApp, state: object, api_keys: list[ApiKey], observer: RequestObserver | None, rate_limited: bool
    ) -> None:
        self.app = app
        self.state = state  # the app's State: `service` on the leader, `follower` on a follower
        self.api_keys = api_keys
        self.observer = observer
        self.rate_limited = rate_limited
        self._series = observer.series_for(TEMPLATE, "GET", 200) if observer is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(PREFIX):  # type: ignore[comparison-overlap, typeddict-item]
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        answer = await self._answer(cast(HTTPScope, scope))
        if answer is None:
            # The observer measures from here: a read that failed here is read again there.
            scope[STARTED] = started  # type: ignore[literal-required]
            await self.app(scope, receive, send)
            return
        body, headers = answer
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        observer = self.observer
        if observer is None:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        request_id = observer.request_id(scope["headers"])
        headers.append((b"x-request-id", request_id))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # RequestObserver.served, inlined: counted straight into this route's series.
        elapsed = perf_counter() - started
        series = self._series
        if series is not None:
            series[bisect_left(LATENCY_BUCKETS, elapsed)] += 1
            series[-1] += elapsed
        if observer.log_all or elapsed >= observer.slow_s:
            scope["path_template"] = TEMPLATE
            observer.served(cast(HTTPScope, scope), 200, elapsed, request_id, counted=True)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _answer(self, scope: HTTPScope) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
        """The response body and headers, or None: the app answers this request."""
        lookup = scope["path"][len(PREFIX) :]
        if not lookup or "/" in lookup:
            return None
        query = plain_query(scope["query_string"])
        if query is None:
            return None
        host = next((value for name, value in scope["headers"] if name == b"host"), None)
        if host is not None and not is_valid_host(host):
            return None  # Litestar answers 400
        presented = presented_key_of_headers(scope["headers"])
        key = find_key(self.api_keys, presented) if presented else None
        if key is None or not key.allows(SCOPE):
            return None
        readers = getattr(self.state, "service", None) or getattr(self.state, "follower", None)
        if readers is None:
            return None
        if self.rate_limited and readers.limits.keys.for_key(key.key) is not None:
            return None
        settings = readers.settings
        disclosure = disclosure_for(key, settings.notes_max_chars, settings.default_region)
        max_tokens, recent, form = query
        as_of = datetime.now(UTC)
        try:
            lookup_key = parse_lookup(lookup, settings.default_region)
            if lookup_key.kind in ("phone", "email") and not disclosure.pii:
                return None  # looked up at a bounded rate (api/serving.py: guard_lookup)
            context = await readers.reads.read(lookup_key, as_of, recent, max_tokens, disclosure)
        except Exception:  # noqa: BLE001 - the app reads again and answers the failure as it always has
            return None
        if form == "prompt":
            return context.prompt_at(as_of).encode(), _TEXT
        return context.json(as_of), _JSON
