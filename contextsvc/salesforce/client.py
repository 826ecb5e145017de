"""The connection to Salesforce, through simple-salesforce, with the failures it must survive.

simple-salesforce is synchronous (call it from a thread), has no default timeout (issue
#148: services hung for days) and re-logs in on INVALID_SESSION_ID only when it logged in
itself. This module adds a timeout to every request, turns its exceptions into the three
outcomes the connector acts on, and says plainly when a session cannot be renewed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from simple_salesforce import Salesforce, SFType
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)

from contextsvc.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
COLLECTION_LIMIT = 200  # records per sObject Collections request (reference §5.6)


class SalesforceProblem(Exception):
    """Anything that stops a sync or write-back; the message says what to do."""


class SalesforceAuthError(SalesforceProblem):
    pass


class RequestLimitExceeded(SalesforceProblem):
    """403 REQUEST_LIMIT_EXCEEDED: the org's API allowance is spent; retry later."""


class SalesforceCallFailed(SalesforceProblem):
    """Salesforce answered with an error (status and errorCode kept), or did not answer."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status  # None: no answer (network error, timeout)
        self.code = code  # the first errorCode of Salesforce's error list


class TimeoutSession(requests.Session):
    """A requests Session that never waits forever: every request gets `timeout` seconds
    unless the caller gives its own (login calls included, which take no timeout)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method, url, **kwargs):  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, **kwargs)


def auth_mode(settings: Settings) -> str:
    """The first complete set of credentials; login modes first, since only they can renew."""
    s = settings
    if s.salesforce_username and s.salesforce_password and s.salesforce_security_token:
        return "password"
    if s.salesforce_username and s.salesforce_consumer_key and s.salesforce_private_key_file:
        return "jwt"
    if s.salesforce_consumer_key and s.salesforce_consumer_secret:
        return "client_credentials"
    if s.salesforce_session_id and s.salesforce_instance_url:
        return "session"
    raise SalesforceAuthError(
        "no complete Salesforce credentials: set CONTEXTSVC_SALESFORCE_SESSION_ID and _INSTANCE_URL, "
        "or _USERNAME, _PASSWORD and _SECURITY_TOKEN, or _USERNAME, _CONSUMER_KEY and _PRIVATE_KEY_FILE (JWT), "
        "or _CONSUMER_KEY and _CONSUMER_SECRET (client credentials)"
    )


def login(settings: Settings, session: requests.Session) -> Salesforce:
    s = settings
    common: dict[str, Any] = {"session": session, "version": s.salesforce_api_version, "object_pairs_hook": dict}
    mode = auth_mode(settings)
    try:
        if mode == "session":
            return Salesforce(instance_url=s.salesforce_instance_url, session_id=s.salesforce_session_id, **common)
        if mode == "password":
            return Salesforce(
                username=s.salesforce_username,
                password=s.salesforce_password,
                security_token=s.salesforce_security_token,
                domain=s.salesforce_domain,
                **common,
            )
        if mode == "jwt":
            return Salesforce(
                username=s.salesforce_username,
                consumer_key=s.salesforce_consumer_key,
                privatekey_file=s.salesforce_private_key_file,
                domain=s.salesforce_domain,
                **common,
            )
        return Salesforce(
            consumer_key=s.salesforce_consumer_key,
            consumer_secret=s.salesforce_consumer_secret,
            domain=s.salesforce_domain,
            **common,
        )
    except SalesforceAuthenticationFailed as exc:
        raise SalesforceAuthError(f"Salesforce login ({mode}) failed: {exc.code}: {exc.auth_message}") from None
    except requests.RequestException as exc:
        raise SalesforceCallFailed(f"Salesforce login ({mode}) failed: {exc}") from None


def _content(exc: SalesforceError) -> object:
    """The error response's body as simple-salesforce keeps it: the decoded JSON (a list of
    errors) or, when it was not JSON, the text. It annotates `content` as bytes, which a
    response's never is."""
    return exc.content


def _error_code(exc: SalesforceError) -> str | None:
    content = _content(exc)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode")
    return None


