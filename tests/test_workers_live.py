"""Several workers on one database (CONTEXTSVC_STANDBY, what `serve --workers N` sets):
one leads, the others hand it every request and take over when it dies. Real processes,
on both backends (the PostgreSQL tier is the production case)."""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text

from contextsvc.store.lease import ADVISORY_KEY
from contextsvc.store.tables import leader as leader_table
from tests.helpers import KEYS, call_event, fetch_all
from tests.live import kill_group, live_server, pid_listening_on
from tests.test_event_stream_live import _next_event

pytestmark = pytest.mark.live
ADMIN = {"Authorization": "Bearer admin-key"}
WRITER = {"Authorization": "Bearer writer-key"}
READER = {"Authorization": "Bearer reader-key"}
PHONE = "+14155550142"


@contextmanager
def two_workers(database_url: str, **env: str):
    """(leader, its process, follower): the follower ready, so answering context reads
    itself (with redis_url) and handing the rest on."""
    with (
        live_server(database_url, KEYS, wait_for="/health/ready", standby="true", **env) as (leader, leader_proc),
        live_server(database_url, KEYS, wait_for="/health/ready", standby="true", **env) as (follower, _),
    ):
        yield leader, leader_proc, follower


def test_each_worker_says_its_role_and_a_follower_serves_what_the_leader_does(database_url):
    """Without Redis a follower hands every request on, context reads included."""
    with two_workers(database_url) as (leader, _, follower):
        assert httpx.get(f"{leader}/health/ready").json()["role"] == "leader"
        said = httpx.get(f"{follower}/health/ready").json()
        assert said == {
            "status": "ready",
            "checks": {"leader": "ok"},
            "role": "follower",
            "reads": "handed to the leader",
        }
        # A write to the follower is answered after the leader's commit; errors come back as they are.
        posted = httpx.post(f"{follower}/v1/calls", json=call_event("f1", who={"phone": PHONE}), headers=WRITER)
        assert posted.status_code == 201, posted.text
        assert posted.headers["x-request-id"]
        refused = httpx.post(f"{follower}/v1/calls", json={"call_id": "x"}, headers=WRITER)
        assert refused.status_code == 422 and refused.json()["code"]
        assert httpx.get(f"{follower}/v1/context/{PHONE}").status_code == 401  # the leader's auth, unchanged
        prompt = httpx.get(f"{follower}/v1/context/{PHONE}", params={"format": "prompt"}, headers=READER)
        assert prompt.status_code == 200 and prompt.headers["content-type"].startswith("text/plain")
        # The follower's metrics are its own: what it handed on, under one route label.
        metrics = httpx.get(f"{follower}/metrics").text.replace('method="POST",', "").replace('method="GET",', "")
        assert 'route="(handed to the leader)",status="201"' in metrics
        assert 'route="(handed to the leader)",status="200"' in metrics


def _served_here(base: str, status: str, route: str = "/v1/context/{lookup}") -> bool:
    metrics = httpx.get(f"{base}/metrics").text.replace('method="GET",', "").replace('method="POST",', "")
    return f'route="{route}",status="{status}"' in metrics


def _metrics(base: str) -> dict[str, dict[tuple, float]]:
    """name -> (sorted labels) -> value, parsed as Prometheus parses; a series twice fails."""
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(httpx.get(f"{base}/metrics").text):
        for sample in family.samples:
            series = found.setdefault(sample.name, {})
            labels = tuple(sorted(sample.labels.items()))
            assert labels not in series, f"{sample.name}{labels} exposed twice"
            series[labels] = sample.value
    return found


