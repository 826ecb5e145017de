"""GET /health: liveness plus a database round trip. Open (no API key)."""

from __future__ import annotations

from litestar import Request, Response, get

from contextsvc.api.services import service_of
from contextsvc.store import ping


@get("/health", tags=["system"], summary="Liveness and database check")
async def health(request: Request) -> Response[dict]:
    service = service_of(request)
    checks = {"writer": "ok" if service.writer.running else (service.writer.failed or "stopped")}
    try:
        await ping(service.engine)
        checks["database"] = "ok"
    except Exception as exc:  # a health check reports failures, it does not raise them
        checks["database"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return Response({"status": "ok" if healthy else "degraded", "checks": checks}, status_code=200 if healthy else 503)
