"""GET /metrics: Prometheus text format (README "Operating it" lists what is in it).

Open by default, like most exporters (nothing in it names a person, a call or a key); with
CONTEXTSVC_METRICS_KEY set it asks for `Authorization: Bearer <that key>` (Prometheus:
`authorization: {credentials: …}` in the scrape config) — a key of its own, so the
scraper holds no API key.
"""

from __future__ import annotations

import hmac

from litestar import Request, get
from litestar.response.base import ASGIResponse
from litestar.types import ControllerRouterHandler
from prometheus_client import CollectorRegistry, generate_latest

from contextsvc.api.auth import presented_key
from contextsvc.errors import Unauthenticated, Unavailable
from contextsvc.telemetry import CONTENT_TYPE


def metrics_handler(metrics_key: str, registry: CollectorRegistry) -> ControllerRouterHandler:
    @get("/metrics", tags=["system"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> ASGIResponse:
        if metrics_key:
            presented = presented_key(request) or ""
            if not hmac.compare_digest(presented.encode(), metrics_key.encode()):
                raise Unauthenticated("send the metrics key as 'Authorization: Bearer KEY'", code="invalid_metrics_key")
        service = getattr(request.app.state, "service", None)
        if service is None:  # a follower: its requests and replica, nothing of a writer it does not run
            return ASGIResponse(body=generate_latest(registry), media_type=CONTENT_TYPE)
        if service.metrics is None:
            raise Unavailable("metrics are off")
        return ASGIResponse(body=await service.metrics.exposition(), media_type=CONTENT_TYPE)

    return metrics
