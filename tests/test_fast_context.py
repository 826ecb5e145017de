"""GET /v1/context/{lookup} answered before the framework (api/fast_context.py): the same
bytes as the framework's answer, and every case it does not own left to the framework."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contextsvc.api import fast_context, serving
from contextsvc.api.fast_context import ContextFastPath, plain_query
from tests.helpers import ADMIN, READER, WRITER, call_event

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DANA = {"salesforce_id": "0035e00000ABcdE", "phone": "(415) 555-0101", "email": "dana@northwind.com"}


class FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW if tz is not None else NOW.replace(tzinfo=None)


@pytest.fixture
def frozen(monkeypatch):
    """The same "now" for both paths, so that a read without as_of (fast) and one with
    as_of=now (the framework's) must be the same bytes."""
    monkeypatch.setattr(fast_context, "datetime", FrozenClock)
    monkeypatch.setattr(serving, "datetime", FrozenClock)


class Framework:
    """Counts the requests the fast path hands to the app behind it."""

    def __init__(self, app) -> None:
        self.app, self.requests = app, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


def framework_of(api) -> Framework:
    fast = api.app.asgi_handler
    assert isinstance(fast, ContextFastPath)
    fast.app = behind = Framework(fast.app)
    return behind


async def dana(api) -> str:
    calls = [call_event(f"c{i}", started_at=f"2026-11-{10 + i}T15:00:00+00:00", who=DANA) for i in range(4)]
    response = await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)
    assert response.status_code == 200
    return response.json()["results"][0]["individual_id"]


@pytest.mark.parametrize(
    ("lookup", "query", "headers"),
    [
        ("{id}", {}, READER),
        ("{id}", {"format": "prompt"}, READER),
        ("{id}", {"max_tokens": "60", "recent": "1", "format": "json"}, READER),
        ("0035e00000ABcdE", {"recent": "0"}, READER),
        ("+14155550101", {}, ADMIN),  # a key that sees phones looks up by phone freely
        ("Dana@Northwind.com", {"format": "prompt"}, ADMIN),
    ],
)
async def test_the_fast_answer_is_the_framework_answer(api, frozen, lookup, query, headers):
    individual_id = await dana(api)
    path = f"/v1/context/{lookup.format(id=individual_id)}"
    framework = framework_of(api)
    fast = await api.get(path, params=query, headers=headers)
    assert framework.requests == 0, "answered before the framework"
    slow = await api.get(path, params={**query, "as_of": NOW.isoformat()}, headers=headers)
    assert framework.requests == 1
    assert fast.status_code == slow.status_code == 200
    assert fast.content == slow.content
    assert fast.headers["content-type"] == slow.headers["content-type"]
    assert fast.headers["content-length"] == slow.headers["content-length"]


async def test_a_write_is_visible_to_the_next_fast_read(api):
    individual_id = await dana(api)
    before = (await api.get(f"/v1/context/{individual_id}", headers=READER)).json()["summary"]["calls"]
    more = call_event("c-new", started_at="2026-11-20T15:00:00+00:00", who=DANA)
    assert (await api.post("/v1/calls", json=more, headers=WRITER)).status_code in (200, 201)
    after = (await api.get(f"/v1/context/{individual_id}", headers=READER)).json()["summary"]["calls"]
    assert (before, after) == (4, 5)


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("/v1/context/{id}", {}, 401, "missing_api_key"),
        ("/v1/context/{id}", {"Authorization": "Bearer nope"}, 401, "invalid_api_key"),
        ("/v1/context/{id}", WRITER, 403, "missing_scope"),
        ("/v1/context/ind_00000000000000000000", READER, 404, "not_found"),
        ("/v1/context/{id}?max_tokens=5", READER, 400, None),
        ("/v1/context/{id}?recent=many", READER, 400, None),
        ("/v1/context/{id}?format=xml", READER, 400, None),
        ("/v1/context/not a lookup", READER, 422, "invalid_lookup"),
    ],
)
async def test_what_it_does_not_own_is_answered_by_the_framework(api, path, headers, status, code):
    individual_id = await dana(api)
    framework = framework_of(api)
    response = await api.get(path.format(id=individual_id), headers=headers)
    assert framework.requests == 1
    assert response.status_code == status
    if code is not None:
        assert response.json()["code"] == code


@pytest.mark.parametrize(
    "headers",
    [
        [("X-API-Key", "nope"), ("X-API-Key", "admin-key")],
        [("Authorization", "Basic eDp5"), ("Authorization", "Bearer admin-key")],
    ],
)
async def test_the_first_of_repeated_key_headers_is_the_key_checked(api, headers):
    """As the framework reads headers: a second header cannot swap in another key."""
    individual_id = await dana(api)
    framework = framework_of(api)
    response = await api.get(f"/v1/context/{individual_id}", headers=headers)
    assert response.status_code == 401
    assert framework.requests == 1


async def test_masked_keys_look_up_by_phone_through_the_framework_and_its_rate_limit(api):
    """A key that sees phones masked is limited in lookups by phone (serving.guard_lookup):
    the fast path must not be a way around that limit."""
    await dana(api)
    framework = framework_of(api)
    response = await api.get("/v1/context/+14155550101", headers=READER)
    assert response.status_code == 200
    assert framework.requests == 1


async def test_a_rate_limited_key_goes_through_the_framework(client_for):
    async with client_for(key_rate_limits="reader-key=1") as api:
        await dana(api)
        framework = framework_of(api)
        first = await api.get("/v1/context/0035e00000ABcdE", headers=READER)
        second = await api.get("/v1/context/0035e00000ABcdE", headers=READER)
    assert framework.requests == 2
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.json()["code"] == "rate_limited"


def test_plain_queries_only():
    assert plain_query(b"") == (300, 5, "json")
    assert plain_query(b"max_tokens=4000&recent=50&format=prompt") == (4000, 50, "prompt")
    assert plain_query(b"recent=0&max_tokens=20") == (20, 0, "json")
    for query in (
        b"as_of=2026-11-21T12:00:00Z",
        b"recent=51",
        b"max_tokens=19",
        b"recent=-1",
        b"recent=%35",
        b"recent=5&recent=6",
        b"format=JSON",
        b"other=1",
        b"max_tokens=000000300",
        b"max_tokens=0300",
        b"recent=05",
        b"recent=00",
    ):
        assert plain_query(query) is None, query
