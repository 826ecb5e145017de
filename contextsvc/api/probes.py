"""GET /health/live and GET /health/ready: the two probes an orchestrator asks. Open (no
API key). /health (api/system.py) stays as it was, for whoever already watches it.

Live: the process answers (restart it when this fails). Ready: it can do its job — the
database answers, the writer takes writes and the schema is the one this code expects
(send it no traffic while this fails); 503 with the reason of each failed check.
"""

from __future__ import annotations

from litestar import Request, Response, get

from contextsvc.api.services import service_of
from contextsvc.store import schema_drift


@get("/health/live", tags=["system"], summary="Liveness: the process answers")
async def live() -> dict:
    return {"status": "ok"}


@get("/health/ready", tags=["system"], summary="Readiness: database, writer and schema")
async def ready(request: Request) -> Response[dict]:
    service = service_of(request)
    checks = {"writer": "ok" if service.writer.running else (service.writer.failed or "stopped")}
    try:
        async with service.engine.connect() as conn:
            missing = await conn.run_sync(schema_drift)
        checks["database"] = "ok"
        checks["schema"] = (
            "ok"
            if not missing
            else "missing " + ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        )
    except Exception as exc:  # a probe reports failures, it does not raise them
        checks["database"] = f"error: {type(exc).__name__}"
        checks["schema"] = "unknown: the database did not answer"
    failed = {name: state for name, state in checks.items() if state != "ok"}
    body: dict[str, object] = {"status": "ready" if not failed else "not_ready", "checks": checks}
    if failed:
        body["reasons"] = [f"{name}: {state}" for name, state in failed.items()]
    return Response(body, status_code=503 if failed else 200)
