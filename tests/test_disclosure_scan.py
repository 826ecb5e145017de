"""No personal data past a key's scope, on any route, in any answer, errors included.

Known phones and emails are ingested (identifiers, notes, free-text dispositions, the
newest call's disposition, quarantined bodies), then every operation of the OpenAPI
document — so a route added later is scanned without anyone listing it — is called with
a key of every scope combination (and with none), with lookups, path ids, query values
and bodies spelled with the test phones and emails in each common format. An answer to
a key without pii:read that contains one of them in any format is a failure; so is a
recording link to a key without recordings:read. The MCP tools are scanned the same way.
The event stream and webhooks carry no personal data at all (tests/test_event_payloads_live.py).
"""

from __future__ import annotations

import itertools
import json

import pytest
from litestar.testing import AsyncTestClient

from contextsvc.api.app import create_app
from contextsvc.api.auth import SCOPES
from contextsvc.privacy import Disclosure
from contextsvc.settings import Settings
from tests.helpers import call_event
from tests.personal_data import CONTACT, EMAIL_FORMATS, NOTES, PHONE_FORMATS, RECORDING, UNKNOWN, WHO, leaks

SCOPE_LIST = sorted(SCOPES)
COMBINATIONS = [frozenset(c) for n in range(len(SCOPE_LIST) + 1) for c in itertools.combinations(SCOPE_LIST, n)]
KEY_OF = {scopes: f"key{index:02d}" for index, scopes in enumerate(COMBINATIONS)}
KEYS = ",".join(f"{name}:{'|'.join(sorted(scopes))}" for scopes, name in KEY_OF.items())

# Scopes and masking are decided above the store (the scan's own database is an SQLite file).
pytestmark = pytest.mark.backend_neutral("who may see what is decided above the store")
NOT_SCANNED = {("get", "/v1/events/stream")}  # never ends; its events are checked live


def test_the_scan_sees_every_spelling():
    for spelling in [*PHONE_FORMATS, *EMAIL_FORMATS, *UNKNOWN, "628.555.0144", json.dumps("415\u00a0555\u00a00187")]:
        assert leaks(f'{{"message": "no one is known by {spelling}"}}', True), spelling
    assert leaks(RECORDING, False) and not leaks(RECORDING, True)
    assert not leaks('{"phones": ["***-0187"], "emails": ["k***@contoso.com"], "at": "2026-11-02T15:00:00Z"}', False)


def _headers(key: str | None, body: bool = False) -> dict:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return {**headers, "Content-Type": "application/json"} if body else headers


async def _seed(api) -> dict:
    admin = _headers(KEY_OF[frozenset({"admin"})], body=True)
    calls = [
        call_event(
            "kp-1", who=WHO, notes=NOTES, disposition="Left VM, call back 415 555 0187", recording_url=RECORDING
        ),
        call_event(
            "kp-2",
            minutes=30,
            who={"phone": "+1 415 555 0187", "email": "kim.park@contoso.com"},
            disposition="Asked to call 00 1 628 555 0144 tomorrow",
            related={"opportunity_id": "0065e00000OPP01", "opportunity_stage": "Send to kim.park@contoso.com"},
        ),
    ]
    response = await api.post("/v1/calls/batch", json={"calls": calls}, headers=admin)
    assert response.json()["summary"] == {"accepted": 2}, response.text
    individual_id = response.json()["results"][0]["individual_id"]
    writer = _headers(KEY_OF[frozenset({"calls:write"})], body=True)
    rejected = call_event("kp-bad", who=WHO, direction="sideways", notes="ring 415-555-0187 or kim.park@contoso.com")
    assert (await api.post("/v1/calls", json=rejected, headers=writer)).status_code == 422
    condition = {"attribute": "summary.calls", "op": ">=", "value": 1}
    segment = await api.post("/v1/segments", json={"name": "called", "condition": condition}, headers=admin)
    rule = await api.post(
        "/v1/activations",
        headers=admin,
        json={
            "name": "flagged",
            "trigger": {"type": "call_flag", "flags": ["voicemail"]},
            "target": {"type": "stream"},
        },
    )
    return {"individual_id": individual_id, "segment_id": segment.json()["id"], "rule_id": rule.json()["id"]}


def _path_values(name: str, seeded: dict) -> list[str]:
    pii = [*PHONE_FORMATS[:4], EMAIL_FORMATS[1], UNKNOWN[0], UNKNOWN[2]]
    if name == "lookup":
        return [*PHONE_FORMATS, *EMAIL_FORMATS, *UNKNOWN, CONTACT, seeded["individual_id"]]
    if name in seeded:
        return [seeded[name], *pii[:2], pii[4]]
    return pii


def _bodies(path: str) -> list[dict]:
    bad_call = call_event(
        "scan-1", who=WHO, direction="sideways", disposition="ring 415 555 0187", notes="kim.park@contoso.com"
    )
    unmapped = call_event("scan-2", who={"phone": "628.555.0144"}, disposition="call 00 1 415 555 0187 after 5")
    bodies = {
        "/v1/calls": [bad_call, unmapped],
        "/v1/calls/batch": [{"calls": [bad_call, unmapped]}],
        "/v1/agent/call-context": [
            *({"phone": p} for p in PHONE_FORMATS[:5]),
            *({"email": e} for e in EMAIL_FORMATS),
            {"phone": UNKNOWN[0]},
            {"email": UNKNOWN[2]},
            {"record_id": "kim.park@contoso.com"},
        ],
        "/v1/segments": [{"name": "scan", "condition": {"attribute": "kim.park@contoso.com", "op": "=", "value": 1}}],
        "/v1/activations": [
            {"name": "scan", "trigger": {"type": "segment", "segment_id": "415-555-0187"}, "target": {"type": "stream"}}
        ],
        "/v1/accounts": [{"accounts": [{"account_id": "kim.park@contoso.com", "name": "415-555-0187"}]}],
    }
    return bodies.get(path, [{"anything": "kim.park@contoso.com"}])