def test_with_redis_a_follower_answers_context_reads_itself_as_the_leader_would(database_url, redis_server):
    with (
        two_workers(database_url, redis_url=redis_server.url) as (leader, _, follower),
        httpx.Client(timeout=10) as client,
    ):
        said = client.get(f"{follower}/health/ready").json()
        assert said["role"] == "follower" and "caches kept current" in said["reads"], said
        for i, phone in enumerate((PHONE, "+14155550143", "+14155550144")):
            body = call_event(f"h{i}", minutes=i, who={"phone": phone, "email": f"p{i}@example.com"})
            assert client.post(f"{follower}/v1/calls", json=body, headers=WRITER).status_code == 201
        as_of = datetime.now(UTC).isoformat()  # one moment for both, so the answers match byte for byte
        for lookup in (PHONE, "P1@Example.com", "(415) 555-0144", "+14155550199"):
            for params in ({}, {"format": "prompt"}, {"recent": 0, "max_tokens": 40}):
                params = {**params, "as_of": as_of}
                mine, theirs = (
                    client.get(f"{base}/v1/context/{lookup}", params=params, headers=READER)
                    for base in (follower, leader)
                )
                assert (mine.status_code, mine.text) == (theirs.status_code, theirs.text), (lookup, params)
        for ask in ({"phone": PHONE}, {"email": "p1@example.com"}, {"phone": "+14155550199"}):
            ask = {**ask, "as_of": as_of}  # what an Agentforce action sends
            mine, theirs = (
                client.post(f"{base}/v1/agent/call-context", json=ask, headers=READER) for base in (follower, leader)
            )
            assert (mine.status_code, mine.text) == (theirs.status_code, theirs.text), ask
        # The other reads of one person: identity (masked and in clear), the daily series.
        for path, params in (
            (f"/v1/individuals/{PHONE}", {}),
            ("/v1/individuals/P1@Example.com", {}),
            ("/v1/individuals/+14155550199", {}),
            (f"/v1/context/{PHONE}/daily", {"as_of": as_of, "days": 7}),
            ("/v1/context/+14155550199/daily", {"as_of": as_of}),
        ):
            for headers in (READER, ADMIN):
                mine, theirs = (
                    client.get(f"{base}{path}", params=params, headers=headers) for base in (follower, leader)
                )
                assert (mine.status_code, mine.text) == (theirs.status_code, theirs.text), (path, headers)
        assert (
            client.delete(f"{follower}/v1/individuals/+14155550144", headers=ADMIN).status_code == 200
        )  # the leader's
        assert client.get(f"{follower}/v1/individuals/+14155550144", headers=ADMIN).status_code == 404
        assert httpx.get(f"{follower}/v1/context/{PHONE}").status_code == 401  # the same auth
        assert _served_here(follower, "200") and _served_here(follower, "404") and _served_here(follower, "401")
        assert _served_here(follower, "200", "/v1/agent/call-context")
        assert _served_here(follower, "200", "/v1/individuals/{lookup}") and _served_here(
            follower, "404", "/v1/individuals/{lookup}"
        )
        assert _served_here(follower, "200", "/v1/context/{lookup}/daily")
        mine = _metrics(follower)
        assert mine["contextsvc_replica_caches_trusted"][()] == 1
        assert mine["contextsvc_replica_reads_total"][(("served", "cached"),)] > 0
        assert mine["contextsvc_replica_cache_lookups_total"][(("cache", "context_memo"), ("result", "hit"))] > 0
        assert mine["contextsvc_sse_subscribers"][()] == 0 and "contextsvc_writer_up" not in mine
        theirs = _metrics(leader)  # the leader's replica beside its service's state, each series once
        assert theirs["contextsvc_writer_up"][()] == 1 and theirs["contextsvc_replica_caches_trusted"][()] == 1


def test_read_your_writes_across_workers_a_thousand_alternations(database_url, redis_server):
    """Each call acknowledged by one worker is in the next context read on the other: the
    follower's own caches (profile, identity, memo) included. Every fifth call is a new
    person's first: a look-up the follower has not seen yet."""
    with (
        two_workers(database_url, redis_url=redis_server.url) as (leader, _, follower),
        httpx.Client(timeout=10) as client,
    ):
        workers = (leader, follower)
        calls: dict[str, int] = {}
        misses = []
        for i in range(1000):
            writes_to, reads_from = workers[i % 2], workers[(i + 1) % 2]
            phone = PHONE if i % 5 else f"+1415555{1000 + i:04d}"
            calls[phone] = calls.get(phone, 0) + 1
            posted = client.post(
                f"{writes_to}/v1/calls", json=call_event(f"ryw{i}", minutes=i, who={"phone": phone}), headers=WRITER
            )
            assert posted.status_code == 201, posted.text
            read = client.get(
                f"{reads_from}/v1/context/{phone}", params={"recent": 1}, headers=ADMIN
            )  # pii:read: no lookup limit
            assert read.status_code == 200, (i, read.text)
            context = read.json()
            if context["summary"]["calls"] != calls[phone] or context["recent_calls"][0]["call_id"] != f"ryw{i}":
                misses.append(i)
        assert misses == []
        assert _served_here(follower, "200")  # the follower's own answers, not the leader's


