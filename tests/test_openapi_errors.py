"""Both OpenAPI documents (3.1 as served at /schema/openapi.json, and the 3.0 export)
describe the error answers clients actually get, with the one error schema, and declare
the bounds of every integer parameter."""

from __future__ import annotations

import pytest

from tests.helpers import ADMIN

METHODS = ("get", "put", "post", "delete", "patch")


async def documents(api) -> dict[str, dict]:
    return {
        "3.1": (await api.get("/schema/openapi.json")).json(),
        "3.0": (await api.get("/schema/openapi-3.0.json")).json(),
    }


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


@pytest.mark.parametrize("version", ["3.1", "3.0"])
async def test_every_operation_documents_its_errors_with_the_error_schema(api, version):
    doc = (await documents(api))[version]
    schema = doc["components"]["schemas"]["ErrorBody"]
    assert set(schema["required"]) == {"code", "message"}
    checked = 0
    for path, method, operation in operations(doc):
        if not path.startswith("/v1"):
            continue
        statuses = {int(s) for s in operation["responses"]}
        assert {401, 403} <= statuses, (method, path)
        if method in ("post", "put", "patch"):
            assert {413, 415, 422, 503} <= statuses, (method, path)
        if "{" in path:
            assert 404 in statuses, (method, path)
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorBody", (method, path, status)
                checked += 1
    assert checked > 100
    lookups = doc["paths"]["/v1/context/{lookup}"]["get"]["responses"]
    assert {"404", "409", "422", "429"} <= set(lookups)


@pytest.mark.parametrize("version", ["3.1", "3.0"])
async def test_integer_parameters_declare_their_bounds(api, version):
    doc = (await documents(api))[version]
    integers = [
        (path, parameter["name"], parameter["schema"])
        for path, _, operation in operations(doc)
        for parameter in operation.get("parameters", [])
        if parameter.get("schema", {}).get("type") == "integer"
        or "integer" in [alternative.get("type") for alternative in parameter.get("schema", {}).get("oneOf", [])]
    ]
    assert len(integers) >= 8
    for path, name, schema in integers:
        bounded = (
            schema if "maximum" in schema else next(s for s in schema.get("oneOf", []) if s.get("type") == "integer")
        )
        assert "minimum" in bounded and bounded["maximum"] <= 2**63 - 1, (path, name, schema)


async def test_the_documented_error_shape_is_what_an_error_answer_is(api):
    answers = [
        await api.get("/v1/context/+14155550999"),  # 401
        await api.get("/v1/quarantine", params={"after": 2**70}, headers=ADMIN),  # 400
        await api.get("/v1/context/+14155550999", headers=ADMIN),  # 404
        await api.post("/v1/calls", content=b"{}", headers={**ADMIN, "content-type": "text/plain"}),  # 415
    ]
    assert [a.status_code for a in answers] == [401, 400, 404, 415]
    for answer in answers:
        body = answer.json()
        assert set(body) <= {"code", "message", "fields", "details"} and body["code"] and body["message"]
