"""A fake Salesforce org for tests: the documented REST wire format over real TLS.

Why a real HTTPS server (stdlib ThreadingHTTPServer in a thread, certificate from a
throwaway trustme CA) rather than mocking `requests`: simple-salesforce builds every URL
with https:// and parses status codes, JSON error lists and headers itself, so the
connector is tested through the library exactly as it runs against an org. No extra
server dependency: the stdlib server is enough for a few threads of test traffic.

Speaks the REST API's documented wire format: query and queryAll with real paging
(2,000 per page or Sforce-Query-Options batchSize 200–2,000, and by default fewer than
asked, as Salesforce may; nextRecordsUrl
`/services/data/vXX.X/query/<locator>-<offset>`, done, totalSize); sObject create,
update and delete; composite/sobjects POST/PATCH (200-record limit, per-record results
with statusCode errors); upsert by External ID (PATCH /sobjects/<type>/<field>/<value>:
201 created, 200 updated, 300 when several records carry the value, 404 NOT_FOUND for a
field that is not an External ID) and the record by External ID (GET); platform events
published by POST /sobjects/<Name__e>/ (201 with OPERATION_ENQUEUED and the message's
EventUuid; not queryable, not updatable); OAuth token and SOAP login; errors as JSON
lists; Sforce-Limit-Info on every response; 401 INVALID_SESSION_ID and 403
REQUEST_LIMIT_EXCEEDED on demand; writes that fail, or commit and answer too late, on
demand. It understands only the SOQL the connector sends (SELECT fields FROM object WHERE
<TaskSubtype = 'Call' | SystemModstamp >= dateTime> [AND ...] ORDER BY SystemModstamp, Id,
and SELECT fields FROM object WHERE Field = 'value') and answers anything else with
MALFORMED_QUERY.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import string
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import requests
import trustme
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from contextsvc.identity.identifiers import normalise_salesforce_id

PAGE = 2000
PREFIXES = {"Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006", "Task": "00T", "VoiceCall": "0LQ"}
SCHEMA = {
    "Account": {"Name", "Industry", "Phone", "Website"},
    "Contact": {"FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title", "AccountId", "DoNotCall"},
    "Lead": {
        "FirstName",
        "LastName",
        "Email",
        "Phone",
        "MobilePhone",
        "Title",
        "Company",
        "Status",
        "IsConverted",
        "ConvertedContactId",
        "ConvertedAccountId",
    },
    "Opportunity": {"AccountId", "Name", "StageName", "CloseDate"},
    "Task": {
        "WhoId",
        "WhatId",
        "AccountId",
        "Subject",
        "TaskSubtype",
        "Type",
        "Status",
        "CallType",
        "CallDurationInSeconds",
        "CallDisposition",
        "CallObject",
        "ActivityDate",
        "Description",
        "OwnerId",
        "CreatedDate",
        "IsClosed",
        "CompletedDateTime",
        "Priority",
    },
    "VoiceCall": {
        "VendorCallKey",
        "CallType",
        "CallStartDateTime",
        "CallEndDateTime",
        "CallDurationInSeconds",
        "CallConnectDateTime",
        "CallAcceptDateTime",
        "CallQueuedDateTime",
        "CallDisposition",
        "FromPhoneNumber",
        "ToPhoneNumber",
        "RelatedRecordId",
        "ActivityId",
        "UserId",
        "QueueName",
        "CustomerHoldDuration",
        "Description",
    },
}
SYSTEM = {"Id", "IsDeleted", "SystemModstamp", "CreatedDate"}
NOT_UPDATEABLE = {"Task": {"TaskSubtype", "AccountId", "IsClosed", "CompletedDateTime"}}
DERIVED = {"Task": {"AccountId", "IsClosed", "CompletedDateTime"}}
_SELECT = re.compile(
    r"^SELECT (?P<fields>\w+(?:, \w+)*) FROM (?P<sobject>\w+) WHERE (?P<where>.+) ORDER BY SystemModstamp, Id$"
)
_BY_VALUE = re.compile(
    r"^SELECT (?P<fields>\w+(?:, \w+)*) FROM (?P<sobject>\w+) WHERE (?P<field>\w+) = '(?P<value>[^'\\]*)'$"
)
_SINCE = re.compile(r"^SystemModstamp >= (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z)$")


def sf_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class SalesforceFault(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeOrg:
    """The org's data and behaviour switches; thread-safe (the server is threaded)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.schema = {name: set(fields) for name, fields in SCHEMA.items()}  # add custom fields per test
        self.records: dict[str, dict[str, dict]] = {name: {} for name in SCHEMA}
        self.clock = datetime(2030, 1, 1, tzinfo=UTC)
        self.tokens: set[str] = set()
        self.users: dict[str, str] = {}  # username -> password + security token
        self.apps: dict[str, str] = {}  # consumer key -> secret
        self.api_used = 0
        self.api_limit = 1_000_000
        self.cursors: dict[str, tuple[int, list[dict]]] = {}
        self.requests: list[tuple[str, str, object]] = []  # (method, path, JSON body)
        self.reject: dict[str, tuple[str, str]] = {}  # record id -> (statusCode, message) on update
        self.logins = 0
        self.instance_url = ""
        # Salesforce may return fewer records a page than batchSize asks for (REST API guide):
        # pages of 40–80% of the size asked, so no client can count on full pages.
        self.short_pages = True
        self.served: dict[str, datetime] = {}  # per sObject, the newest SystemModstamp a query returned
        self.external_ids: dict[str, set[str]] = {}  # sObject -> its External ID (Unique) fields
        self.published: dict[str, list[dict]] = {}  # platform event -> the messages published, in order
        # Writes (POST/PATCH on sobjects/) that fail before doing anything: (status, errorCode, message).
        self.write_faults: list[tuple[int, str, str]] = []
        # Writes that commit, then answer only after stall_s: a client with a shorter timeout gives up
        # on a write that happened.
        self.stall_writes = 0
        self.stall_s = 0.0

    # --- test controls -----------------------------------------------------------------

    def issue_token(self) -> str:
        token = "00D" + secrets.token_hex(20)
        self.tokens.add(token)
        return token

    def expire_sessions(self) -> None:
        with self.lock:
            self.tokens.clear()

    def add_external_id(self, sobject: str, field: str) -> None:
        """A custom Text field marked External ID and Unique (upserts key on it)."""
        with self.lock:
            self.schema[sobject].add(field)
            self.external_ids.setdefault(sobject, set()).add(field)

    def define_platform_event(self, name: str, fields: set[str]) -> None:
        with self.lock:
            self.schema[name] = set(fields)
            self.records[name] = {}
            self.published[name] = []

    def tick(self) -> str:
        self.clock += timedelta(milliseconds=1)
        return sf_stamp(self.clock)

    def load(self, sobject: str, records: list[dict]) -> None:
        """Put records in as they are (SystemModstamp kept), like a data import."""
        with self.lock:
            for record in records:
                fields = {k: v for k, v in record.items() if k != "attributes"}
                fields.setdefault("IsDeleted", False)
                fields.setdefault("SystemModstamp", self.tick())
                fields.setdefault("CreatedDate", fields["SystemModstamp"])
                self.records[sobject][fields["Id"]] = fields

    def new_id(self, sobject: str) -> str:
        alphabet = string.ascii_letters + string.digits
        return normalise_salesforce_id(PREFIXES[sobject] + "".join(secrets.choice(alphabet) for _ in range(12)))

    def update(self, sobject: str, record_id: str, changes: dict) -> None:
        self.update_many(sobject, [record_id], changes)

    def update_many(self, sobject: str, record_ids: list[str], changes: dict) -> None:
        """One transaction (a mass update, a lead conversion): one SystemModstamp for all."""
        with self.lock:
            stamp = self.tick()
            for record_id in record_ids:
                record = self.records[sobject][record_id]
                record.update(changes)
                record["SystemModstamp"] = stamp

    def delete(self, sobject: str, record_id: str) -> None:
        self.update(sobject, record_id, {"IsDeleted": True})

    def undelete(self, sobject: str, record_id: str) -> None:
        """Restored from the recycle bin."""
        self.update(sobject, record_id, {"IsDeleted": False})

    def commit_late(self, sobject: str, record: dict, seconds: float) -> None:
        """A record whose transaction committed after a query had already returned newer
        ones: its SystemModstamp is `seconds` older than the newest a query served."""
        with self.lock:
            newest = self.served.get(sobject) or max(
                parse_stamp(r["SystemModstamp"]) for r in self.records[sobject].values()
            )
            self.load(sobject, [{**record, "SystemModstamp": sf_stamp(newest - timedelta(seconds=seconds))}])

    def apply(self, change: dict) -> None:
        """One line of the simulator's salesforce/changes.ndjson."""
        op, sobject = change["op"], change["sobject"]
        if op == "update":
            self.update_many(sobject, change["ids"], change["fields"])
        elif op == "delete":
            self.delete(sobject, change["id"])
        elif op == "undelete":
            self.undelete(sobject, change["id"])
        elif op == "insert" and change.get("late_by_s"):
            self.commit_late(sobject, change["record"], change["late_by_s"])
        elif op == "insert":
            self.load(sobject, [{k: v for k, v in change["record"].items() if k != "SystemModstamp"}])
        else:
            raise ValueError(f"unknown change {op!r}")

    def live(self, sobject: str) -> list[dict]:
        return [r for r in self.records[sobject].values() if not r.get("IsDeleted")]

    # --- behaviour -----------------------------------------------------------------------

    def derived(self, sobject: str, record: dict, name: str):
        """Read-only fields Salesforce computes: Task.AccountId from WhatId or the Contact."""
        if sobject == "Task" and name == "AccountId":
            what = record.get("WhatId") or ""
            if what.startswith("001"):
                return what
            if what.startswith("006") and what in self.records["Opportunity"]:
                return self.records["Opportunity"][what].get("AccountId")
            who = self.records["Contact"].get(record.get("WhoId") or "")
            return who.get("AccountId") if who else None
        if sobject == "Task" and name == "IsClosed":
            return record.get("Status") == "Completed"
        return record.get(name)

    def query(self, soql: str, include_deleted: bool, page_size: int, version: str) -> dict:
        match = _SELECT.match(soql) or _BY_VALUE.match(soql)
        if not match or match["sobject"] not in self.schema:
            raise SalesforceFault(400, "MALFORMED_QUERY", f"unexpected SOQL: {soql}")
        sobject, fields = match["sobject"], match["fields"].split(", ")
        if sobject in self.published:
            raise SalesforceFault(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        if "field" in match.groupdict():
            return self._query_by_value(
                sobject, fields, match["field"], match["value"], include_deleted, page_size, version
            )
        unknown = [f for f in fields if f not in self.schema[sobject] | SYSTEM]
        if unknown:
            raise SalesforceFault(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{sobject}'")
        since, subtype = None, None
        for condition in match["where"].split(" AND "):
            found = _SINCE.match(condition)
            if found:
                since = parse_stamp(found[1])
            elif condition == "TaskSubtype = 'Call'" and sobject == "Task":
                subtype = "Call"
            else:
                raise SalesforceFault(400, "MALFORMED_QUERY", f"unexpected condition: {condition}")
        with self.lock:
            rows = [
                r
                for r in self.records[sobject].values()
                if (include_deleted or not r.get("IsDeleted"))
                and (since is None or parse_stamp(r["SystemModstamp"]) >= since)
                and (subtype is None or r.get("TaskSubtype") == subtype)
            ]
            rows.sort(key=lambda r: (parse_stamp(r["SystemModstamp"]), r["Id"]))
            if rows:
                newest = parse_stamp(rows[-1]["SystemModstamp"])
                self.served[sobject] = max(newest, self.served.get(sobject, newest))
            result = [self.project(sobject, r, fields, version) for r in rows]
            locator = "01g" + secrets.token_hex(8)
            self.cursors[locator] = (page_size, result)
        return self.page(locator, 0, version)

    def _query_by_value(
        self,
        sobject: str,
        fields: list[str],
        field: str,
        value: str,
        include_deleted: bool,
        page_size: int,
        version: str,
    ) -> dict:
        unknown = [f for f in [*fields, field] if f not in self.schema[sobject] | SYSTEM]
        if unknown:
            raise SalesforceFault(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{sobject}'")
        with self.lock:
            rows = sorted(
                (
                    r
                    for r in self.records[sobject].values()
                    if (include_deleted or not r.get("IsDeleted")) and r.get(field) == value
                ),
                key=lambda r: r["Id"],
            )
            locator = "01g" + secrets.token_hex(8)
            self.cursors[locator] = (page_size, [self.project(sobject, r, fields, version) for r in rows])
        return self.page(locator, 0, version)

    def project(self, sobject: str, record: dict, fields: list[str], version: str) -> dict:
        out = {"attributes": {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{record['Id']}"}}
        for name in fields:
            out[name] = self.derived(sobject, record, name)
        return out

    def page(self, locator: str, offset: int, version: str) -> dict:
        with self.lock:
            if locator not in self.cursors:
                raise SalesforceFault(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            size, rows = self.cursors[locator]
        if self.short_pages:
            size = max(1, size * (2 + offset % 3) // 5)
        end = offset + size
        body = {"totalSize": len(rows), "done": end >= len(rows), "records": rows[offset:end]}
        if end < len(rows):
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        return body

    def upsert(self, sobject: str, field: str, value: str, fields: dict, version: str) -> tuple[int, object]:
        """sObject Rows by External ID, PATCH: create the record carrying `value`, or update
        the one live record that does."""
        if sobject not in self.schema or sobject in self.published or field not in self.external_ids.get(sobject, ()):
            raise SalesforceFault(404, "NOT_FOUND", "The requested resource does not exist")
        if field in fields or "Id" in fields:  # the guide: "an error is generated" (its code is not documented)
            raise SalesforceFault(400, "INVALID_FIELD", f"Do not specify Id or {field} in the request body")
        with self.lock:
            carrying = [r for r in self.live(sobject) if r.get(field) == value]
            if len(carrying) > 1:
                return 300, [f"/services/data/v{version}/sobjects/{sobject}/{r['Id']}" for r in carrying]
            if carrying:
                result = self.save(sobject, fields, carrying[0]["Id"])
                status = 200
            else:
                result = self.save(sobject, {**fields, field: value}, None)
                status = 201
        if not result["success"]:
            return 400, _as_error_list(result)
        return status, {**result, "created": status == 201}

    def by_external_id(self, sobject: str, field: str, value: str, version: str) -> tuple[int, object]:
        if sobject not in self.schema or field not in self.external_ids.get(sobject, ()):
            raise SalesforceFault(404, "NOT_FOUND", "The requested resource does not exist")
        with self.lock:
            carrying = [r for r in self.live(sobject) if r.get(field) == value]
        if len(carrying) > 1:
            return 300, [f"/services/data/v{version}/sobjects/{sobject}/{r['Id']}" for r in carrying]
        if not carrying:
            raise SalesforceFault(404, "NOT_FOUND", "The requested resource does not exist")
        return 200, self.project(sobject, carrying[0], sorted(self.schema[sobject] | SYSTEM), version)

    def publish(self, name: str, fields: dict) -> tuple[int, object]:
        """A platform event message: queued for subscribers, not stored as a record."""
        unknown = [f for f in fields if f not in self.schema[name]]
        if unknown:
            raise SalesforceFault(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {name}")
        with self.lock:
            event_uuid = str(uuid.uuid4())
            messages = self.published[name]
            replay_id = len(messages) + 1
            messages.append({**fields, "EventUuid": event_uuid, "ReplayId": replay_id, "CreatedDate": self.tick()})
        result = {
            "id": "e00" + secrets.token_hex(7)[:12] + "AAA",
            "success": True,
            "errors": [{"statusCode": "OPERATION_ENQUEUED", "message": event_uuid, "fields": []}],
        }
        return 201, result

    def save(self, sobject: str | None, fields: dict, record_id: str | None) -> dict:
        """One create (record_id None) or update; a save result, errors with statusCode."""

        def error(code: str, message: str, fields_: list[str] | None = None) -> dict:
            return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": fields_ or []}]}

        if sobject not in self.schema:
            return error("INVALID_TYPE", f"sObject type '{sobject}' is not supported")
        unknown = [f for f in fields if f not in self.schema[sobject]]
        if unknown:
            return error("INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}", unknown)
        with self.lock:
            if record_id is None:
                readonly = [f for f in fields if f in DERIVED.get(sobject, ())]
                if readonly:
                    return error(
                        "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {readonly[0]}", readonly
                    )
                new_id = self.new_id(sobject)
                stamp = self.tick()
                self.records[sobject][new_id] = {
                    **fields,
                    "Id": new_id,
                    "IsDeleted": False,
                    "SystemModstamp": stamp,
                    "CreatedDate": fields.get("CreatedDate") or stamp,
                }
                return {"id": new_id, "success": True, "errors": []}
            record = self.records[sobject].get(record_id)
            if record is None or record.get("IsDeleted"):
                return error("ENTITY_IS_DELETED", "entity is deleted")
            readonly = [f for f in fields if f in NOT_UPDATEABLE.get(sobject, ())]
            if readonly:
                return error(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {readonly[0]}", readonly
                )
            if sobject == "Lead" and record.get("IsConverted"):
                return error("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
            if record_id in self.reject:
                code, message = self.reject[record_id]
                return error(code, message)
            self.update(sobject, record_id, fields)
            return {"id": record_id, "success": True, "errors": []}


class _Handler(BaseHTTPRequestHandler):
    server: FakeSalesforce
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: object | None, content_type: str = "application/json") -> None:
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        try:
            self._write(status, data, content_type)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):  # the client gave up (a stalled write)
            self.close_connection = True

    def _write(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        org = self.server.org
        if self.path.startswith("/services/data"):
            self.send_header("Sforce-Limit-Info", f"api-usage={org.api_used}/{org.api_limit}")
        if data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        org = self.server.org
        url = urlsplit(self.path)
        raw = self._body()
        try:
            if url.path == "/services/oauth2/token" and method == "POST":
                return self._send(*self._oauth(parse_qs(raw.decode())))
            if url.path.startswith("/services/Soap/u/") and method == "POST":
                return self._send(*self._soap(raw.decode()), content_type="text/xml")
            match = re.match(r"^/services/data/v(\d+\.\d)/(.*)$", url.path)
            if not match:
                raise SalesforceFault(404, "NOT_FOUND", "The requested resource does not exist")
            body = json.loads(raw) if raw else None
            with org.lock:
                org.requests.append((method, url.path, body))
                if self.headers.get("Authorization", "").removeprefix("Bearer ") not in org.tokens:
                    raise SalesforceFault(401, "INVALID_SESSION_ID", "Session expired or invalid")
                if org.api_used >= org.api_limit:
                    raise SalesforceFault(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                org.api_used += 1
                write = method in ("POST", "PATCH") and match[2].startswith("sobjects/")
                if write and org.write_faults:
                    raise SalesforceFault(*org.write_faults.pop(0))
                stall = write and org.stall_writes > 0
                if stall:
                    org.stall_writes -= 1
            answer = self._rest(method, match[1], match[2], parse_qs(url.query), body)
            if stall:
                time.sleep(org.stall_s)
            self._send(*answer)
        except SalesforceFault as fault:
            self._send(fault.status, [{"message": fault.message, "errorCode": fault.code}])

    def _rest(self, method: str, version: str, path: str, params: dict, body) -> tuple[int, object | None]:
        org = self.server.org
        resource = path.rstrip("/")
        if method == "GET" and resource in ("query", "queryAll"):
            options = self.headers.get("Sforce-Query-Options", "")
            size = re.search(r"batchSize=(\d+)", options)
            page = min(PAGE, max(200, int(size[1]))) if size else PAGE
            return 200, org.query(params.get("q", [""])[0], resource == "queryAll", page, version)
        found = re.match(r"^query/(01g\w+)-(\d+)$", resource)
        if method == "GET" and found:
            return 200, org.page(found[1], int(found[2]), version)
        if resource == "composite/sobjects" and method in ("POST", "PATCH"):
            return self._collection(method, body)
        found = re.match(r"^sobjects/(\w+)/(\w+)/([^/]+)$", resource)
        if found and method == "PATCH":
            return org.upsert(found[1], found[2], unquote(found[3]), body or {}, version)
        if found and method == "GET":
            return org.by_external_id(found[1], found[2], unquote(found[3]), version)
        found = re.match(r"^sobjects/(\w+__e)$", resource)
        if found and method == "POST" and found[1] in org.published:
            return org.publish(found[1], body or {})
        found = re.match(r"^sobjects/(\w+)(?:/(\w+))?$", resource)
        if found and method == "POST" and not found[2]:
            result = org.save(found[1], body or {}, None)
            return (201, result) if result["success"] else (400, _as_error_list(result))
        if found and found[2] and method == "PATCH":
            result = org.save(found[1], body or {}, found[2])
            return (204, None) if result["success"] else (400, _as_error_list(result))
        if found and found[2] and method == "DELETE":
            if found[2] not in org.records.get(found[1], {}):
                raise SalesforceFault(404, "NOT_FOUND", "The requested resource does not exist")
            org.delete(found[1], found[2])
            return 204, None
        raise SalesforceFault(404, "NOT_FOUND", "The requested resource does not exist")

    def _collection(self, method: str, body) -> tuple[int, object]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise SalesforceFault(400, "JSON_PARSER_ERROR", 'expected {"allOrNone": ..., "records": [...]}')
        records = body["records"]
        if len(records) > 200:
            raise SalesforceFault(
                400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
            )
        results = []
        for record in records:
            sobject = (record.get("attributes") or {}).get("type")
            fields = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
            record_id = record.get("id") or record.get("Id")
            if method == "POST" and record_id:
                results.append(_as_failure("INVALID_FIELD", "cannot specify Id in an insert call"))
            elif method == "PATCH" and not record_id:
                results.append(_as_failure("MISSING_ARGUMENT", "Id not specified in an update call"))
            else:
                results.append(self.server.org.save(sobject, fields, record_id if method == "PATCH" else None))
        return 200, results

    def _oauth(self, form: dict) -> tuple[int, dict]:
        org = self.server.org
        get = lambda k: form.get(k, [""])[0]  # noqa: E731
        grant = get("grant_type")
        basic = self.headers.get("Authorization", "").removeprefix("Basic ")
        key, _, secret = base64.b64decode(basic).decode().partition(":") if basic else ("", "", "")
        ok = (
            (grant == "client_credentials" and key in org.apps and org.apps[key] == secret)
            or (grant == "password" and org.users.get(get("username")) == get("password"))
            or (grant.endswith("jwt-bearer") and bool(get("assertion")))
        )
        if not ok:
            return 400, {"error": "invalid_grant", "error_description": "authentication failure"}
        org.logins += 1
        return 200, {"access_token": org.issue_token(), "instance_url": org.instance_url, "token_type": "Bearer"}

    def _soap(self, envelope: str) -> tuple[int, bytes]:
        org = self.server.org
        username = re.search(r"<n1:username>(.*?)</n1:username>", envelope)
        password = re.search(r"<n1:password>(.*?)</n1:password>", envelope)
        if not username or not password or org.users.get(username[1]) != password[1]:
            fault = (
                '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>'
                "INVALID_LOGIN</faultcode><detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>"
                "<sf:exceptionMessage>Invalid username, password, security token; or user locked out."
                "</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
            )
            return 500, fault.encode()
        org.logins += 1
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
            "<soapenv:Body><loginResponse><result>"
            f"<serverUrl>{org.instance_url}/services/Soap/u/59.0/00D000000000001</serverUrl>"
            f"<sessionId>{org.issue_token()}</sessionId></result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return 200, body.encode()


def _as_failure(code: str, message: str) -> dict:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": []}]}


def _as_error_list(result: dict) -> list[dict]:
    return [
        {"message": e["message"], "errorCode": e["statusCode"], "fields": e.get("fields", [])} for e in result["errors"]
    ]


class FakeSalesforce(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, org: FakeOrg, ssl_context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.socket = ssl_context.wrap_socket(self.socket, server_side=True)
        self.org = org
        org.instance_url = f"https://127.0.0.1:{self.server_address[1]}"


class _RouteTo(HTTPAdapter):
    """Sends every request (login hosts such as login.salesforce.com too) to the fake."""

    def __init__(self, netloc: str) -> None:
        super().__init__()
        self.netloc = netloc

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        assert request.url is not None  # a request is prepared with its URL before it is sent
        request.url = urlunsplit(urlsplit(request.url)._replace(netloc=self.netloc))
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)


class RunningFake:
    def __init__(self, tmp: Path) -> None:
        ca = trustme.CA()
        self.ca_path = tmp / "fake-salesforce-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.org = FakeOrg()
        self.server = FakeSalesforce(self.org, context)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.instance_url = self.org.instance_url

    def session(self, timeout: float = 10.0) -> requests.Session:
        """A client session that trusts the test CA and reaches the fake for logins too."""
        from contextsvc.salesforce.client import TimeoutSession

        session = TimeoutSession(timeout)
        session.verify = str(self.ca_path)
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over verify
        session.mount("https://", _RouteTo(urlsplit(self.instance_url).netloc))  # login hosts included
        return session

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