def test_the_event_stream_on_a_follower_carries_the_leaders_events_and_replays(database_url):
    """Without Redis a follower relays the leader's stream."""
    with two_workers(database_url) as (leader, _, follower), httpx.Client(timeout=10) as client:
        rule = {"name": "dnc", "trigger": {"type": "call_flag", "flags": ["do_not_call"]}, "target": {"type": "stream"}}
        assert client.post(f"{follower}/v1/activations", json=rule, headers=ADMIN).status_code == 201
        with client.stream("GET", f"{follower}/v1/events/stream", headers=ADMIN) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == ": connected"
            client.post(f"{leader}/v1/calls", json=call_event("s1", disposition="do_not_call"), headers=WRITER)
            first = _next_event(lines)
        assert first["event"] == "call_flagged"
        client.post(f"{leader}/v1/calls", json=call_event("s2", minutes=5, disposition="do_not_call"), headers=WRITER)
        replay = {"Last-Event-ID": first["id"], **ADMIN}
        with client.stream("GET", f"{follower}/v1/events/stream", headers=replay) as stream:
            missed = _next_event(stream.iter_lines())
        assert msgspec.json.decode(missed["data"])["current_value"]["call_id"] == "s2"


def test_with_redis_every_workers_stream_carries_every_event_and_outlives_its_leader(database_url, redis_server):
    """Events reach each worker's stream through Redis, whichever worker took the write;
    Last-Event-ID replays on another worker than the one the client was on; a follower's
    open stream goes on through a kill -9 of the leader and carries the new leader's events."""
    with (
        two_workers(database_url, redis_url=redis_server.url) as (leader, leader_proc, follower),
        httpx.Client(timeout=10) as client,
    ):
        rule = {"name": "dnc", "trigger": {"type": "call_flag", "flags": ["do_not_call"]}, "target": {"type": "stream"}}
        assert client.post(f"{follower}/v1/activations", json=rule, headers=ADMIN).status_code == 201

        def flagged(call_id: str, minutes: int, to: str) -> None:
            body = call_event(call_id, minutes=minutes, disposition="do_not_call")
            assert client.post(f"{to}/v1/calls", json=body, headers=WRITER).status_code == 201

        def call_of(event: dict) -> str:
            return msgspec.json.decode(event["data"])["current_value"]["call_id"]

        with client.stream("GET", f"{follower}/v1/events/stream", headers=ADMIN) as on_follower:
            followed = on_follower.iter_lines()
            assert next(followed) == ": connected"
            with client.stream("GET", f"{leader}/v1/events/stream", headers=ADMIN) as on_leader:
                led = on_leader.iter_lines()
                assert next(led) == ": connected"
                flagged("e1", 1, to=leader)
                flagged("e2", 2, to=follower)
                assert [call_of(_next_event(led)) for _ in range(2)] == ["e1", "e2"]
            first = _next_event(followed)
            assert call_of(first) == "e1" and call_of(_next_event(followed)) == "e2"
            replay = {"Last-Event-ID": first["id"], **ADMIN}  # on the other worker
            with client.stream("GET", f"{leader}/v1/events/stream", headers=replay) as again:
                assert call_of(_next_event(again.iter_lines())) == "e2"

            kill_group(leader_proc)
            deadline = time.monotonic() + 10
            while client.get(f"{follower}/health/ready").json().get("role") != "leader":
                assert time.monotonic() < deadline, "the follower did not take over"
                time.sleep(0.05)
            flagged("e3", 3, to=follower)
            assert call_of(_next_event(followed)) == "e3"  # the same connection, a new leader


