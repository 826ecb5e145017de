"""GET /metrics: parsed with prometheus_client's own parser, its counters move by exactly
what known requests did, and no label carries a path, a person, a call or a key."""

from __future__ import annotations

import time

import pytest

from contextsvc.pipeline import CommitReport
from contextsvc.pipeline import writer as writer_module
from contextsvc.telemetry import BoundedLabel, Instruments, commit_recorder
from tests.helpers import ADMIN, MERGING_WHO, READER, WRITER, Scrape, call_event, scrape, sql, until
from tests.live import free_port
from tests.webhook_receiver import Receiver

PHONE, EMAIL = "(212) 555-0142", "bob.smith@acme.com"
BOB = {"phone": PHONE, "email": EMAIL, "first_name": "Bob", "last_name": "Smith", "company": "Acme"}


def delta(before: Scrape, after: Scrape, metric: str, /, **labels: str) -> float:
    return after.value(metric, **labels) - before.value(metric, **labels)


async def test_ingest_counts_every_item_by_result_and_source(api):
    before = await scrape(api)
    calls = [call_event(f"d{i}", minutes=i, source="five9", who={"email": f"p{i}@x.com"}) for i in range(3)]
    calls.append({"call_id": "bad", "started_at": "2026-11-02T15:00:00Z"})  # no direction: rejected
    response = await api.post("/v1/calls/batch", json={"calls": calls}, headers=WRITER)
    assert response.json()["summary"] == {"accepted": 3, "rejected": 1}
    after = await scrape(api)

    assert delta(before, after, "contextsvc_ingest_items_total", result="accepted", source="five9") == 3
    assert delta(before, after, "contextsvc_ingest_items_total", result="rejected") == 1
    assert delta(before, after, "contextsvc_ingest_items_total") == 4
    assert after.value("contextsvc_quarantine_items") == before.value("contextsvc_quarantine_items") + 1
    batch = {"route": "/v1/calls/batch", "method": "POST", "status": "200"}
    assert delta(before, after, "contextsvc_http_request_duration_seconds_count", **batch) == 1
    assert delta(before, after, "contextsvc_writer_commit_seconds_count", kind="ingest") == 1
    assert delta(before, after, "contextsvc_writer_batch_items_sum") == 4  # one transaction of 4 items

    await api.post("/v1/calls/batch", json={"calls": calls[:3]}, headers=WRITER)  # the same again
    again = await scrape(api)
    assert delta(after, again, "contextsvc_ingest_items_total", result="duplicate", source="five9") == 3
    assert delta(after, again, "contextsvc_ingest_items_total", result="accepted") == 0


async def test_a_context_read_is_a_memo_miss_then_a_hit(api):
    await api.post("/v1/calls", json=call_event("c1", who=BOB), headers=WRITER)
    before = await scrape(api)
    assert (await api.get(f"/v1/context/{PHONE}", headers=READER)).status_code == 200
    first = await scrape(api)
    assert delta(before, first, "contextsvc_cache_lookups_total", cache="context_memo", result="miss") == 1
    assert delta(before, first, "contextsvc_cache_lookups_total", cache="context_memo", result="hit") == 0
    assert (await api.get(f"/v1/context/{EMAIL}", headers=READER)).status_code == 200  # same person, same shape
    second = await scrape(api)
    assert delta(first, second, "contextsvc_cache_lookups_total", cache="context_memo", result="hit") == 1
    assert delta(first, second, "contextsvc_cache_lookups_total", cache="context_memo", result="miss") == 0
    assert second.value("contextsvc_cache_entries", cache="context_memo") == 1
    assert second.value("contextsvc_cache_lookups_total", cache="profile", result="hit") >= 2
    assert second.value("contextsvc_identity_individuals") == 1


async def test_labels_are_route_templates_and_bounded_values(api):
    await api.post("/v1/calls", json=call_event("c1", who=BOB), headers=WRITER)
    individual = (await api.get(f"/v1/individuals/{EMAIL}", headers=READER)).json()["id"]
    for path in (
        f"/v1/context/{PHONE}",
        f"/v1/context/{EMAIL}",
        f"/v1/individuals/{individual}",
        "/v1/context/+12125550199",
        "/no/such/route",
    ):
        await api.get(path, headers=READER)
    await api.request("BREW", "/v1/calls", headers=WRITER)
    metrics = await scrape(api)
    requests = "contextsvc_http_request_duration_seconds_count"
    assert {"/v1/context/{lookup}", "/v1/individuals/{lookup}", "/v1/calls", "unmatched"} <= metrics.label_values(
        requests, "route"
    )
    assert metrics.value(requests, route="/v1/context/{lookup}", status="200") == 2
    assert metrics.value(requests, route="/v1/context/{lookup}", status="404") == 1
    assert metrics.value(requests, route="unmatched", status="404") == 1
    assert metrics.value(requests, method="OTHER") == 1
    labels = {value for sample in metrics.samples for value in sample.labels.values()}
    assert not [v for v in labels if any(s in v.lower() for s in ("555", "acme", "bob", "smith", individual, "c1"))]


