"""The one typed way handlers, hooks and MCP tools reach the running service."""

from __future__ import annotations

from litestar.connection import ASGIConnection

from contextsvc.errors import Unavailable
from contextsvc.service import Service

STANDBY = "standby: another process holds this database's writer lease; this one takes over when it is gone"


def service_of(connection: ASGIConnection) -> Service:
    """The Service the app's lifespan opened (api/app.py); Unavailable (503, Retry-After)
    while a standby server waits for the writer lease."""
    try:
        service: Service = connection.app.state.service
    except AttributeError:
        raise Unavailable(STANDBY, details={"retry_after_s": 1}) from None
    return service
