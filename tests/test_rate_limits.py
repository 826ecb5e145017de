"""Per-key request limits (CONTEXTSVC_KEY_RATE_LIMITS): 429 `rate_limited` with
Retry-After past a key's limit, other keys untouched; in Redis, one budget shared by every
worker, and a Redis outage that falls back to each process's own buckets."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from contextsvc.ratelimit import KeyRates, RedisTokenBuckets, TokenBuckets, parse_key_rates
from tests.helpers import ADMIN, READER, WRITER, call_event


def test_limits_parse_per_key_with_a_default_and_bad_entries_name_no_key():
    assert parse_key_rates("") == {}
    assert parse_key_rates(" reader-key=60 , *=600,") == {"reader-key": 60, "*": 600}
    for bad in ("secret-key", "secret-key=lots", "secret-key=-1", "=5", "secret-key=1,secret-key=2"):
        with pytest.raises(ValueError) as raised:
            parse_key_rates(bad)
        assert "secret-key" not in str(raised.value)


async def test_a_named_key_and_the_default_get_their_own_limiters_and_zero_exempts_a_key():
    rates = KeyRates({"reader-key": 2, "admin-key": 0, "*": 100}, TokenBuckets)
    reader = rates.for_key("reader-key")
    assert reader is not None and rates.for_key("admin-key") is None
    assert rates.for_key("anyone-else") is not None and rates.for_key("anyone-else") is not reader
    assert [await reader.acquire("r") for _ in range(2)] == [None, None]
    wait = await reader.acquire("r")
    assert wait is not None and 0 < wait <= 30  # 2 a minute: one back within 30 s
    assert KeyRates({}, TokenBuckets).for_key("reader-key") is None


async def test_a_key_past_its_limit_gets_429_with_retry_after_and_others_are_untouched(client_for):
    async with client_for(key_rate_limits="reader-key=3") as client:
        statuses = [(await client.get("/v1/segments", headers=READER)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = await client.get("/v1/segments", headers=READER)
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 20  # 3 a minute: a token every 20 s
        # Other keys, and open routes, are not counted against it.
        assert (await client.get("/v1/segments", headers=ADMIN)).status_code == 200
        assert (await client.post("/v1/calls/batch", json={"calls": []}, headers=WRITER)).status_code != 429
        assert (await client.get("/health")).status_code == 200


async def test_without_a_limit_every_request_goes_through(api):
    statuses = {(await api.get("/v1/segments", headers=READER)).status_code for _ in range(50)}
    assert statuses == {200}


@pytest.mark.live
async def test_workers_share_one_budget_in_redis_and_an_outage_lets_requests_through(redis_server):
    # Two workers: each its own connection and its own limiter object, one Redis.
    first, second = Redis.from_url(redis_server.url), Redis.from_url(redis_server.url)
    try:
        a = RedisTokenBuckets(first, "test:key:4", 4)
        b = RedisTokenBuckets(second, "test:key:4", 4)
        taken = [await limiter.acquire("fingerprint") for limiter in (a, b, a, b)]
        assert taken == [None] * 4
        waits = [await a.acquire("fingerprint"), await b.acquire("fingerprint")]
        assert all(w is not None and 0 < w <= 15 for w in waits)  # 4 a minute: one back within 15 s
        assert await a.acquire("another key") is None  # buckets are per key
        redis_server.restart()  # nothing remembered: a full bucket again
        await asyncio.sleep(0.1)
        # redis-py reconnects; had it not, the process's own bucket of the same rate would
        # answer the same. Four are allowed, then the budget is enforced again.
        after = [await b.acquire("fingerprint") for _ in range(6)]
        assert after[1:4] == [None] * 3 and after[-1] is not None
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.live
async def test_the_server_counts_a_keys_requests_in_redis(client_for, redis_server):
    async with client_for(key_rate_limits="*=2", redis_url=redis_server.url) as client:
        statuses = [(await client.get("/v1/segments", headers=READER)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # The bucket lives in Redis, under the key's fingerprint, never the key itself.
    keys = await Redis.from_url(redis_server.url).keys("*")
    assert keys and not any(b"reader-key" in k for k in keys)


@pytest.mark.live
async def test_a_redis_outage_falls_back_to_per_process_buckets_and_costs_one_timeout(redis_server):
    client = Redis.from_url(redis_server.url, socket_timeout=0.1, socket_connect_timeout=0.1)
    try:
        limiter = RedisTokenBuckets(client, "test:outage:3", 3, pause_s=60)
        assert await limiter.acquire("k") is None
        redis_server.kill()
        # Counted in this process now: the budget still holds (a fresh local bucket of 3).
        found = [await limiter.acquire("k") for _ in range(4)]
        assert found[:3] == [None] * 3 and found[3] is not None
        assert limiter.unavailable == 4
    finally:
        await client.aclose()


async def test_masked_keys_look_people_up_by_phone_or_email_at_a_bounded_rate_on_every_read(client_for):
    """CONTEXTSVC_LOOKUP_RATE_PER_MINUTE: a key that sees phones and emails masked could
    otherwise guess whole numbers against the masks; each read of a person that takes a
    phone or email shares that key's budget. Ids, and keys with pii:read, are not counted."""
    async with client_for(lookup_rate_per_minute="4") as client:
        posted = await client.post(
            "/v1/calls", json=call_event("r1", who={"phone": "+14155550170", "email": "r1@example.com"}), headers=WRITER
        )
        individual_id = posted.json()["individual_id"]
        reads = [
            client.get("/v1/context/+14155550170", headers=READER),
            client.get("/v1/context/r1@example.com/daily", headers=READER),
            client.get("/v1/individuals/+14155550170", headers=READER),
            client.post("/v1/agent/call-context", json={"email": "r1@example.com"}, headers=READER),
        ]
        assert [(await read).status_code for read in reads] == [200, 200, 200, 200]
        for path in ("/v1/context/+14155550170", "/v1/context/+14155550170/daily", "/v1/individuals/r1@example.com"):
            refused = await client.get(path, headers=READER)
            assert refused.status_code == 429 and refused.json()["code"] == "rate_limited", path
            assert int(refused.headers["retry-after"]) >= 1
        assert (await client.get(f"/v1/individuals/{individual_id}", headers=READER)).status_code == 200
        assert (await client.get(f"/v1/context/{individual_id}", headers=READER)).status_code == 200
        assert (await client.get("/v1/individuals/+14155550170", headers=ADMIN)).status_code == 200
