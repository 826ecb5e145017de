"""GET /health/live and GET /health/ready: the two probes an orchestrator asks. Open (no
API key). /health (api/system.py) stays as it is, for whoever already watches it; ready
is its checks plus the schema's.

Live: the process answers (restart it when this fails). Ready: it can do its job — the
writer takes writes, the database answers, the last commit did not fail, and the schema
is at the revision this code expects (send it no traffic while this fails); 503 with the
reason of each failed check.
"""

from __future__ import annotations

from functools import cache

import msgspec
from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from contextsvc.api.services import service_of
from contextsvc.api.system import health_checks
from contextsvc.errors import Unavailable
from contextsvc.store import UPGRADE_COMMAND, head_revision, revision_of

# The code's newest revision: read from the migration scripts once, not at every probe.
_head = cache(head_revision)


class ReadyBody(msgspec.Struct, omit_defaults=True):
    status: str  # ready | not_ready
    checks: dict[str, str]  # writer, database, writes, schema: "ok" or what is wrong
    reasons: list[str] = []  # "check: what is wrong", for each check that is not ok
    # leader: holds the writer; follower: hands requests to a leader (ready while it is);
    # no_leader: a worker with no leader answering (none elected yet, or it just died)
    role: str = ""
    # on a follower: where its context reads come from (its caches, or the database while
    # it cannot trust them; without Redis, the leader)
    reads: str = ""


@get("/health/live", tags=["system"], summary="Liveness: the process answers")
async def live() -> dict:
    return {"status": "ok"}


@get(
    "/health/ready",
    tags=["system"],
    summary="Readiness: writer, database, writes and schema",
    responses={503: ResponseSpec(ReadyBody, description="not ready: a check is not ok", generate_examples=False)},
)
async def ready(request: Request) -> Response[ReadyBody]:
    try:
        service = service_of(request)
    except Unavailable as exc:  # a worker that does not hold the writer
        forwarding = getattr(request.app.state, "forwarding", None)
        if forwarding is None:
            return Response(
                ReadyBody("not_ready", {"writer": exc.message}, [f"writer: {exc.message}"], "no_leader"),
                status_code=503,
            )
        leader, answered = await forwarding.leader_readiness()
        follower = getattr(request.app.state, "follower", None)
        reads = follower.replica.describe() if follower is not None else "handed to the leader"
        if leader == "ok":
            return Response(ReadyBody("ready", {"leader": "ok"}, role="follower", reads=reads))
        role = "follower" if answered else "no_leader"  # following a leader that is not ready
        return Response(ReadyBody("not_ready", {"leader": leader}, [f"leader: {leader}"], role, reads), status_code=503)
    checks = await health_checks(service)
    if service.writer.unavailable is not None:  # waiting for the database: say so, not "stopped"
        checks["writer"] = service.writer.unavailable
    if checks["database"] == "ok":
        try:
            current, head = await revision_of(service.engine), _head()
            checks["schema"] = (
                "ok" if current == head else f"at revision {current or 'none'}, needs {head}: run `{UPGRADE_COMMAND}`"
            )
        except Exception as exc:  # a probe reports failures, it does not raise them
            checks["schema"] = f"unknown: {type(exc).__name__}"
    else:
        checks["schema"] = "unknown: the database did not answer"
    reasons = [f"{name}: {state}" for name, state in checks.items() if state != "ok"]
    return Response(
        ReadyBody("not_ready" if reasons else "ready", checks, reasons, "leader"), status_code=503 if reasons else 200
    )
