"""GET /v1/quality and /v1/quality/alerts: how healthy the call data is, and what degraded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from litestar import Controller, Request, get
from litestar.exceptions import ValidationException
from litestar.params import Parameter, QueryParameter

from contextsvc.api.params import FIRST_DAY, supported_day
from contextsvc.api.services import service_of
from contextsvc.quality import GroupBy, QualityAlert, QualityReport, quality_alerts, quality_report

MAX_RANGE_DAYS = 3660


class QualityController(Controller):
    path = "/v1/quality"
    tags = ["data quality"]

    @get("/", opt={"scope": "context:read"}, summary="Data-quality report over a range of UTC days")
    async def report(
        self,
        request: Request,
        first: Annotated[
            date | None,
            QueryParameter(name="from", description="first UTC day (YYYY-MM-DD); default 29 days before `to`"),
        ] = None,
        last: Annotated[
            date | None, QueryParameter(name="to", description="last UTC day, inclusive; default today")
        ] = None,
        group_by: GroupBy = Parameter(default="source", description="source, rep, queue, day or direction"),
    ) -> QualityReport:
        """Shares of calls with each data-quality problem, per group, with quarantine reasons
        and identity health. Calls count on their own UTC start day (on the day they arrived
        when that start time is in the future or implausibly old); quarantined items and
        identity events count on the day they happened."""
        supported_day("from", first, "GET /v1/quality")
        supported_day("to", last, "GET /v1/quality")
        last = last or datetime.now(UTC).date()
        first = first or max(FIRST_DAY, last - timedelta(days=29))
        if first > last or (last - first).days >= MAX_RANGE_DAYS:
            raise ValidationException(
                "Validation failed for GET /v1/quality",
                extra=[
                    {"key": "from", "message": f"from must be on or before to, at most {MAX_RANGE_DAYS} days apart"}
                ],
            )
        async with service_of(request).engine.connect() as conn:
            return await conn.run_sync(quality_report, first, last, group_by)

    @get("/alerts", opt={"scope": "context:read"}, summary="Degradation alerts, newest first")
    async def alerts(
        self,
        request: Request,
        since: date | None = Parameter(default=None, description="only alerts about this UTC day or later"),
        dimension: Literal["all", "source", "rep", "queue"] | None = Parameter(
            default=None, description="only this dimension"
        ),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> list[QualityAlert]:
        supported_day("since", since, "GET /v1/quality/alerts")
        async with service_of(request).engine.connect() as conn:
            return await conn.run_sync(quality_alerts, since, limit, dimension)
