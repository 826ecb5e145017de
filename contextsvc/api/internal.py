"""The leader's second listener: where the other workers hand it requests (api/forward.py).

`serve --workers N` runs N processes on one port, and the kernel gives each connection to
any of them, so the leader cannot be reached there by address; it also listens on
INTERNAL_HOST:INTERNAL_PORT (any free port by default), serving the same app, and
registers that address in the database for the followers.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from litestar.types import ASGIApp

from contextsvc.settings import Settings

log = logging.getLogger(__name__)


class _Listener(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the process's own server owns its signals; this one stops with the app


@asynccontextmanager
async def internal_listener(app: ASGIApp, settings: Settings) -> AsyncIterator[str]:
    """Serve `app` on the internal address until the block ends; yields the address the
    followers are to use (`http://ADVERTISE_HOST:port`)."""
    sock = socket.socket(socket.AF_INET6 if ":" in settings.internal_host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.internal_host, settings.internal_port))
    port = sock.getsockname()[1]
    # An event stream handed on never ends by itself: stopping waits for it 1 s at most.
    # No X-Forwarded-* trusted: followers pass the client's headers on as they came.
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=False,
        loop="none",
        timeout_graceful_shutdown=1,
        proxy_headers=False,
    )
    server = _Listener(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="internal-listener")
    host = settings.advertise_host or settings.internal_host
    try:
        while not server.started:
            if serving.done():  # it stopped before it started: say why
                await serving
                raise RuntimeError("the internal listener stopped as it started")
            await asyncio.sleep(0.01)
        yield f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        sock.close()