class SalesforceApi:
    """The calls the connector makes, each with a timeout and the failure handling of the
    issue: an expired session is renewed when credentials allow (simple-salesforce does it
    in place; here once more if its retries ran out), else a clear error."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or TimeoutSession(settings.salesforce_timeout_s)
        self.mode = auth_mode(settings)
        self.sf = login(settings, self.session)
        self.logins = 1

    @property
    def api_usage(self) -> str | None:
        usage = self.sf.api_usage.get("api-usage")
        return f"{usage.used}/{usage.total}" if usage else None

    def _call(self, action: Callable[[Salesforce], T]) -> T:
        for attempt in (1, 2):
            try:
                return action(self.sf)
            except SalesforceExpiredSession:
                if self.mode == "session":
                    raise SalesforceAuthError(
                        "the Salesforce session id expired or is invalid (401 INVALID_SESSION_ID) and cannot be "
                        "renewed: set a fresh CONTEXTSVC_SALESFORCE_SESSION_ID, or login credentials"
                    ) from None
                if attempt == 2:
                    raise SalesforceAuthError(
                        "Salesforce rejected a freshly renewed session (INVALID_SESSION_ID)"
                    ) from None
                log.warning("Salesforce session expired; logging in again (%s)", self.mode)
                self.sf = login(self.settings, self.session)
                self.logins += 1
            except SalesforceRefusedRequest as exc:
                if _error_code(exc) == "REQUEST_LIMIT_EXCEEDED":
                    raise RequestLimitExceeded(
                        f"Salesforce API request limit exceeded (usage {self.api_usage or 'unknown'})"
                    ) from None
                raise SalesforceCallFailed(
                    f"Salesforce refused the request: {_content(exc)}", exc.status, _error_code(exc)
                ) from None
            except SalesforceAuthenticationFailed as exc:
                raise SalesforceAuthError(f"Salesforce login failed: {exc.code}: {exc.auth_message}") from None
            except SalesforceError as exc:
                raise SalesforceCallFailed(
                    f"Salesforce answered {exc.status} to {exc.resource_name}: {_content(exc)}",
                    exc.status,
                    _error_code(exc),
                ) from None
            except requests.RequestException as exc:
                raise SalesforceCallFailed(f"Salesforce did not answer: {exc}") from None
        raise AssertionError("unreachable")

    def _options(self) -> dict:
        size = min(2000, max(200, self.settings.salesforce_page_size))
        return {"headers": {"Sforce-Query-Options": f"batchSize={size}"}, "timeout": self.settings.salesforce_timeout_s}

    def query_all(self, soql: str) -> dict:
        """queryAll: deleted records too. One page; follow `nextRecordsUrl` with next_page()."""
        return self._call(lambda sf: sf.query(soql, include_deleted=True, **self._options()))

    def next_page(self, next_records_url: str) -> dict:
        return self._call(
            lambda sf: sf.query_more(next_records_url, identifier_is_url=True, include_deleted=True, **self._options())
        )

    def collection(self, method: str, records: list[dict]) -> list[dict]:
        """sObject Collections (POST creates, PATCH updates): per-record results, in order."""
        if len(records) > COLLECTION_LIMIT:
            raise ValueError(f"at most {COLLECTION_LIMIT} records per sObject Collections request")
        body = {"allOrNone": False, "records": records}
        return (
            self._call(
                lambda sf: sf.restful(
                    "composite/sobjects", method=method, json=body, timeout=self.settings.salesforce_timeout_s
                )
            )
            or []
        )

    # --- records for activation targets (salesforce/activation.py) --------------------------

    def _sobject(self, sf: Salesforce, name: str) -> SFType:
        # SFType directly: `sf.<name>` would route the names bulk and bulk2 elsewhere
        return SFType(
            name,
            sf.session_id,
            sf.sf_instance,
            sf_version=sf.sf_version,
            proxies=sf.proxies,
            session=sf.session,
            salesforce=sf,
            object_pairs_hook=dict,
        )

    def upsert(self, sobject: str, field: str, value: str, record: dict) -> bool:
        """PATCH /sobjects/<sobject>/<field>/<value>: create the record carrying `value` in the
        External ID `field`, or update the one that does. True when it created one."""
        response = self._call(
            lambda sf: self._sobject(sf, sobject).upsert(f"{field}/{quote(value, safe='')}", record, raw_response=True)
        )
        return bool(response.status_code == 201)

    def publish(self, sobject: str, record: dict) -> dict:
        """POST /sobjects/<Event__e>/: publish one platform event message (a save result)."""
        result: dict = self._call(lambda sf: self._sobject(sf, sobject).create(record))
        return result

    def count_carrying(self, sobject: str, field: str, value: str) -> int:
        """Records whose `field` equals `value`, deleted ones included (queryAll): the value
        must be plain (letters, digits, hyphens), as event uuids are."""
        if not value.replace("-", "").isalnum():
            raise ValueError(f"not a plain value: {value!r}")
        result = self.query_all(f"SELECT Id FROM {sobject} WHERE {field} = '{value}'")
        return int(result["totalSize"])
