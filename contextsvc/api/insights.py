"""/v1/insights/…: calculated insights with dimensions and a time range; /v1/accounts
loads the market attributes (industry, region, segment) they group by."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import ValidationException
from litestar.params import Parameter, QueryParameter
from sqlalchemy import Row

from contextsvc.api.bodies import decode_body
from contextsvc.api.params import FIRST_DAY, supported_day
from contextsvc.api.services import service_of
from contextsvc.api.serving import disclosure_of
from contextsvc.errors import FieldError, ValidationFailed
from contextsvc.identity import InvalidIdentifier, normalise_salesforce_id
from contextsvc.insights import HOUR_US, hour_rows, people
from contextsvc.timeutil import day_of, from_micros, micros

MARKET_DIMENSIONS = ("industry", "region", "segment")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Freshness(msgspec.Struct):
    as_of: datetime  # the newest commit included
    how: str


class Insight(msgspec.Struct):
    insight: str
    dimensions: list[str]
    freshness: Freshness
    rows: list[Any]
    range: dict[str, date] | None = None  # UTC days, inclusive


Since = Annotated[date | None, QueryParameter(name="from", description="first UTC day (default: 29 days before to)")]
Until = Annotated[date | None, QueryParameter(name="to", description="last UTC day, inclusive (default: today)")]
REAL_TIME = "exact: counters updated in every ingest transaction"
DIGESTS = "exact as of the last commit: per-person digests replaced after every commit, aggregated on request"


def _bad(field: str, message: str) -> ValidationException:
    return ValidationException("Validation failed", extra=[{"key": field, "message": message}])


def _dims(by: str, allowed: tuple[str, ...]) -> list[str]:
    dims = [d.strip() for d in by.split(",") if d.strip()]
    unknown = [d for d in dims if d not in allowed]
    if unknown:
        raise _bad("by", f"unknown dimension(s) {unknown}; valid: {list(allowed)}")
    return dims


def _days(since: date | None, until: date | None) -> tuple[date, date]:
    supported_day("from", since, "GET /v1/insights")
    supported_day("to", until, "GET /v1/insights")
    until = until or datetime.now(UTC).date()
    since = since or max(FIRST_DAY, until - timedelta(days=29))
    if since > until:
        raise _bad("from", "from is after to")
    return since, until


async def _rows(request: Request, since: date, until: date, direction: str | None) -> Sequence[Row[Any]]:
    first = micros(datetime(since.year, since.month, since.day, tzinfo=UTC)) // HOUR_US
    last = first + ((until - since).days + 1) * 24 - 1
    async with service_of(request).engine.connect() as conn:
        return await conn.run_sync(hour_rows, first, last, direction)


def _freshness(request: Request, how: str) -> Freshness:
    return Freshness(from_micros(service_of(request).branches.insights.fresh_as_of), how)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class InsightsController(Controller):
    path = "/v1/insights"
    tags = ["insights"]

    @get("/connect-rate", opt={"scope": "context:read"}, summary="Connect rate by UTC hour of day and/or weekday")
    async def connect_rate(
        self,
        request: Request,
        by: str = Parameter(default="hour", description="hour, weekday or hour,weekday"),
        since: Since = None,
        until: Until = None,
        direction: str | None = Parameter(default="outbound", description="outbound, inbound, or empty for both"),
    ) -> Insight:
        dims = _dims(by, ("hour", "weekday"))
        since, until = _days(since, until)
        groups: dict[tuple, list[int]] = {}
        for row in await _rows(request, since, until, direction or None):
            start = from_micros(row.hour * HOUR_US)
            key = tuple(start.hour if d == "hour" else WEEKDAYS[start.weekday()] for d in dims)
            entry = groups.setdefault(key, [0, 0])
            entry[0] += row.calls
            entry[1] += row.connects
        order = {d: i for i, d in enumerate(WEEKDAYS)}
        rows = [
            {
                **dict(zip(dims, key, strict=True)),
                "calls": calls,
                "connects": connects,
                "connect_rate": _ratio(connects, calls),
            }
            for key, (calls, connects) in sorted(groups.items(), key=lambda kv: [order.get(k, k) for k in kv[0]])
        ]
        return Insight("connect_rate", dims, _freshness(request, REAL_TIME), rows, {"from": since, "to": until})

    @get(
        "/contact-centre",
        opt={"scope": "context:read"},
        summary="Per queue: answer and abandonment rates, average handle time, callbacks",
    )
    async def contact_centre(
        self,
        request: Request,
        since: Since = None,
        until: Until = None,
    ) -> Insight:
        since, until = _days(since, until)
        queues: dict[str, dict[str, int]] = {}
        for row in await _rows(request, since, until, None):
            if not row.queue or row.direction not in ("inbound", "outbound"):
                continue
            q = queues.setdefault(
                row.queue,
                dict.fromkeys(
                    (
                        "offered",
                        "answered",
                        "abandoned",
                        "callback_requests",
                        "handle_seconds",
                        "callbacks_completed",
                        "callbacks_missed",
                    ),
                    0,
                ),
            )
            if row.direction == "inbound":
                q["offered"] += row.calls
                q["answered"] += row.answered
                q["abandoned"] += row.abandoned
                q["callback_requests"] += row.callback_requests
                q["handle_seconds"] += row.handle_seconds
            else:  # an agent calling a queued caller back
                q["callbacks_completed"] += row.connects
                q["callbacks_missed"] += row.calls - row.connects
        rows = []
        for name, q in sorted(queues.items()):
            handle = q.pop("handle_seconds")
            rows.append(
                {
                    "queue": name,
                    **q,
                    "answer_rate": _ratio(q["answered"], q["offered"]),
                    "abandonment_rate": _ratio(q["abandoned"], q["offered"]),
                    "avg_handle_seconds": round(handle / q["answered"], 1) if q["answered"] else None,
                }
            )
        return Insight("contact_centre", ["queue"], _freshness(request, REAL_TIME), rows, {"from": since, "to": until})

    @get(
        "/first-connect",
        opt={"scope": "context:read"},
        summary="Average outbound attempts to first connect, by market (industry, region, segment)",
    )
    async def first_connect(self, request: Request, by: str = Parameter(default="industry")) -> Insight:
        dims = _dims(by, MARKET_DIMENSIONS)
        insights = service_of(request).branches.insights
        rows = people.first_connect(list(insights.digests.values()), insights.market_of, dims)
        return Insight("first_connect", dims, _freshness(request, DIGESTS), rows)

    @get(
        "/velocity",
        opt={"scope": "context:read"},
        summary="Distribution of engagement velocity (calls per week, last 30 days), by market",
    )
    async def velocity(self, request: Request, by: str = Parameter(default="")) -> Insight:
        dims = _dims(by, MARKET_DIMENSIONS)
        insights = service_of(request).branches.insights
        today = day_of(micros(datetime.now(UTC)))
        rows = people.velocity(list(insights.digests.values()), insights.market_of, dims, today)
        return Insight("velocity", dims, _freshness(request, DIGESTS), rows)

    @get(
        "/stage-progression",
        opt={"scope": "context:read"},
        summary="Calls logged per opportunity, by the stage each has reached",
    )
    async def stage_progression(self, request: Request) -> Insight:
        rows = people.stage_progression(list(service_of(request).branches.insights.digests.values()))
        disclosure = disclosure_of(request)  # stages are free text, typed into the CRM
        if not disclosure.pii:
            for row in rows:
                row.stage = disclosure.text(row.stage)
        return Insight("stage_progression", ["stage"], _freshness(request, DIGESTS), rows)


class Market(msgspec.Struct, forbid_unknown_fields=True):
    account_id: Annotated[str, msgspec.Meta(min_length=15, max_length=18)]
    name: str | None = None
    industry: str | None = None
    region: str | None = None
    segment: str | None = None


class Markets(msgspec.Struct, forbid_unknown_fields=True):
    accounts: Annotated[list[Market], msgspec.Meta(min_length=1, max_length=10_000)]


class Loaded(msgspec.Struct):
    loaded: int


@post(
    "/v1/accounts",
    opt={"scope": "segments:write"},
    status_code=200,
    tags=["insights"],
    summary="Load accounts' market attributes (Salesforce Account Industry, region, segment)",
)
async def load_accounts(request: Request) -> Loaded:
    body = await decode_body(request, Markets, "account list")
    rows = []
    for i, market in enumerate(body.accounts):
        try:
            account_id = normalise_salesforce_id(market.account_id)
        except InvalidIdentifier as exc:
            raise ValidationFailed(
                "invalid account id", [FieldError(f"accounts[{i}].account_id", exc.code, exc.message)]
            ) from None
        rows.append({**msgspec.structs.asdict(market), "account_id": account_id})
    await service_of(request).load_markets(rows)
    return Loaded(len(rows))
