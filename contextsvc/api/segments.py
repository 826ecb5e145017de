"""/v1/segments: define segments, list them with counts, page through their members."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, Parameter

from contextsvc.api.bodies import decode_body
from contextsvc.api.services import service_of
from contextsvc.errors import NotFound
from contextsvc.segments import LiveSegment, SegmentSpec, SegmentView, members_page
from contextsvc.service import Service
from contextsvc.timeutil import DAY_US, from_micros, micros


class SegmentOut(msgspec.Struct):
    id: str
    name: str
    subject: str
    description: str | None
    condition: dict[str, Any]
    created_at: datetime
    time_dependent: bool  # membership can change as days pass, not only on ingest
    members: int
    evaluated_for: date | None  # the UTC day membership is exact for


class SegmentList(msgspec.Struct):
    segments: list[SegmentOut]


class Member(msgspec.Struct):
    id: str  # individual id, or Salesforce Account id for account segments
    entered_at: datetime


class MembersPage(msgspec.Struct):
    segment_id: FromPath[str]
    subject: str
    count: int
    evaluated_for: date | None
    members: list[Member]
    next_cursor: str | None


class AttributeOut(msgspec.Struct):
    name: str
    kind: str
    time_dependent: bool
    choices: list[str] | None


def _out(segment: LiveSegment, view: SegmentView) -> SegmentOut:
    return SegmentOut(
        segment.id,
        segment.name,
        segment.subject,
        segment.description,
        msgspec.to_builtins(segment.condition),
        from_micros(segment.created_at),
        segment.time_dependent,
        view.counts.get(segment.id, 0),
        from_micros(view.day * DAY_US).date() if view.day is not None else None,
    )


def _now_us() -> int:
    return micros(datetime.now(UTC))


async def _view(request: Request) -> SegmentView:
    return await service_of(request).branches.segments.current(_now_us())


async def segment_members(service: Service, segment: str, cursor: str | None, limit: int) -> MembersPage:
    """A page of a segment's members (by id, or by exact name): the API's and MCP's answer."""
    view = await service.branches.segments.current(_now_us())
    by_name = [s.id for s in view.segments.values() if s.name == segment and s.rule_id is None]
    segment_id = segment if segment in view.segments or len(by_name) != 1 else by_name[0]
    found = _visible(view, segment_id)
    async with service.engine.connect() as conn:
        rows = await conn.run_sync(members_page, segment_id, cursor, limit)
    return MembersPage(
        segment_id,
        found.subject,
        view.counts.get(segment_id, 0),
        from_micros(view.day * DAY_US).date() if view.day is not None else None,
        [Member(member_id, from_micros(at)) for member_id, at in rows],
        rows[-1][0] if len(rows) == limit else None,
    )


def _visible(view: SegmentView, segment_id: FromPath[str]) -> LiveSegment:
    segment = view.segments.get(segment_id)
    if segment is None or segment.rule_id is not None:
        raise NotFound(f"no segment {segment_id}", details={"segment_id": segment_id})
    return segment


class SegmentsController(Controller):
    path = "/v1/segments"
    tags = ["segments"]

    @post("/", opt={"scope": "segments:write"}, summary="Define a segment; its members are computed at once")
    async def create_segment(self, request: Request) -> Response[SegmentOut]:
        """Body: SegmentSpec (name, condition, subject, description); see seed/segments/."""
        segments = service_of(request).branches.segments
        spec = await decode_body(request, SegmentSpec, "segment")
        segment = segments.prepare(spec, _now_us())  # 422 before anything is written
        await segments.define(segment)
        return Response(_out(segment, segments.view), status_code=201)

    # Reads of membership may first roll it to a new UTC day in a writer transaction: 503.
    @get("/", opt={"scope": "context:read", "errors": (503,)}, summary="Every segment with its member count")
    async def list_segments(self, request: Request) -> SegmentList:
        view = await _view(request)
        return SegmentList([_out(s, view) for s in view.segments.values() if s.rule_id is None])

    @get("/attributes", opt={"scope": "context:read"}, summary="The attributes a condition may name")
    async def attributes(
        self, request: Request, subject: FromQuery[Literal["individual", "account"]] = "individual"
    ) -> list[AttributeOut]:
        catalog = service_of(request).branches.segments.catalogs.by_subject[subject]
        return [
            AttributeOut(a.name, a.kind, a.time_dependent, list(a.choices) if a.choices else None)
            for a in catalog.values()
        ]

    @get(
        "/{segment_id:str}",
        opt={"scope": "context:read", "errors": (503,)},
        summary="One segment with its member count",
    )
    async def get_segment(self, request: Request, segment_id: FromPath[str]) -> SegmentOut:
        view = await _view(request)
        return _out(_visible(view, segment_id), view)

    @delete(
        "/{segment_id:str}",
        opt={"scope": "segments:write", "errors": (409,)},
        summary="Delete a segment and its membership",
    )
    async def delete_segment(self, request: Request, segment_id: FromPath[str]) -> None:
        segments = service_of(request).branches.segments
        _visible(segments.view, segment_id)
        await segments.remove(segment_id)  # refused while an activation rule uses it

    @get(
        "/{segment_id:str}/members",
        opt={"scope": "context:read", "errors": (503,)},
        summary="The members, a page at a time",
    )
    async def members(
        self,
        request: Request,
        segment_id: FromPath[str],
        cursor: str | None = Parameter(default=None, description="next_cursor of the previous page"),
        limit: int = Parameter(default=100, ge=1, le=1000),
    ) -> MembersPage:
        return await segment_members(service_of(request), segment_id, cursor, limit)
