"""Property-based API tests: schemathesis generates requests from our own OpenAPI document
(valid and invalid, boundary values from every declared bound, fixed seed) against a real
server, and fails on any 5xx or any status code the document does not declare. The
server is still healthy afterwards. A hand-made list of hostile requests, the classes a
generator does not reach (bytes that are not UTF-8, nesting past any decoder, calendar
edges), runs against the same server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import call_event, url_for
from tests.live import live_server

pytestmark = pytest.mark.live  # starts a server process and the schemathesis CLI

SEED = 20261202
KEYS = "admin-key,masked-key:calls:write|context:read|segments:write"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def _fuzz(base: str, key: str, examples: int, workdir: Path) -> tuple[int, str, float]:
    started = time.monotonic()
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{base}/schema/openapi.json",
            "--header",
            f"Authorization: Bearer {key}",
            "--checks",
            "not_a_server_error,status_code_conformance",
            "--seed",
            str(SEED),
            "--max-examples",
            str(examples),
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "20",
            "--no-color",
            "--exclude-path",
            "/v1/events/stream",
        ],  # a stream never ends; its events are tested live elsewhere
        capture_output=True,
        text=True,
        timeout=600,
        cwd=workdir,  # it keeps a cache in the working directory
    )
    elapsed = time.monotonic() - started
    cases = re.search(r"(\d+) generated", run.stdout)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert cases is not None, run.stdout[-2000:]
    return int(cases.group(1)), run.stdout, elapsed


def _hostile(base: str) -> list[tuple[str, str, dict, bytes | None]]:
    good = json.dumps(call_event("h-good")).encode()
    deep = b"[" * 50_000 + b"]" * 50_000
    return [
        ("POST", "/v1/calls", {}, good.replace(b'"rep-1"', b'"rep-\xc3\x28"')),
        ("POST", "/v1/calls", {}, b'{"call_id": "h1", "who": ' + deep + b"}"),
        ("POST", "/v1/calls/batch", {}, b'{"calls": [' + good + b", " + deep + b"]}"),  # 200: one stored, one rejected
        ("POST", "/v1/calls/batch", {}, b'{"calls": ' + deep + b"}"),  # 200: its one item is rejected
        ("POST", "/v1/calls/batch", {}, b'{"calls": {"x": ' + deep + b"}}"),
        ("POST", "/v1/calls", {}, json.dumps(call_event("h2", started_at="0001-01-01T00:00:00+14:00")).encode()),
        ("POST", "/v1/calls", {}, json.dumps(call_event("h3", updated_at="9999-12-31T23:59:59-12:00")).encode()),
        ("POST", "/v1/calls", {}, json.dumps(call_event("h4", ended_at="9999-12-31T23:59:59.999999-12:00")).encode()),
        ("POST", "/v1/calls", {}, json.dumps(call_event("h\u00005")).encode()),
        ("POST", "/v1/segments", {}, b'{"name": "deep", "condition": ' + b'{"not": ' * 5000 + b"{}" + b"}" * 5001),
        ("POST", "/v1/activations", {}, b'{"name": "x", "trigger": ' + deep + b"}"),
        ("POST", "/v1/agent/call-context", {}, b'{"phone": "\xff\xfe"}'),
        (
            "POST",
            "/v1/agent/call-context",
            {},
            json.dumps({"record_id": "0035e00000ABcdE", "as_of": "0001-01-01T00:00:00+14:00"}).encode(),
        ),
        ("POST", "/v1/accounts", {}, b'{"accounts": ' + deep + b"}"),
        ("POST", "/v1/activations/dead-letters/redrive", {}, b'{"ids": [99999999999999999999999]}'),
        ("GET", "/v1/quarantine", {"after": str(2**80)}, None),
        ("GET", "/v1/quarantine", {"limit": "-1", "max_bytes": str(2**70)}, None),
        ("GET", "/v1/activations/deliveries", {"cursor": str(-(2**70))}, None),
        ("GET", "/v1/context/+12125550142", {"as_of": "0001-01-01T00:00:00+14:00"}, None),
        ("GET", "/v1/context/+12125550142", {"as_of": "9999-12-31T23:59:59-12:00"}, None),
        ("GET", "/v1/context/" + "9" * 5000, {}, None),
        ("GET", "/v1/individuals/%00", {}, None),
        ("GET", "/v1/insights/connect-rate", {"from": "0001-01-01", "to": "0001-01-02"}, None),
        ("GET", "/v1/quality", {"to": "0001-01-01"}, None),
        ("GET", "/v1/quality/alerts", {"since": "9999-12-31"}, None),
        ("GET", "/v1/segments/x/members", {"limit": str(2**64)}, None),
    ]


def test_generated_and_hostile_requests_never_get_a_5xx_and_the_server_stays_healthy(tmp_path):
    with live_server(url_for(tmp_path / "fuzz.db"), KEYS) as (base, _):
        admin = {"Authorization": "Bearer admin-key"}
        seeded = httpx.post(
            f"{base}/v1/calls/batch",
            json={"calls": [call_event(f"s{n}", n) for n in range(5)]},
            headers=admin,
            timeout=30,
        )
        assert seeded.status_code == 200
        for method, path, params, body in _hostile(base):
            headers = {**admin, "Content-Type": "application/json"}
            response = httpx.request(method, base + path, params=params, content=body, headers=headers, timeout=30)
            if path == "/v1/calls/batch" and response.status_code == 200:
                assert response.json()["summary"]["rejected"] == 1, response.text[:300]  # the deep item alone
                continue
            assert 400 <= response.status_code < 500, (method, path, response.status_code, response.text[:300])
            assert {"code", "message"} <= set(response.json()), response.text[:300]
        cases, _, elapsed = _fuzz(base, "admin-key", 60, tmp_path)
        masked_cases, _, masked_elapsed = _fuzz(base, "masked-key", 15, tmp_path)
        print(
            f"schemathesis: {cases} + {masked_cases} cases in {elapsed:.0f} s + {masked_elapsed:.0f} s, 0 server errors"
        )
        assert cases + masked_cases >= 3000
        health = httpx.get(f"{base}/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        after = httpx.post(f"{base}/v1/calls", json=call_event("after-fuzz", 99), headers=admin, timeout=10)
        assert after.status_code in (200, 201), after.text
        assert (
            httpx.get(f"{base}/v1/context/{after.json()['individual_id']}", headers=admin, timeout=10).status_code
            == 200
        )
