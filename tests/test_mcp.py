"""The MCP tools answer through the official SDK's own streamable-HTTP client, against a
real server process, with the REST API's keys and scopes."""

from __future__ import annotations

import json

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import call_event, url_for
from tests.live import live_server

pytestmark = pytest.mark.live  # starts a server process, a TLS fake or the simulator

KEYS = "admin-key,plain-key:context:read,pii-key:context:read|pii:read,writer-key:calls:write"
DANA = {
    "salesforce_id": "0035e00000AAAAA",
    "phone": "(415) 555-0100",
    "email": "dana.lee@northwind.com",
    "first_name": "Dana",
    "last_name": "Lee",
    "company": "Northwind",
    "title": "VP Operations",
}
SAM = {
    "salesforce_id": "0035e00000BBBBB",
    "phone": "+1 212 555 0142",
    "first_name": "Sam",
    "last_name": "Ortiz",
    "company": "Contoso",
}


def mcp_client(base: str, key: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return Client(streamable_http_client(f"{base}/mcp", http_client=http))


def payload(result) -> object:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        content = result.structured_content
        return content.get("result", content) if isinstance(content, dict) and set(content) == {"result"} else content
    return json.loads(result.content[0].text)


@pytest.fixture(scope="module")
def server(databases):
    with live_server(databases.create(), KEYS) as (base, _):
        calls = [call_event(f"d-{n}", n * 90, who=DANA, disposition="interested") for n in range(3)]
        calls += [call_event("s-1", 10, who=SAM, disposition="no_answer")]
        response = httpx.post(
            f"{base}/v1/calls/batch", json={"calls": calls}, headers={"Authorization": "Bearer admin-key"}
        )
        assert response.json()["summary"] == {"accepted": 4}
        yield base


async def test_tools_are_listed(server):
    async with mcp_client(server, "plain-key") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert names == {"get_call_context", "find_person", "list_segment_members"}


async def test_list_segment_members_pages_through_a_segment_by_id_or_name(server):
    condition = {"attribute": "summary.calls", "op": ">=", "value": 2}
    response = httpx.post(
        f"{server}/v1/segments",
        json={"name": "called twice", "condition": condition},
        headers={"Authorization": "Bearer admin-key"},
    )
    assert response.status_code == 201, response.text
    segment_id = response.json()["id"]
    async with mcp_client(server, "plain-key") as client:
        by_name = payload(await client.call_tool("list_segment_members", {"segment": "called twice"}))
        first = payload(await client.call_tool("list_segment_members", {"segment": segment_id, "limit": 1}))
        unknown = await client.call_tool("list_segment_members", {"segment": "no such segment"})
        dana = payload(await client.call_tool("find_person", {"query": "dana.lee@northwind.com"}))[0]["individual_id"]
    assert by_name["segment_id"] == segment_id and by_name["count"] == 1  # Dana: 3 calls; Sam: 1
    assert [m["id"] for m in by_name["members"]] == [dana]
    assert first["next_cursor"] == dana and len(first["members"]) == 1
    assert unknown.is_error


async def test_get_call_context_masks_unless_pii_read(server):
    async with mcp_client(server, "plain-key") as client:
        masked = payload(await client.call_tool("get_call_context", {"lookup": "415.555.0100", "max_tokens": 120}))
    async with mcp_client(server, "pii-key") as client:
        clear = payload(await client.call_tool("get_call_context", {"lookup": "dana.lee@northwind.com"}))
    rest = httpx.post(
        f"{server}/v1/agent/call-context",
        json={"phone": "415.555.0100", "max_tokens": 120},
        headers={"Authorization": "Bearer plain-key"},
    ).json()
    assert masked["prompt"] == rest["prompt"] and masked["prompt_tokens"] <= 120  # one read path
    assert masked["calls"] == 3 and masked["headline"].startswith("Dana Lee (VP Operations, Northwind): 3 calls")
    assert masked["email"] == "d***@northwind.com" and masked["phone"] == "***-0100"
    assert clear["email"] == "dana.lee@northwind.com" and clear["phone"] == "+14155550100"


async def test_get_call_context_reports_unknown_people_as_tool_errors(server):
    async with mcp_client(server, "plain-key") as client:
        masked = await client.call_tool("get_call_context", {"lookup": "nobody@nowhere.org"})
    async with mcp_client(server, "pii-key") as client:
        clear = await client.call_tool("get_call_context", {"lookup": "nobody@nowhere.org"})
    assert masked.is_error and "n***@nowhere.org" in masked.content[0].text  # the reason, not the address
    assert "nobody@" not in masked.content[0].text
    assert clear.is_error and "nobody@nowhere.org" in clear.content[0].text


@pytest.mark.parametrize(
    "query, expected",
    [
        ("dana le", "Dana Lee"),
        ("Sam Ortis", "Sam Ortiz"),
        ("415 555", "Dana Lee"),
        ("+1212", "Sam Ortiz"),
        ("dana.l", "Dana Lee"),
        ("0035e00000B", "Sam Ortiz"),
    ],
)
async def test_find_person_finds_candidates_from_partial_input(server, query, expected):
    async with mcp_client(server, "pii-key") as client:
        found = payload(await client.call_tool("find_person", {"query": query}))
    assert found and found[0]["name"] == expected, found
    async with mcp_client(server, "pii-key") as client:
        context = payload(await client.call_tool("get_call_context", {"lookup": found[0]["individual_id"]}))
    assert context["name"] == expected


@pytest.mark.parametrize(
    "query", ["415 555", "415555010", "+1415", "dana.lee@", "dana.lee@northwind", "d***@northwind.com"]
)
async def test_without_pii_read_phones_and_emails_match_only_whole(server, query):
    """A prefix search plus the masked last digits would give a number away a digit at a time."""
    async with mcp_client(server, "plain-key") as client:
        assert payload(await client.call_tool("find_person", {"query": query})) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("(415) 555-0100", "Dana Lee"),
        ("Dana.Lee@Northwind.com", "Dana Lee"),
        ("0035e00000B", "Sam Ortiz"),
        ("dana le", "Dana Lee"),
    ],
)
async def test_without_pii_read_whole_values_ids_and_names_still_find_people_masked(server, query, expected):
    async with mcp_client(server, "plain-key") as client:
        [found] = payload(await client.call_tool("find_person", {"query": query}))[:1]
    assert found["name"] == expected
    assert all("***" in e for e in found["emails"]) and all(p.startswith("***-") for p in found["phones"])


async def test_searches_are_rate_limited_per_key(tmp_path):
    with live_server(url_for(tmp_path / "limited.db"), KEYS, search_rate_per_minute="3") as (base, _):
        async with mcp_client(base, "plain-key") as client:
            answers = [await client.call_tool("find_person", {"query": f"someone {n}"}) for n in range(4)]
        async with mcp_client(base, "pii-key") as client:  # another key has its own budget
            other = await client.call_tool("find_person", {"query": "someone"})
    assert [a.is_error for a in answers] == [False, False, False, True]
    assert "too many searches" in answers[-1].content[0].text
    assert not other.is_error


async def test_mcp_needs_a_key_with_context_read(server):
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Bearer writer-key"}, 403),
    ):
        response = httpx.post(
            f"{server}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=headers
        )
        assert response.status_code == status
    with pytest.raises(Exception):  # noqa: B017 - the MCP client wraps the 403 in whichever error its transport raises
        async with mcp_client(server, "writer-key") as client:
            await client.list_tools()