def _requests(doc: dict, seeded: dict):
    """(method, path as called, query, body) for every operation of the document."""
    for path, item in doc["paths"].items():
        for method in ("get", "post", "delete", "put", "patch"):
            operation = item.get(method)
            if operation is None or (method, path) in NOT_SCANNED:
                continue
            parameters = operation.get("parameters", [])
            path_names = [p["name"] for p in parameters if p["in"] == "path"]
            query_names = [p["name"] for p in parameters if p["in"] == "query"]
            fills = (
                [
                    dict(zip(path_names, values, strict=True))
                    for values in itertools.product(*(_path_values(n, seeded) for n in path_names))
                ]
                if path_names
                else [{}]
            )
            for fill in fills:
                called = path
                for name, value in fill.items():
                    called = called.replace("{" + name + "}", value)
                queries = [{}] + [
                    {name: value} for name in query_names for value in (PHONE_FORMATS[2], EMAIL_FORMATS[1])
                ]
                if method == "delete" and any(
                    v in (seeded.get("segment_id"), seeded.get("rule_id")) for v in fill.values()
                ):
                    continue  # deleting what the scan relies on; unknown ids (echoed in 404s) are scanned
                if method == "delete" and fill.get("lookup") in (
                    CONTACT,
                    seeded["individual_id"],
                    *PHONE_FORMATS,
                    *EMAIL_FORMATS,
                ):
                    continue  # erasure is admin-only (admin sees personal data); unknown lookups are scanned
                for query in queries if method == "get" else [{}]:
                    for body in _bodies(path) if method in ("post", "put", "patch") else [None]:
                        yield method, called, query, body


@pytest.fixture
async def scanned(tmp_path):
    settings = Settings.from_env(
        {},
        database_url=f"sqlite+aiosqlite:///{tmp_path}/scan.db",
        api_keys=KEYS,
        lookup_rate_per_minute=0,
        search_rate_per_minute=0,
    )
    async with AsyncTestClient(app=create_app(settings)) as api:
        seeded = await _seed(api)
        yield api, seeded


async def test_no_route_answers_a_key_with_more_than_its_scopes_allow(scanned):
    api, seeded = scanned
    doc = (await api.get("/schema/openapi.json")).json()
    requests = list(_requests(doc, seeded))
    assert len({(m, p) for m, p, _, _ in requests}) > 60
    problems, clear_answers, calls = [], 0, 0
    identities = [(scopes, KEY_OF[scopes]) for scopes in COMBINATIONS] + [(frozenset(), None), (frozenset(), "bogus")]
    for scopes, key in identities:
        disclosure = Disclosure.for_scopes(scopes)
        for method, path, query, body in requests:
            content = json.dumps(body).encode() if body is not None else None
            response = await api.request(
                method.upper(), path, params=query, content=content, headers=_headers(key, body is not None)
            )
            calls += 1
            assert response.status_code < 500, (method, path, query, body, response.text)
            found = leaks(response.text + json.dumps(dict(response.headers)), disclosure.recordings)
            if disclosure.pii and found:
                clear_answers += 1
                found = [f for f in found if f == "recording"]
            if found:
                problems.append((sorted(scopes), method, path, query, body, found, response.text[:300]))
    assert problems == []
    assert clear_answers > 100  # keys with pii:read do get personal data: the scan can see it
    assert calls > 5000


async def test_every_mcp_tool_answers_within_the_keys_scopes(scanned):
    api, seeded = scanned
    calls = [("get_call_context", {"lookup": lookup}) for lookup in [*PHONE_FORMATS, *EMAIL_FORMATS, *UNKNOWN, CONTACT]]
    calls += [("get_call_context", {"lookup": seeded["individual_id"], "as_of": "kim.park@contoso.com"})]
    calls += [
        ("find_person", {"query": q}) for q in ["Kim Park", "415 555", "kim.p", *PHONE_FORMATS[:3], *EMAIL_FORMATS[:2]]
    ]
    calls += [("list_segment_members", {"segment": s}) for s in (seeded["segment_id"], "415-555-0187")]
    problems = []
    for scopes in COMBINATIONS:
        if not {"context:read", "admin"} & scopes:
            continue
        disclosure = Disclosure.for_scopes(scopes)
        for number, (tool, arguments) in enumerate(calls):
            request = {
                "jsonrpc": "2.0",
                "id": number,
                "method": "tools/call",
                "params": {"name": tool, "arguments": arguments},
            }
            response = await api.post(
                "/mcp",
                json=request,
                headers={**_headers(KEY_OF[scopes], body=True), "Accept": "application/json, text/event-stream"},
            )
            assert response.status_code == 200, response.text
            found = leaks(response.text, disclosure.recordings)
            if disclosure.pii:
                found = [f for f in found if f == "recording"]
            if found:
                problems.append((sorted(scopes), tool, arguments, found, response.text[:300]))
    assert problems == []
