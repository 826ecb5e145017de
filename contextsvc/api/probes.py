"""GET /health/live and GET /health/ready: the two probes an orchestrator asks. Open (no
API key). /health (api/system.py) stays as it was, for whoever already watches it.

Live: the process answers (restart it when this fails). Ready: it can do its job — the
database answers, the writer takes writes and the schema is at the revision this code
expects (send it no traffic while this fails); 503 with the reason of each failed check.
"""

from __future__ import annotations

from functools import cache

from litestar import Request, Response, get

from contextsvc.api.services import service_of
from contextsvc.store import UPGRADE_COMMAND, head_revision, revision_of

# The code's newest revision: read from the migration scripts once, not at every probe.
_head = cache(head_revision)


@get("/health/live", tags=["system"], summary="Liveness: the process answers")
async def live() -> dict:
    return {"status": "ok"}


@get("/health/ready", tags=["system"], summary="Readiness: database, writer and schema")
async def ready(request: Request) -> Response[dict]:
    service = service_of(request)
    writer = service.writer
    checks = {"writer": "ok" if writer.running else (writer.failed or writer.unavailable or "stopped")}
    try:
        current, head = await revision_of(service.engine), _head()
        checks["database"] = "ok"
        checks["schema"] = (
            "ok" if current == head else f"at revision {current or 'none'}, needs {head}: run `{UPGRADE_COMMAND}`"
        )
    except Exception as exc:  # a probe reports failures, it does not raise them
        checks["database"] = f"error: {type(exc).__name__}"
        checks["schema"] = "unknown: the database did not answer"
    failed = {name: state for name, state in checks.items() if state != "ok"}
    body: dict[str, object] = {"status": "ready" if not failed else "not_ready", "checks": checks}
    if failed:
        body["reasons"] = [f"{name}: {state}" for name, state in failed.items()]
    return Response(body, status_code=503 if failed else 200)
