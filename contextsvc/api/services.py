"""The one typed way handlers, hooks and MCP tools reach the running service."""

from __future__ import annotations

from litestar.connection import ASGIConnection

from contextsvc.service import Service


def service_of(connection: ASGIConnection) -> Service:
    """The Service the app's lifespan opened (api/app.py)."""
    service: Service = connection.app.state.service
    return service
