"""The OpenAPI 3.0 document imports into Salesforce External Services: it validates as
3.0 with a real validator and keeps every rule Salesforce documents for an imported schema
(contextsvc/api/openapi30.py lists them)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from openapi_spec_validator import OpenAPIV30SpecValidator

from contextsvc.api.openapi30 import DESCRIPTION_LIMIT, downgrade, for_external_services

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def walk(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def rule_violations(doc: dict) -> list[str]:
    """Every External Services rule, checked by walking the whole document."""
    problems = []
    if not doc["openapi"].startswith("3.0."):
        problems.append(f"openapi is {doc['openapi']}")
    operation_ids = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            if not operation.get("operationId"):
                problems.append(f"{method} {path}: no operationId")
            operation_ids.append(operation.get("operationId"))
            if method == "get" and "requestBody" in operation:
                problems.append(f"GET {path} has a request body")
            holders = [operation.get("requestBody", {}), *operation["responses"].values()]
            for holder in holders:
                for media_type in holder.get("content", {}):
                    if media_type != "application/json":
                        problems.append(f"{method} {path}: media type {media_type}")
    if len(operation_ids) != len(set(operation_ids)):
        problems.append("duplicate operationIds")
    for where, node in walk(doc):
        if not isinstance(node, dict):
            continue
        inside_properties = len(where) > 0 and where[-1] == "properties"
        if inside_properties:
            continue  # keys here are property names, not keywords
        if "not" in node:
            problems.append(f"`not` at {where}")
        if isinstance(node.get("type"), list):
            problems.append(f"type array at {where}")
        if node.get("type") == "null":
            problems.append(f'"type": "null" at {where}')
        for key in ("const", "examples", "prefixItems", "$schema"):
            if key in node and where[-1:] != ("properties",) and "schema" in " ".join(map(str, where)):
                problems.append(f"3.1-only `{key}` at {where}")
        if isinstance(node.get("description"), str) and len(node["description"]) > DESCRIPTION_LIMIT:
            problems.append(f"description over {DESCRIPTION_LIMIT} characters at {where}")
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            inner = node["items"]
            if inner.get("type") == "array" and "$ref" not in inner:
                problems.append(f"anonymous array nested in an array at {where}")
    return problems


async def test_served_document_validates_and_keeps_every_rule(api):
    response = await api.get("/schema/openapi-3.0.json")
    assert response.status_code == 200
    doc = response.json()
    OpenAPIV30SpecValidator(doc).validate()
    assert rule_violations(doc) == []
    # What an admin imports: the context read, the agent action and both ingest bodies.
    operations = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert ("/v1/context/{lookup}", "get") in operations
    assert ("/v1/agent/call-context", "post") in operations
    call_body = doc["paths"]["/v1/calls"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert call_body == {"$ref": "#/components/schemas/CallEvent"}
    batch = doc["components"]["schemas"]["CallBatch"]["properties"]["calls"]
    assert batch["items"] == {"$ref": "#/components/schemas/CallEvent"}
    # Optional fields are `nullable`, the 3.0 way.
    assert doc["components"]["schemas"]["CallEvent"]["properties"]["ended_at"]["nullable"] is True
    # format=prompt answers text/plain, which External Services cannot parse: not offered.
    names = {p["name"] for p in doc["paths"]["/v1/context/{lookup}"]["get"]["parameters"]}
    assert "format" not in names and {"as_of", "max_tokens", "recent"} <= names


async def test_ingest_still_quarantines_the_raw_body_verbatim(api):
    """Documenting the body must not make Litestar validate it before the handler."""
    raw = b'{"call_id": "bad-1", "direction": "sideways", "started_at": "2026-11-20T15:04:05Z"}'
    response = await api.post(
        "/v1/calls", content=raw, headers={"X-API-Key": "writer-key", "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    listed = await api.get("/v1/quarantine", headers={"Authorization": "Bearer admin-key"})
    assert listed.json()["items"][-1]["body"] == raw.decode()


@pytest.mark.live  # runs the contextsvc CLI in a subprocess
def test_cli_writes_the_same_document(tmp_path):
    out = tmp_path / "openapi.json"
    subprocess.run(
        [sys.executable, "-m", "contextsvc.cli", "openapi", "--version", "3.0", "--output", str(out)], check=True
    )
    doc = json.loads(out.read_text())
    OpenAPIV30SpecValidator(doc).validate()
    assert rule_violations(doc) == []


def test_converter_handles_31_constructs_litestar_may_emit():
    doc31 = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1", "summary": "3.1 only"},
        "paths": {
            "/things": {
                "get": {
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {
                        "200": {
                            "description": "x" * 2000,
                            "content": {
                                "text/plain": {"schema": {"type": "string"}},
                                "application/json": {"schema": {"$ref": "#/components/schemas/Grid"}},
                            },
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Grid": {
                    "type": "object",
                    "properties": {
                        "rows": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
                        "label": {"type": ["string", "null"], "examples": ["a", "b"]},
                        "kind": {"const": "grid"},
                        "owner": {"oneOf": [{"$ref": "#/components/schemas/Owner"}, {"type": "null"}]},
                        "ratio": {"type": "number", "exclusiveMinimum": 0},
                        "other": {"not": {"type": "string"}},
                    },
                },
                "Owner": {"type": "object", "properties": {"id": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
            }
        },
    }
    doc = for_external_services(downgrade(doc31))
    OpenAPIV30SpecValidator(doc).validate()
    assert rule_violations(doc) == []
    grid = doc["components"]["schemas"]["Grid"]["properties"]
    assert grid["label"] == {"type": "string", "nullable": True, "example": "a"}
    assert grid["kind"] == {"enum": ["grid"]}
    assert grid["owner"] == {"nullable": True, "allOf": [{"$ref": "#/components/schemas/Owner"}]}
    assert grid["ratio"] == {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    inner_ref = grid["rows"]["items"]["$ref"]
    assert doc["components"]["schemas"][inner_ref.rsplit("/", 1)[1]] == {"type": "array", "items": {"type": "integer"}}
    assert doc["paths"]["/things"]["get"]["operationId"] == "getThings"
    assert len(doc["paths"]["/things"]["get"]["responses"]["200"]["description"]) == DESCRIPTION_LIMIT
    assert rule_violations(downgrade(doc31)) != []  # the rules checker can fail