def test_kill_of_the_leader_while_a_stream_posts_to_the_follower_loses_no_acknowledged_call(database_url):
    with two_workers(database_url) as (leader, leader_proc, follower):
        acknowledged: list[str] = []
        unavailable = 0
        stop = threading.Event()

        def post_stream() -> None:
            nonlocal unavailable
            with httpx.Client(base_url=follower, headers=WRITER, timeout=10) as client:
                i = 0
                while not stop.is_set():
                    body = call_event(f"k{i}", minutes=i, who={"phone": PHONE})
                    response = client.post("/v1/calls", json=body)
                    if response.status_code == 503:  # no leader for a moment: retry after Retry-After
                        assert response.json()["code"] == "unavailable" and response.headers["retry-after"]
                        unavailable += 1
                        time.sleep(0.05)
                        continue
                    if response.status_code == 502:  # in flight at the kill: perhaps applied, a call is safe to repeat
                        assert response.json()["code"] == "leader_lost"
                        continue
                    assert response.status_code in (200, 201), response.text
                    acknowledged.append(f"k{i}")
                    i += 1

        poster = threading.Thread(target=post_stream)
        poster.start()
        try:
            while len(acknowledged) < 30:
                time.sleep(0.01)
            kill_group(leader_proc)
            killed = time.monotonic()
            while httpx.get(f"{follower}/health/ready").json().get("role") != "leader":
                assert time.monotonic() - killed < 5.0, "no worker took over within the leader timeout"
                time.sleep(0.05)
            took_over_s = time.monotonic() - killed
            before = len(acknowledged)
            while len(acknowledged) < before + 20:  # and it takes the stream's writes itself
                assert poster.is_alive()
                time.sleep(0.01)
        finally:
            stop.set()
            poster.join()
        context = httpx.get(f"{follower}/v1/context/{PHONE}", params={"recent": 50}, headers=READER).json()
        assert context["summary"]["calls"] == len(acknowledged), f"took over in {took_over_s:.2f} s"
        served = {call["call_id"] for call in context["recent_calls"]}
        assert set(acknowledged[-50:]) <= served


async def test_serve_workers_2_survives_a_kill_of_its_leading_process(database_url):
    """`serve --workers 2`: two processes on one port; the one leading is killed, the other
    leads, and the killed one comes back as a follower."""
    with live_server(database_url, KEYS, wait_for="/health/ready", workers=2) as (base, _):
        with httpx.Client(base_url=base, headers=WRITER, timeout=10) as client:
            for i in range(20):
                assert client.post("/v1/calls", json=call_event(f"w{i}", minutes=i, who={"phone": PHONE})).is_success
            [(address,)] = await fetch_all(database_url, select(leader_table.c.address))
            os.kill(pid_listening_on(int(address.rsplit(":", 1)[1])), signal.SIGKILL)
            killed = time.monotonic()
            while True:  # every answer from here on: a worker that leads, or one that follows it
                assert time.monotonic() - killed < 5.0, "no worker took over within the leader timeout"
                try:
                    posted = client.post("/v1/calls", json=call_event("after", minutes=99, who={"phone": PHONE}))
                except httpx.TransportError:  # a kept-alive connection to the killed process
                    continue
                if posted.is_success:
                    break
                # 503: no leader yet; 502 leader_lost: sent on a kept-alive connection to the
                # killed process, so perhaps received. A call is safe to post again either way.
                assert (posted.status_code, posted.json()["code"]) in ((503, "unavailable"), (502, "leader_lost"))
                time.sleep(0.05)
            roles = {client.get("/health/ready").json()["role"] for _ in range(20)}
            context = client.get(f"/v1/context/{PHONE}", params={"recent": 0}, headers=ADMIN).json()
        [(now,)] = await fetch_all(database_url, select(leader_table.c.address))
    assert now != address and roles <= {"leader", "follower"}
    assert context["summary"]["calls"] == 21


