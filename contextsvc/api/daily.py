"""GET /v1/context/{lookup}/daily: a person's calls and conversations per UTC day."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Request, get
from litestar.params import FromPath, Parameter

from contextsvc.api.auth import api_key_of
from contextsvc.api.services import person_reads, readers_of
from contextsvc.api.serving import guard_lookup, utc_as_of
from contextsvc.context import DayCounts, daily_counts
from contextsvc.identity import parse_lookup
from contextsvc.timeutil import day_of, micros


class DailyCounts(msgspec.Struct):
    individual_id: str
    as_of: datetime
    days: list[DayCounts]  # oldest first, one per UTC day up to as_of's, zeros included


@get(
    "/v1/context/{lookup:str}/daily",
    opt={"scope": "context:read", "errors": (409, 422, 429)},
    tags=["context"],
    operation_id="getDailyCallCounts",
    summary="A person's calls and conversations per UTC day (e.g. for a 90-day chart)",
)
async def daily_calls(
    request: Request,
    lookup: FromPath[str],
    days: int = Parameter(default=90, ge=1, le=400, description="how many UTC days, ending with as_of's"),
    as_of: datetime | None = Parameter(default=None, description="ISO 8601 with timezone; default now"),
) -> DailyCounts:
    """The day buckets the context's 7/30/90-day windows are summed from: the last 90 of
    them add up to `windows.90d` of the context at the same `as_of`. Lookups as for
    GET /v1/context/{lookup}. Contains no personal data beyond the individual id."""
    service = readers_of(request)
    as_of = utc_as_of(as_of, "GET /v1/context/{lookup}/daily")
    key = parse_lookup(lookup, service.settings.default_region)
    await guard_lookup(service, api_key_of(request), key)  # as for the context: masked keys at a bounded rate
    reads = await person_reads(service)
    individual_id = await reads.resolve(key)
    as_of_us = micros(as_of)
    _, profile = await reads.profiles.state(individual_id)
    if profile.last_call is not None and profile.last_call[0] > as_of_us:  # a look back: as the context does
        profile = await reads.profiles.history(individual_id, as_of_us)
    return DailyCounts(individual_id, as_of, daily_counts(profile, day_of(as_of_us), days))