def test_a_client_chosen_label_keeps_at_most_its_limit_of_values():
    source = BoundedLabel(limit=3)
    assert [source(s) for s in ("a", "b", None, "c", "d", "a", "e" * 80)] == [
        "a",
        "b",
        "none",
        "c",
        "other",
        "a",
        "other",
    ]
    assert BoundedLabel()("x" * 80) == "x" * 40


async def test_merges_are_counted_by_rule(api):
    before = await scrape(api)
    for i, who in enumerate(MERGING_WHO):
        await api.post("/v1/calls", json=call_event(f"m{i}", minutes=i, who=who), headers=WRITER)
    after = await scrape(api)
    recorded = dict(await sql(api, "SELECT rule, count(*) FROM merges GROUP BY rule"))
    assert recorded  # the calls did merge people
    for rule, count in recorded.items():
        assert delta(before, after, "contextsvc_identity_merges_total", rule=rule) == count
    assert delta(before, after, "contextsvc_identity_merges_total") == sum(recorded.values())


async def test_a_failed_commit_counts_and_the_writer_stays_up(api, monkeypatch):
    before = await scrape(api)

    def explode(*_):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer_module, "apply_batch", explode)
    assert (await api.post("/v1/calls", json=call_event("c1"), headers=WRITER)).status_code == 503
    after = await scrape(api)
    assert delta(before, after, "contextsvc_writer_commit_failures_total") == 1
    assert delta(before, after, "contextsvc_ingest_items_total") == 0  # nothing was acknowledged
    assert after.value("contextsvc_writer_up") == 1


def test_commit_reports_become_durations_batch_sizes_and_failures():
    instruments = Instruments()
    record = commit_recorder(instruments)
    record(CommitReport(requests=2, items=70, seconds=0.004, failed=False, operation=False))
    record(CommitReport(requests=1, items=0, seconds=0.002, failed=False, operation=True))
    record(CommitReport(requests=1, items=5, seconds=0.001, failed=True, operation=False))
    from prometheus_client import generate_latest

    metrics = Scrape(generate_latest(instruments.registry).decode())
    assert metrics.value("contextsvc_writer_commit_seconds_count", kind="ingest") == 1
    assert metrics.value("contextsvc_writer_commit_seconds_bucket", kind="ingest", le="0.005") == 1
    assert metrics.value("contextsvc_writer_commit_seconds_count", kind="operation") == 1
    assert metrics.value("contextsvc_writer_batch_items_bucket", le="64.0") == 0
    assert metrics.value("contextsvc_writer_batch_items_bucket", le="128.0") == 1
    assert metrics.value("contextsvc_writer_commit_failures_total") == 1


async def test_webhook_backlog_retries_and_delivery_latency(client_for):
    receiver = Receiver(free_port())
    fast = {"webhook_retry_base_ms": 50, "webhook_retry_max_ms": 100, "webhook_max_attempts": 100,
            "outbound_allow": "127.0.0.1", "outbound_allow_http": True}  # fmt: skip
    try:
        async with client_for(**fast) as api:
            rule = {
                "name": "booked",
                "trigger": {"type": "call_flag", "flags": ["meeting"]},
                "target": {"type": "webhook", "url": receiver.url},
            }
            assert (await api.post("/v1/activations", json=rule, headers=ADMIN)).status_code == 201
            await api.post("/v1/calls", json=call_event("c1", disposition="meeting_booked"), headers=WRITER)

            async def retried():
                metrics = await scrape(api)
                return metrics.value("contextsvc_webhook_attempts_total", outcome="retry") >= 1 and metrics

            metrics = await until(retried)
            assert metrics, "the dispatcher never retried the unreachable receiver"
            assert metrics.value("contextsvc_webhook_outbox", status="pending") == 1
            assert metrics.value("contextsvc_webhook_oldest_pending_age_seconds") > 0
            receiver.up()

            async def delivered():
                # The attempt is counted when the receiver answers; the outbox row leaves
                # "pending" when the dispatcher's own write commits a moment later.
                metrics = await scrape(api)
                settled = metrics.value("contextsvc_webhook_outbox", status="pending") == 0
                delivered_once = metrics.value("contextsvc_webhook_attempts_total", outcome="delivered") == 1
                return delivered_once and settled and metrics

            metrics = await until(delivered)
            assert metrics, "never delivered"
            assert metrics.value("contextsvc_database_up") == 1
            assert metrics.value("contextsvc_webhook_outbox", status="pending") == 0
            assert metrics.value("contextsvc_webhook_oldest_pending_age_seconds") == 0
            assert metrics.value("contextsvc_webhook_delivery_latency_seconds_count") == 1
            assert metrics.value("contextsvc_webhook_delivery_latency_seconds_sum") > 0
    finally:
        receiver.down()