async def test_a_leader_whose_lease_session_ends_steps_down_and_one_leads_again(databases, database_url):
    if databases.server is None:
        pytest.skip("an flock cannot be taken from a live process: the PostgreSQL tier runs it")
    with two_workers(database_url) as (leader, _, follower):
        [(before,)] = await fetch_all(database_url, select(leader_table.c.address))
        # The database ends the lease's session (an operator, a network cut): its lock goes
        # with it. The leader must step down rather than lead beside whoever takes it next
        # (itself again, or the follower: whoever asks first).
        [(ended,)] = await fetch_all(
            database_url,
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND objid = :low AND classid = :high"
            ).bindparams(low=ADVISORY_KEY & 0xFFFFFFFF, high=ADVISORY_KEY >> 32),
        )
        assert ended
        deadline = time.monotonic() + 5.0
        while True:
            [(now,)] = await fetch_all(database_url, select(leader_table.c.address))
            roles = sorted(httpx.get(f"{base}/health/ready").json().get("role") for base in (leader, follower))
            if now != before and roles == ["follower", "leader"]:
                break  # a new term: elected again, one leader
            assert time.monotonic() < deadline, f"roles {roles} 5 s after the lease session ended"
            time.sleep(0.1)
        for base in (leader, follower):
            posted = httpx.post(f"{base}/v1/calls", json=call_event(f"after-{base[-5:]}"), headers=WRITER)
            assert posted.status_code == 201, posted.text


def test_redis_restarted_mid_run_leaves_no_worker_serving_a_stale_context(database_url, redis_server):
    """The follower caches the person; Redis stops (the leader's change messages cannot
    reach it), writes go on, Redis comes back empty: every read on either worker shows
    every acknowledged call, and the follower trusts its caches again once resynchronised."""
    with (
        two_workers(database_url, redis_url=redis_server.url, key_rate_limits="*=100000") as (leader, _, follower),
        httpx.Client(timeout=10) as client,
    ):
        said_while_down = ""

        def alternate(i: int) -> None:
            writes_to, reads_from = (leader, follower) if i % 2 else (follower, leader)
            body = call_event(f"r{i}", minutes=i, who={"phone": PHONE})
            assert client.post(f"{writes_to}/v1/calls", json=body, headers=WRITER).status_code == 201
            for reader in (follower, reads_from):  # the follower's cache is the one at risk
                read = client.get(f"{reader}/v1/context/{PHONE}", params={"recent": 1}, headers=ADMIN)
                assert read.status_code == 200, read.text
                assert read.json()["recent_calls"][0]["call_id"] == f"r{i}" and read.json()["summary"]["calls"] == i + 1

        for i in range(80):
            if i == 20:
                redis_server.stop()
            if i == 40:
                said_while_down = client.get(f"{follower}/health/ready").json()["reads"]
                redis_server.start()  # forgets every token and rate-limit bucket
            alternate(i)
        assert "reading through the database" in said_while_down
        # Resubscribing takes the follower a moment (its retry pause, a new connection):
        # the alternations above may all have been read through meanwhile.
        deadline = time.monotonic() + 10
        while "caches kept current" not in client.get(f"{follower}/health/ready").json()["reads"]:
            assert time.monotonic() < deadline, "the follower did not trust its caches again after Redis came back"
            time.sleep(0.1)
        assert _metrics(follower)["contextsvc_replica_resyncs_total"][()] >= 2  # at start, after Redis came back
        cached_before = _metrics(follower)["contextsvc_replica_reads_total"][(("served", "cached"),)]
        for i in range(80, 100):  # trusted again: the caches it rebuilt hold every write
            alternate(i)
        assert _metrics(follower)["contextsvc_replica_reads_total"][(("served", "cached"),)] > cached_before


def test_without_standby_a_second_server_still_refuses_the_database(database_url):
    with (
        live_server(database_url, KEYS),
        pytest.raises(RuntimeError, match="another contextsvc process"),
        live_server(database_url, KEYS),
    ):
        pass
