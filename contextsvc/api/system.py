"""GET /health: liveness, a database round trip, and whether writes are committing.
Open (no API key). The checks are one function, so liveness and readiness answers can
be cut from them separately."""

from __future__ import annotations

import msgspec
from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from contextsvc.api.services import service_of
from contextsvc.errors import Unavailable
from contextsvc.service import Service
from contextsvc.store import ping


class HealthBody(msgspec.Struct):
    status: str  # ok | degraded
    checks: dict[str, str]  # writer, database, writes: "ok" or what is wrong


async def health_checks(service: Service) -> dict[str, str]:
    """ "ok" or what is wrong, per part: the writer task, the database, the last commit."""
    writer = service.writer
    checks = {"writer": "ok" if writer.running else (writer.failed or "stopped")}
    try:
        await ping(service.engine)
        checks["database"] = "ok"
    except Exception as exc:  # a health check reports failures, it does not raise them
        checks["database"] = f"error: {type(exc).__name__}"
    if writer.write_failure is None:
        checks["writes"] = "ok"
    else:
        cause, since = writer.write_failure
        checks["writes"] = f"failing since {since.isoformat()}: {cause}"
    return checks


@get(
    "/health",
    tags=["system"],
    summary="Liveness, database and write checks",
    responses={503: ResponseSpec(HealthBody, description="degraded: a check is not ok", generate_examples=False)},
)
async def health(request: Request) -> Response[HealthBody]:
    """200 with every check "ok"; 503 "degraded" when one is not — e.g. `writes` when the
    last commit failed (disk full, read-only volume) and none has succeeded since."""
    try:
        checks = await health_checks(service_of(request))
    except Unavailable as exc:  # a standby, waiting for the writer lease
        return Response(HealthBody("degraded", {"writer": exc.message}), status_code=503)
    healthy = all(v == "ok" for v in checks.values())
    return Response(HealthBody("ok" if healthy else "degraded", checks), status_code=200 if healthy else 503)
