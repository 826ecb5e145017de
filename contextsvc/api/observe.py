"""The ASGI layer around the whole app (only the context fast path, api/fast_context.py,
is outside it, and hands it what it does not answer): a request id for every request (X-Request-ID if the client
sent a sane one, else a new one; echoed in the response), its duration in the request
histogram by route template, method and status, a log line when it failed or was slow
(or for every request with CONTEXTSVC_ACCESS_LOG=all), and, when traced, the request
span renamed to the route template with the raw path taken out of its attributes.

Wrapped around the whole app, outside Litestar's routing, so unknown routes (404) and
wrong methods (405) are counted too. A request is measured from its arrival to the start
of its response (for the event stream: until it is connected). Per request it costs a
header scan, a contextvar set and reset, a bisect and two additions; the target is warm
reads with metrics and logging at 95% or more of the throughput without them
(bench/observability.py; BENCHMARKS.md has where it stands).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
from bisect import bisect_left
from collections.abc import Awaitable, Iterable
from functools import lru_cache
from time import perf_counter

from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from opentelemetry import trace

from contextsvc.api.auth import presented_key_of_headers
from contextsvc.pipeline import key_fingerprint
from contextsvc.telemetry import LATENCY_BUCKETS, REQUEST_ID, REQUEST_LOGGER, RequestHistogram

_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._:=+/-]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STARTED = "contextsvc.started"  # a scope key: when a layer outside this one took the request
UNMATCHED = "unmatched"  # the route label of a path no route matches
_BOUNDS = LATENCY_BUCKETS
# Span attributes the ASGI instrumentation fills from the raw path and query string.
_RAW_URL_ATTRIBUTES = ("http.target", "url.path", "http.url", "url.full", "url.query")
log = logging.getLogger(REQUEST_LOGGER)


@lru_cache(maxsize=256)  # keys are few; a log line should not hash one each time
def _fingerprint(key: str) -> str:
    return key_fingerprint(key)


class RequestObserver:
    def __init__(
        self,
        app: ASGIApp,
        durations: RequestHistogram | None,
        *,
        access_log: str = "errors",
        slow_request_ms: float = 1000.0,
        traced: bool = False,
    ) -> None:
        self.app = app
        self.durations = durations
        self.log_all = access_log == "all"
        self.log_any = access_log != "off"
        self.slow_s = slow_request_ms / 1000
        self.traced = traced
        # Request ids: `<8 random hex>-<counter>`, unique across processes and restarts at a
        # fraction of uuid4's cost; bytes, as the header carries them (decoded for a log line).
        self._id_format = secrets.token_hex(4).encode() + b"-%x"
        self._next_id = itertools.count(1).__next__
        # (route template, method, status) -> the histogram's counts for that label set
        self._series: dict[tuple[str | None, str, int], list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Written for its cost, as it runs on every request (bench/observability.py): few
        # calls on the way of a served request, state read through locals.
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        started: float = scope.get(STARTED) or perf_counter()  # type: ignore[assignment]
        request_id = self.request_id(scope["headers"])
        responded = False

        def observed_send(message: Message) -> Awaitable[None]:
            # A plain function returning send's awaitable: no coroutine frame of its own.
            # The request is measured and logged as its response starts: for every route
            # but the event stream that is when it is done.
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
                elapsed = perf_counter() - started
                try:
                    message["headers"].append((_HEADER, request_id))  # type: ignore[attr-defined]
                except (KeyError, AttributeError):  # not a list: ASGI allows any iterable
                    message["headers"] = [*message.get("headers", ()), (_HEADER, request_id)]
                self.served(scope, message["status"], elapsed, request_id)  # type: ignore[arg-type]
            return send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, observed_send)
        except BaseException as exc:
            if not responded:  # 499: the client went away before an answer
                status = 499 if isinstance(exc, asyncio.CancelledError) else 500
                self.served(scope, status, perf_counter() - started, request_id)  # type: ignore[arg-type]
            raise
        finally:
            REQUEST_ID.reset(token)

    def request_id(self, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
        """The client's X-Request-ID if it is sane, else a new one."""
        for name, value in headers:
            if name == _HEADER:
                if _SANE_ID.fullmatch(value):
                    return value
                break
        return self._id_format % self._next_id()

    def served(self, scope: HTTPScope, status: int, elapsed: float, request_id: bytes, counted: bool = False) -> None:
        """A response started `elapsed` seconds after its request arrived: into the
        histogram (unless the caller `counted` it), onto the span, into the log when it
        failed or was slow. Also called by the context fast path (api/fast_context.py),
        which answers without the app."""
        if not counted:
            key = (scope.get("path_template"), scope["method"], status)
            series = self._series.get(key) or self._new_series(key)
            if series is not None:
                series[bisect_left(_BOUNDS, elapsed)] += 1
                series[-1] += elapsed
        trace_id = _name_span(scope) if self.traced else None
        if self.log_any and (self.log_all or status >= 400 or elapsed >= self.slow_s):
            self._log(scope, request_id.decode("ascii"), status, elapsed, trace_id)

    def series_for(self, template: str, method: str, status: int) -> list[float] | None:
        """The histogram counts of one label set, for a caller that counts into them
        itself (the context fast path: a call per request costs it more than the count)."""
        return self._series.get((template, method, status)) or self._new_series((template, method, status))

    def _new_series(self, key: tuple[str | None, str, int]) -> list[float] | None:
        """The counts for a label set not seen yet. Keys with a method no route knows are
        not kept (clients choose methods): they map to "OTHER" on every request."""
        if self.durations is None:
            return None
        series = self.durations.series(*_labels(*key))
        if key[1] in _METHODS:
            self._series[key] = series
        return series

    def _log(self, scope: HTTPScope, request_id: str, status: int, elapsed: float, trace_id: str | None) -> None:
        route, method, _ = _labels(scope.get("path_template"), scope["method"], status)
        level = logging.ERROR if status >= 500 else logging.WARNING if elapsed >= self.slow_s else logging.INFO
        if not log.isEnabledFor(level):
            return
        presented = presented_key_of_headers(scope["headers"])
        fields = {
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "key": _fingerprint(presented) if presented else None,
        }
        if trace_id:
            fields["trace_id"] = trace_id
        message = f"{method} {route} {status} {elapsed * 1000:.1f} ms"
        # makeRecord + handle, not log.info: no stack walk to find the caller, who is always us.
        log.handle(log.makeRecord(log.name, level, __file__, 0, message, (), None, extra=fields))


def _labels(template: str | None, method: str, status: int) -> tuple[str, str, str]:
    """Bounded label values: the route template (or "unmatched"), a known method (or
    "OTHER": clients can send any token), the status."""
    return template or UNMATCHED, method if method in _METHODS else "OTHER", str(status)


def _name_span(scope: HTTPScope) -> str | None:
    """The server span (current while the response starts) named after the route
    template; the raw path and query, which can hold a phone number or an email, replaced
    by the template. Returns the trace id for the request's log line."""
    span = trace.get_current_span()
    if not span.is_recording():
        return None
    route, method, _ = _labels(scope.get("path_template"), scope["method"], 0)
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    present = getattr(span, "attributes", None) or {}
    for name in _RAW_URL_ATTRIBUTES:
        if name in present:
            span.set_attribute(name, "" if name == "url.query" else route)
    return format(span.get_span_context().trace_id, "032x")
