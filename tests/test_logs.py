"""Logs: one JSON object per line, the request id echoed and logged, the key only as a
fingerprint, and no phone number, email address or name of the data anywhere in them."""

from __future__ import annotations

import io
import json
import logging
import re

import httpx
import pytest

from contextsvc.api import context as context_api
from contextsvc.pipeline import key_fingerprint
from contextsvc.store import tables
from contextsvc.telemetry.logs import (
    ConsoleFormatter,
    JsonFormatter,
    PersonalDataFilter,
    RequestIdFilter,
    logging_config,
)
from tests.helpers import READER, WRITER, call_event, on_app_loop, url_for
from tests.live import live_server

# Personal data the tests send; none of it may reach a log line in any form.
PHONE = "(415) 867-5309"
EMAIL = "zelda.quist@northwind-example.org"
ZELDA = {"phone": PHONE, "email": EMAIL, "first_name": "Zelda", "last_name": "Quist", "company": "Quist Ltd"}
SECRETS = ("8675309", "867-5309", "867 5309", "zelda", "quist")


def assert_no_personal_data(text: str) -> None:
    found = [secret for secret in SECRETS if secret in text.lower()]
    assert found == [], f"personal data in the logs: {found}"


@pytest.fixture
def logged():
    """Records of the whole process at INFO, formatted as the service formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    # The levels the service's configuration sets (e.g. httpx at WARNING), as in production.
    levels = {name: conf["level"] for name, conf in logging_config()["loggers"].items() if "level" in conf}
    before = {name: logging.getLogger(name).level for name in [*levels, ""]}
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


def requests_logged(lines: list[dict]) -> dict[str, dict]:
    return {line["request_id"]: line for line in lines if line["logger"] == "contextsvc.request"}


async def test_request_ids_are_echoed_and_made_when_missing_or_unsafe(api):
    assert (await api.get("/health", headers={"X-Request-ID": "lb-7f3a:42"})).headers["x-request-id"] == "lb-7f3a:42"
    made = {(await api.get("/health")).headers["x-request-id"] for _ in range(3)}
    assert len(made) == 3 and all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]+", m) for m in made)
    unsafe = (await api.get("/health", headers={"X-Request-ID": "x" * 200})).headers["x-request-id"]
    assert unsafe != "x" * 200 and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]+", unsafe)


async def test_failed_requests_are_logged_as_json_without_personal_data(api, logged):
    await api.post("/v1/calls", json=call_event("ok1", who=ZELDA), headers=WRITER)
    rejected = await api.post(
        "/v1/calls", json={"call_id": "bad", "who": ZELDA}, headers={**WRITER, "X-Request-ID": "r-422"}
    )
    unknown = await api.get("/v1/context/(415) 867-5300", headers=READER)
    refused = await api.get(f"/v1/context/{EMAIL}", headers={"Authorization": "Bearer not-a-key"})
    served = await api.get(f"/v1/context/{PHONE}", headers=READER)
    assert [r.status_code for r in (rejected, unknown, refused, served)] == [422, 404, 401, 200]

    lines = logged()
    by_id = requests_logged(lines)
    assert set(by_id) >= {"r-422", unknown.headers["x-request-id"], refused.headers["x-request-id"]}
    assert served.headers["x-request-id"] not in by_id  # access log "errors": a 200 is not logged
    line = by_id["r-422"]
    assert {k: line[k] for k in ("level", "logger", "method", "route", "status")} == {
        "level": "INFO",
        "logger": "contextsvc.request",
        "method": "POST",
        "route": "/v1/calls",
        "status": 422,
    }
    assert line["duration_ms"] > 0 and line["time"].endswith("Z")
    assert line["key"] == key_fingerprint("writer-key")
    assert by_id[unknown.headers["x-request-id"]]["route"] == "/v1/context/{lookup}"
    assert by_id[refused.headers["x-request-id"]]["key"] == key_fingerprint("not-a-key")
    assert_no_personal_data(json.dumps(lines))


async def test_every_request_is_logged_with_access_log_all(client_for, logged):
    async with client_for(access_log="all") as api:
        served = await api.get("/health/live")
    line = requests_logged(logged())[served.headers["x-request-id"]]
    assert line["route"] == "/health/live" and line["status"] == 200 and line["key"] is None


async def test_an_unexpected_error_is_logged_with_its_request_id_and_masked(api, logged, monkeypatch):
    async def explode(*_args, **_kw):
        raise RuntimeError(f"could not read the context of {EMAIL} at {PHONE}")

    monkeypatch.setattr(context_api, "context_for", explode)
    response = await api.get("/v1/context/ind_00000000000000000001", headers=READER)
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    lines = logged()
    error = next(line for line in lines if line["message"] == "unhandled error")
    assert error["level"] == "ERROR" and error["request_id"] == request_id  # the record of the request's context
    assert "RuntimeError: could not read the context of z***@northwind-example.org at ***-5309" in error["exception"]
    assert requests_logged(lines)[request_id]["status"] == 500
    assert_no_personal_data(json.dumps(lines))


async def test_a_failed_statement_is_logged_without_its_values(api, logged):
    row = {"phone": "+14158675309", "detected_at": 0, "evidence": '{"names": ["Zelda Quist"]}'}

    def clash(conn):  # a unique-key violation whose values are personal data
        conn.execute(tables.shared_lines.insert(), [row, row])

    with pytest.raises(Exception, match="could not commit"):
        await on_app_loop(api, api.app.state.service.writer.run, clash)
    failure = next(line for line in logged() if line["message"].startswith("group commit failed"))
    assert "IntegrityError" in failure["message"]
    assert_no_personal_data(json.dumps(failure))

    async def direct():  # the error itself, as any other log line or traceback would quote it
        async with api.app.state.service.engine.begin() as conn:
            await conn.execute(tables.shared_lines.insert(), [row, row])

    with pytest.raises(Exception) as raised:
        await on_app_loop(api, direct)
    assert "SQL parameters hidden due to hide_parameters=True" in str(raised.value)
    assert "Zelda" not in str(raised.value)


def test_the_console_format_is_one_readable_line():
    record = logging.LogRecord("contextsvc.request", logging.INFO, __file__, 1, "GET /health 200 0.3 ms", (), None)
    record.request_id = "abc-1"
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d INFO contextsvc.request: GET /health 200 0.3 ms request_id=abc-1",
        ConsoleFormatter().format(record),
    )


def test_bad_log_settings_stop_start_up():
    with pytest.raises(SystemExit, match="CONTEXTSVC_LOG_FORMAT"):
        logging_config(fmt="xml")
    with pytest.raises(SystemExit, match="CONTEXTSVC_LOG_LEVEL"):
        logging_config(level="chatty")


@pytest.mark.live
def test_a_served_run_logs_json_lines_with_request_ids_and_no_personal_data(tmp_path):
    """The real server (granian), every request logged, JSON on standard error."""
    output = tmp_path / "server.log"
    keys = "w:calls:write,r:context:read"
    sent: list[httpx.Response] = []
    server = live_server(url_for(tmp_path / "db.sqlite"), keys, log_level="info", output=output, access_log="all")
    with server as (base, _), httpx.Client(base_url=base) as client:
        writer, reader = {"X-API-Key": "w"}, {"Authorization": "Bearer r"}
        sent.append(client.post("/v1/calls", json=call_event("c1", who=ZELDA), headers=writer))
        sent.append(
            client.post(
                "/v1/calls/batch",
                json={"calls": [call_event("c2", who=ZELDA), {"who": ZELDA}]},
                headers={**writer, "X-Request-ID": "batch-1"},
            )
        )
        for lookup in (PHONE, EMAIL, "+1 415 867 5309", "(415) 867-5300"):
            sent.append(client.get(f"/v1/context/{lookup}", headers=reader))
            sent.append(client.get(f"/v1/individuals/{lookup}", headers=reader))
        sent.append(client.get(f"/v1/context/{EMAIL}?format=prompt", headers={"Authorization": "Bearer wrong"}))
        sent.append(client.get("/health/ready"))
    assert [r.status_code for r in sent[:2]] == [201, 200]
    lines = [json.loads(line) for line in output.read_text().splitlines()]  # every line is one JSON object
    assert {line["logger"] for line in lines} >= {"_granian", "contextsvc.request"}
    by_id = requests_logged(lines)
    for response in sent:
        assert by_id[response.headers["x-request-id"]]["status"] == response.status_code
    assert by_id["batch-1"]["route"] == "/v1/calls/batch"
    assert_no_personal_data(output.read_text())