async def test_segments_and_salesforce_sync_freshness(api):
    segment = {"name": "Reached", "condition": {"attribute": "summary.connects", "op": ">=", "value": 1}}
    created = (await api.post("/v1/segments", json=segment, headers=ADMIN)).json()
    await api.post("/v1/calls", json=call_event("c1", disposition="interested"), headers=WRITER)
    synced = time.time() - 120
    await sql(  # as a `contextsvc salesforce sync` run leaves it
        api,
        "INSERT INTO salesforce_watermarks (sobject, system_modstamp, record_id, synced_at) "
        "VALUES ('Task', :stamp, '00T000000000001AAA', :synced)",
        stamp=int((synced - 60) * 1e6),
        synced=int(synced * 1e6),
    )
    metrics = await scrape(api)
    assert metrics.value("contextsvc_segments", subject="individual") == 1
    assert metrics.value("contextsvc_segment_members", segment=created["id"], name="Reached") == 1
    assert metrics.value("contextsvc_salesforce_sync_lag_seconds", sobject="Task") == pytest.approx(120, abs=10)
    assert metrics.value("contextsvc_salesforce_last_sync_timestamp_seconds", sobject="Task") == pytest.approx(synced)
    assert metrics.value("contextsvc_sse_subscribers") == 0
    assert metrics.value("contextsvc_build_info", version="0.1.0") == 1
    assert metrics.value("process_resident_memory_bytes") > 0


async def test_a_metrics_key_guards_the_endpoint_and_api_keys_do_not_open_it(client_for):
    async with client_for(metrics_key="scrape-secret") as api:
        assert (await api.get("/metrics")).status_code == 401
        assert (await api.get("/metrics", headers=ADMIN)).status_code == 401
        await scrape(api, Authorization="Bearer scrape-secret")


async def test_metrics_can_be_turned_off(client_for):
    async with client_for(metrics=False, access_log="off") as api:
        assert (await api.get("/metrics")).status_code == 404
        assert "x-request-id" not in (await api.get("/health")).headers


def test_the_request_histogram_renders_cumulative_buckets():
    from prometheus_client import CollectorRegistry, generate_latest

    from contextsvc.telemetry import RequestHistogram

    histogram = RequestHistogram("t_seconds", "test", ["route"], (0.001, 0.01, 0.1))
    registry = CollectorRegistry()
    registry.register(histogram)
    series = histogram.series("/a")
    for seconds in (0.0005, 0.001, 0.002, 0.05, 3.0):  # as api/observe.py counts them
        from bisect import bisect_left

        series[bisect_left(histogram.bounds, seconds)] += 1
        series[-1] += seconds
    metrics = Scrape(generate_latest(registry).decode())
    buckets = {le: metrics.value("t_seconds_bucket", route="/a", le=le) for le in ("0.001", "0.01", "0.1", "+Inf")}
    assert buckets == {"0.001": 2, "0.01": 3, "0.1": 4, "+Inf": 5}  # le is inclusive
    assert metrics.value("t_seconds_count", route="/a") == 5
    assert metrics.value("t_seconds_sum", route="/a") == pytest.approx(3.0535)


async def test_the_servers_salesforce_job_reports_its_passes_and_failures(client_for):
    from tests.live import free_port

    unreachable = f"https://127.0.0.1:{free_port()}"  # nothing listens: every pass fails at once
    async with client_for(salesforce_session_id="00D!x", salesforce_instance_url=unreachable,
                          salesforce_timeout_s=2) as api:  # fmt: skip

        async def failed_once():  # a pass counts when it starts, fails when it ends
            metrics = await scrape(api)
            return metrics.value("contextsvc_salesforce_sync_failing") == 1 and metrics

        metrics = await until(failed_once)
        assert metrics, "the job never finished a pass"
        assert metrics.value("contextsvc_salesforce_sync_passes_total") >= 1
        assert metrics.value("contextsvc_salesforce_sync_last_success_timestamp_seconds") == 0


async def test_no_salesforce_job_metrics_without_credentials(api):
    metrics = await scrape(api)
    assert "contextsvc_salesforce_sync_passes_total" not in metrics.text
