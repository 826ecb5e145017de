"""A follower's hand-off: every request but the worker's own probes and metrics, and the
context reads it serves itself (replica/follower.py), goes to the leader's registered
address, and its answer (an event stream included, chunk by chunk) comes back unchanged.
So a write is acknowledged by a follower only after the leader committed it, and each
route behaves as it does on the leader.

Why HTTP to the leader's address rather than a queue: the leader already serves HTTP with
the same keys, limits and errors, so nothing is re-implemented and nothing is lost between
an acknowledgement and its commit; a queue would need its own acknowledgement, replies and
streaming for the event stream. When no leader answers (none elected yet, or it just died),
the answer is 503 `unavailable` with Retry-After: never a silent drop. A request whose
leader took it and then died or hung may or may not have been applied: 502 `leader_lost`
says so (posting a call again is safe: calls are idempotent by call id and version).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import httpx
import msgspec
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, HTTPScope, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.store import leader_address
from contextsvc.telemetry import REQUEST_ID

log = logging.getLogger(__name__)

FORWARDED = "(handed to the leader)"
# The worker's own state, whichever role it has: never handed on.
LOCAL_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})
# Hop-by-hop headers (RFC 9110 7.6.1) stay on their hop; host is the leader's; the
# request id is echoed by this worker's own observer.
_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"x-request-id",
    }
)
# Also not relayed from the leader's answer: this worker's own server adds them.
_NOT_RELAYED = _HOP | {b"date", b"server"}
_RETRY_AFTER_S = 1


class LeaderDirectory:
    """The leader's address as registered, re-read when it did not answer (a new leader
    registers itself once it serves) and at most every `stale_s` otherwise."""

    def __init__(self, engine: AsyncEngine, stale_s: float = 5.0) -> None:
        self.engine = engine
        self.stale_s = stale_s
        self._address: str | None = None
        self._read_at = 0.0

    async def address(self, refresh: bool = False) -> str | None:
        if refresh or self._address is None or time.monotonic() - self._read_at > self.stale_s:
            try:
                self._address = await leader_address(self.engine)
            except Exception as exc:  # the database away: keep the last address known
                log.warning("the leader's address could not be read: %s", type(exc).__name__)
            self._read_at = time.monotonic()
        return self._address


# What a follower with Redis answers itself: reads of one person (its replica: the
# context, its daily series, the agent action, the person's identity) and the event
# stream (its hub); everything else is the leader's.
_FOLLOWERS_SERVE = frozenset({("GET", "/v1/events/stream"), ("POST", "/v1/agent/call-context")})
_FOLLOWERS_READ = ("/v1/context/", "/v1/individuals/")


def served_by_followers(scope: HTTPScope) -> bool:
    method, path = scope["method"], scope["path"]
    return (method, path) in _FOLLOWERS_SERVE or (method == "GET" and path.startswith(_FOLLOWERS_READ))


class LeaderForwarding:
    """Around the app: on a worker that does not hold the writer (`is_leader()` false),
    hand requests to the leader. `client` is the worker's own connection pool."""

    def __init__(
        self,
        app: ASGIApp,
        is_leader: Callable[[], bool],
        serves_here: Callable[[HTTPScope], bool] = lambda scope: False,
        answer_within_s: float = 30.0,
    ) -> None:
        self.app = app
        self.is_leader = is_leader
        self.serves_here = serves_here  # what a follower answers itself (its context reads)
        # A leader that takes the request but does not start answering in this time (hung,
        # stopped, its host gone) gets the request answered 502 rather than held forever.
        self.answer_within_s = answer_within_s
        # Set for the app's lifetime, on its own event loop (the lifespan).
        self.directory: LeaderDirectory | None = None
        self.client: httpx.AsyncClient | None = None

    async def leader_readiness(self) -> tuple[str, bool]:
        """("ok" when a leader is registered and says it is ready, else what is wrong; whether
        a leader answered at all)."""
        if self.directory is None or self.client is None:
            return "this worker is starting", False
        for attempt in (1, 2):
            address = await self.directory.address(refresh=attempt == 2)
            if address is None:
                return "no leader is elected yet", False
            try:
                answer = await self.client.get(f"{address}/health/ready", timeout=2.0)
            except httpx.TransportError:
                continue  # the registered leader is gone: look again once
            return ("ok" if answer.status_code == 200 else f"the leader at {address} is not ready"), True
        return "the leader does not answer; a new one is being elected", False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"  # type: ignore[comparison-overlap]
            or self.is_leader()
            or scope["path"] in LOCAL_PATHS
            or self.serves_here(scope)  # type: ignore[arg-type]
        ):
            await self.app(scope, receive, send)
            return
        # The route label of this worker's request metrics and log lines (its router never
        # sees the request): one bounded value, not "unmatched".
        scope["path_template"] = FORWARDED
        directory = self.directory
        if directory is None or self.client is None:  # starting or stopping
            await _unavailable(send, "this worker is starting; no leader is known yet")
            return
        await self._forward(scope, receive, send, directory, self.client)  # type: ignore[arg-type]

    async def _forward(
        self, scope: HTTPScope, receive: Receive, send: Send, directory: LeaderDirectory, client: httpx.AsyncClient
    ) -> None:
        headers = [(name, value) for name, value in scope["headers"] if name not in _HOP]
        body = _RequestBody(
            receive,
            has_body=any(
                name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0"))
                for name, value in scope["headers"]
            ),
        )
        request_id = REQUEST_ID.get(None)
        if request_id is not None:
            headers.append((b"x-request-id", request_id if isinstance(request_id, bytes) else request_id.encode()))
        # The path and query as the client sent them, byte for byte (no re-encoding).
        target = scope.get("raw_path") or scope["path"].encode()
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        for attempt in (1, 2):
            address = await directory.address(refresh=attempt == 2)
            if address is None:
                await _unavailable(send, "no leader is elected yet")
                return
            request = client.build_request(
                scope["method"],
                httpx.URL(address).copy_with(raw_path=target),
                headers=headers,
                content=body.stream() if body.has_body else None,
            )
            try:
                response = await asyncio.wait_for(client.send(request, stream=True), self.answer_within_s)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if attempt == 1 and not body.started:  # a dead leader's address: look again
                    continue
                await _unavailable(send, "the leader does not answer; a new one is being elected")
                return
            except (httpx.TransportError, TimeoutError):
                await _leader_lost(send)
                return
            await _relay(response, receive, send, body)
            return


