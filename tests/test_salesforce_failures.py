"""The connector against a misbehaving org: expired sessions, spent API limits, queries
it does not speak, servers that never answer."""

from __future__ import annotations

import asyncio
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from contextsvc.salesforce.client import SalesforceApi, SalesforceAuthError, SalesforceCallFailed
from contextsvc.salesforce.sync import sync_with_backoff
from contextsvc.service import open_service
from tests.fake_salesforce import RunningFake
from tests.salesforce_org import contexts, held, load_org, lookups_of, settings, sync_once

pytestmark = [
    pytest.mark.live,  # a TLS fake
    # The client's handling of a misbehaving org; a sync's storage and resumption are
    # checked on both backends by test_salesforce_sync and test_salesforce_org_shapes.
    pytest.mark.backend_neutral("the Salesforce client against a misbehaving org"),
]


def expire_at_page(fake: RunningFake, page: int):
    async def after_page(sobject: str, pages: int) -> None:
        if pages == page:
            fake.org.expire_sessions()

    return after_page


@pytest.fixture(scope="module")
def clean_sync(org_dir, tmp_path_factory) -> dict[str, dict | None]:
    """Every person's context after one undisturbed sync of the org: what each test's
    interrupted and resumed sync must end with. Made once for the module, on a fake of its
    own, in a thread (the tests' event loops are not running yet)."""
    tmp = tmp_path_factory.mktemp("clean")
    fake = RunningFake(tmp)

    async def synced() -> dict[str, dict | None]:
        await sync_once(tmp / "clean.db", fake)
        return await contexts(tmp / "clean.db", sorted(lookups_of(held(org_dir, 1))))

    try:
        load_org(fake, org_dir)
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, synced()).result()
    finally:
        fake.close()


async def assert_same_as_clean_sync(db, clean_sync):
    assert await contexts(db, sorted(clean_sync)) == clean_sync


async def test_an_expired_session_id_is_a_clear_error_and_a_fresh_one_resumes(org_dir, fake, tmp_path, clean_sync):
    load_org(fake, org_dir)
    db = tmp_path / "sf.db"
    with pytest.raises(SalesforceAuthError, match="INVALID_SESSION_ID.*CONTEXTSVC_SALESFORCE_SESSION_ID"):
        await sync_once(db, fake, after_page=expire_at_page(fake, 5))
    await sync_once(db, fake)  # a new session id (settings() issues one)
    await assert_same_as_clean_sync(db, clean_sync)


@pytest.mark.parametrize("mode", ["client_credentials", "password"])
async def test_an_expired_session_is_renewed_when_credentials_allow(org_dir, fake, tmp_path, clean_sync, mode):
    load_org(fake, org_dir)
    fake.org.apps["connected-app"] = "app-secret"
    fake.org.users["sync@example.org"] = "pw" + "token"
    credentials = (
        {
            "salesforce_consumer_key": "connected-app",
            "salesforce_consumer_secret": "app-secret",
            "salesforce_domain": "acme.my",
        }
        if mode == "client_credentials"
        else {
            "salesforce_username": "sync@example.org",
            "salesforce_password": "pw",
            "salesforce_security_token": "token",
        }
    )
    db = tmp_path / "sf.db"
    report = await sync_once(db, fake, {**credentials, "salesforce_session_id": ""}, after_page=expire_at_page(fake, 5))
    assert fake.org.logins == 2  # the first login, and one after the session expired
    assert report.calls == {"accepted": len(held(org_dir, 1))}
    await assert_same_as_clean_sync(db, clean_sync)


async def test_wrong_credentials_say_so(fake, tmp_path):
    config = settings(
        tmp_path / "sf.db",
        fake,
        salesforce_session_id="",
        salesforce_consumer_key="nope",
        salesforce_consumer_secret="wrong",
        salesforce_domain="acme.my",
    )
    with pytest.raises(SalesforceAuthError, match="client_credentials.*authentication failure"):
        SalesforceApi(config, fake.session())


async def test_request_limit_backs_off_and_resumes_from_the_watermark(org_dir, fake, tmp_path, clean_sync):
    load_org(fake, org_dir)
    fake.org.api_limit = 25  # spent part-way through the first pass, three times
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        fake.org.api_used = 0  # the rolling 24-hour window moved on

    db = tmp_path / "sf.db"
    config = settings(db, fake)
    async with open_service(config) as service:
        sync = service.salesforce_sync(SalesforceApi(config, fake.session()))
        report = await sync_with_backoff(sync, first_wait_s=60, max_wait_s=3600, sleep=sleep)
    assert len(waits) >= 2 and waits == [60 * 2**i for i in range(len(waits))]  # each pass got further
    assert report.calls == {"accepted": len(held(org_dir, 1))}
    fake.org.api_limit = 1_000_000
    await assert_same_as_clean_sync(db, clean_sync)


async def test_the_fake_answers_soql_it_does_not_speak_with_malformed_query(fake, tmp_path):
    api = SalesforceApi(settings(tmp_path / "sf.db", fake), fake.session())
    with pytest.raises(SalesforceCallFailed, match="MALFORMED_QUERY"):
        api.query_all("SELECT Id FROM Task WHERE Subject LIKE 'Call%'")
    page = api.query_all(
        "SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp >= 1970-01-01T00:00:00.000Z "
        "ORDER BY SystemModstamp, Id"
    )
    assert page == {"totalSize": 0, "done": True, "records": []}
    assert api.api_usage == f"{fake.org.api_used}/{fake.org.api_limit}"  # from Sforce-Limit-Info


def test_a_silent_server_times_out_instead_of_hanging(tmp_path):
    with socket.socket() as silent:  # accepts TCP connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        config = settings(
            tmp_path / "sf.db",
            None,
            salesforce_instance_url=f"https://127.0.0.1:{port}",
            salesforce_session_id="x",
            salesforce_timeout_s=0.5,
        )
        api = SalesforceApi(config)
        started = time.monotonic()
        with pytest.raises(SalesforceCallFailed, match="did not answer"):
            api.query_all("SELECT Id FROM Account")
        assert time.monotonic() - started < 5