class _RequestBody:
    """The client's body streamed to the leader as it arrives (never held whole)."""

    def __init__(self, receive: Receive, has_body: bool) -> None:
        self.receive = receive
        self.has_body = has_body  # from the request's headers: without one, nothing is read
        self.started = False
        self.done = False

    async def stream(self) -> AsyncIterator[bytes]:
        self.started = True
        while not self.done:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise httpx.ReadError("the client went away while sending its body")
            self.done = not message.get("more_body", False)
            chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
            if chunk:
                yield chunk


async def _relay(response: httpx.Response, receive: Receive, send: Send, body: _RequestBody) -> None:
    """The leader's answer to the client, chunk by chunk; a client that disconnects (an
    event stream's reader leaving) ends the leader's response too."""
    headers = [
        (name.lower(), value) for name, value in response.headers.raw if name.lower() not in _NOT_RELAYED
    ]  # content-length and content-encoding pass: the bytes pass unchanged
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})

    async def pump() -> None:
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def client_gone() -> None:
        while True:
            if (await receive())["type"] == "http.disconnect":
                return

    relaying = asyncio.ensure_future(pump())
    watching = asyncio.ensure_future(client_gone()) if body.done or not body.started else None
    try:
        if watching is None:
            await relaying
        else:
            await asyncio.wait({relaying, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relaying, watching):
            if task is not None and not task.done():
                task.cancel()
        await response.aclose()
    if relaying.done() and not relaying.cancelled() and relaying.exception() is not None:
        log.warning("the leader's answer broke off: %s", type(relaying.exception()).__name__)


_ERROR = msgspec.json.Encoder()


async def _unavailable(send: Send, message: str) -> None:
    """503 with Retry-After: nothing reached a leader, so sending it again is safe."""
    await _error(send, 503, {"code": "unavailable", "message": message}, retry_after=True)


async def _leader_lost(send: Send) -> None:
    """502: the leader took the request and did not answer (it died or hung), so whether it
    was applied is unknown. Not 503: a client that repeats every 503 must not repeat this
    blindly. A call is idempotent (call id and version): posting it again is safe."""
    message = (
        "the leader took the request but did not answer; whether it was applied is unknown "
        "(a call posted again is recognised; check other writes before repeating them)"
    )
    await _error(send, 502, {"code": "leader_lost", "message": message}, retry_after=False)


async def _error(send: Send, status: int, body: dict, retry_after: bool) -> None:
    payload = _ERROR.encode(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if retry_after:
        headers.append((b"retry-after", str(_RETRY_AFTER_S).encode()))
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": headers}
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": payload, "more_body": False}
    await send(start)
    await send(end)
