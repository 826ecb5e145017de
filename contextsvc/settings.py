"""Settings from the environment (prefix CONTEXTSVC_). Read once, at app or CLI start."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = "sqlite+aiosqlite:///./var/contextsvc.db"
    # "KEY" (every scope) or "KEY:scope|scope", comma-separated.
    api_keys: str = ""
    # Region used to read phone numbers written without a country code.
    default_region: str = "US"
    # A phone seen with more than this many distinct people is a shared line
    # (switchboard, call centre) and stops linking people together.
    shared_line_threshold: int = 3
    # Numbers that never link people, whatever their history (comma-separated, any format).
    shared_phones: str = ""
    seed_dir: str = str(REPO_ROOT / "seed")
    # Group commit: the writer waits at most this long for more work before committing,
    # and never puts more than max_batch events in one transaction.
    commit_window_ms: float = 0.0
    max_batch: int = 5000
    # While small requests are flowing, a larger request's calls are committed at most
    # this many per transaction, so it never holds them (and their freshness) back for long.
    commit_slice: int = 64
    # Profile states kept decoded in memory (read cache; the writer keeps as many).
    cache_size: int = 100_000
    # Assembled contexts kept per (person, profile version, as_of day, recent, max_tokens).
    context_memo_size: int = 10_000
    # Call notes in contexts, prompts and MCP answers are cut to this many characters
    # (0: no notes). The profile keeps at most 280 per call.
    notes_max_chars: int = 280
    # Best time to reach (reachability/best.py): a local-hour window is named only with at
    # least this many outbound calls in it; otherwise "not enough data".
    best_time_min_calls: int = 20
    # Retention: calls older than this many days are purged (0: kept forever), with
    # shorter limits per source or caller region, e.g. "source:dialer=90,region:DE=30".
    # Checked every retention_interval_seconds while serving, or `contextsvc retention run`.
    retention_days: int = 0
    retention_rules: str = ""
    retention_interval_seconds: float = 3600.0
    # Webhook delivery (activation): attempts before an event goes to the dead letters,
    # the first retry delay (doubling each time) and its cap, and the HTTP timeout.
    webhook_max_attempts: int = 10
    webhook_retry_base_ms: int = 1000
    webhook_retry_max_ms: int = 3_600_000
    webhook_timeout_s: float = 10.0
    # Outbound targets (webhooks): https only, and never an address that is not public
    # (loopback, private, link-local such as cloud metadata at 169.254.169.254, ...),
    # checked when a rule is registered and again before every delivery. OUTBOUND_ALLOW
    # lists what may be reached anyway, for on-premise receivers: networks (10.1.2.0/24,
    # 127.0.0.1) or host names, comma-separated. OUTBOUND_ALLOW_HTTP: development only,
    # plain http allowed too.
    outbound_allow: str = ""
    outbound_allow_http: bool = False
    # Ingest: a started_at, ended_at or updated_at later than this after the request
    # arrived is rejected (a version from the far future would make every later correction
    # of the call "stale"); the quality monitor flags the smaller skews it lets through.
    ingest_max_future_seconds: int = 86_400
    # The quarantine keeps at most this many bytes of each rejected body (the size it had
    # is recorded) and at most BUDGET bytes in all, evicting the oldest items past it.
    quarantine_item_bytes: int = 64 * 1024
    quarantine_budget_bytes: int = 256 * 1024 * 1024
    # Per API key: find_person searches a minute, and lookups by phone or email a minute
    # by keys without pii:read (who could otherwise guess whole numbers against the masks).
    search_rate_per_minute: int = 60
    lookup_rate_per_minute: int = 600
    # Requests a minute per API key, any route: "KEY=N" per key, "*=N" for the others
    # (ratelimit/keys.py); empty: no limit. Shared by every worker when REDIS_URL is set.
    key_rate_limits: str = ""
    # Several workers over one PostgreSQL (docs/scaling.md): the Redis that carries the
    # leader's change messages, the event stream and shared rate limits (empty: one
    # process, nothing shared), and how long the workers go without a leader at most
    # before a follower takes over.
    redis_url: str = ""
    leader_timeout_s: float = 5.0
    # A worker among several (serve --workers N, or --standby on other hosts): it starts
    # while another process holds the database's writer lease (the leader), hands the
    # leader every request but its own probes and metrics, answering only after the
    # leader did, and takes over the writer and the jobs as soon as the leader is gone
    # (checked every LEADER_TIMEOUT_S / 10). The leader takes handed requests on
    # INTERNAL_HOST:INTERNAL_PORT (0: any free port), registered in the database as
    # ADVERTISE_HOST (default INTERNAL_HOST) with that port.
    standby: bool = False
    internal_host: str = "127.0.0.1"
    internal_port: int = 0
    advertise_host: str = ""
    # Operations (README "Operating it"). Logs: one JSON object per line on standard error
    # ("console": human-readable lines, for `make run`). Request lines: "errors" logs every
    # response of status 400 or more and every request slower than slow_request_ms, "all"
    # every request (halves warm-read throughput on two cores: BENCHMARKS.md), "off" none.
    log_level: str = "INFO"
    log_format: str = "json"
    access_log: str = "errors"
    slow_request_ms: float = 1000.0
    # GET /metrics (Prometheus text) and the request metrics; false turns both off. With a
    # metrics_key set, /metrics asks for `Authorization: Bearer <metrics_key>`.
    metrics: bool = True
    metrics_key: str = ""
    # Benchmarks only: serve this file's bytes at GET /bench/baseline (same server, same
    # auth) so context reads can be compared with a bare endpoint of the same size.
    bench_baseline_file: str = ""
    # Data-quality alerts: a rate (per rep, queue, source) is flagged when a completed UTC
    # day is at least FACTOR times its trailing BASELINE_DAYS, on at least MIN_VOLUME calls
    # both that day and in the baseline, and chance alone would explain it with probability
    # at most MAX_P_VALUE.
    quality_alert_factor: float = 2.0
    quality_min_volume: int = 30
    quality_baseline_days: int = 14
    quality_max_p_value: float = 1e-6
    # A call starting later than this after it arrived is "in the future"; one starting
    # more than MAX_AGE_DAYS before it arrived is "implausibly old".
    quality_future_skew_seconds: int = 300
    quality_max_age_days: int = 730

    # --- Salesforce connector (README "Salesforce"). One auth mode, first that is complete:
    # session id + instance URL; username + password + security token; username + consumer
    # key + private key file (JWT bearer); consumer key + secret (client credentials).
    salesforce_instance_url: str = ""
    salesforce_session_id: str = ""
    salesforce_username: str = ""
    salesforce_password: str = ""
    salesforce_security_token: str = ""
    salesforce_consumer_key: str = ""
    salesforce_consumer_secret: str = ""
    salesforce_private_key_file: str = ""
    # login, test (sandboxes) or your My Domain prefix, e.g. acme.my
    salesforce_domain: str = "login"
    salesforce_api_version: str = "59.0"
    # Every HTTP call to Salesforce gives up after this long (simple-salesforce has no default).
    salesforce_timeout_s: float = 30.0
    # Records per query page asked for (Sforce-Query-Options batchSize, 200–2,000).
    salesforce_page_size: int = 2000
    # Re-read records modified this long before the watermark: a record committed late by a
    # long Salesforce transaction can carry an older SystemModstamp. Re-reading is idempotent.
    salesforce_lookback_s: int = 120
    # Seconds between sync passes (the server's schedule, and `salesforce sync --watch`);
    # after REQUEST_LIMIT_EXCEEDED the wait doubles up to salesforce_max_backoff_s.
    # The server runs a pass every salesforce_sync_interval_s when credentials are set.
    salesforce_sync_interval_s: float = 60.0
    # Write changed insight fields back (the field map below) after every server-run pass.
    salesforce_writeback_after_sync: bool = False
    salesforce_max_backoff_s: float = 3600.0
    # Write-back: context attribute path = Contact/Lead field API name, comma-separated.
    salesforce_writeback_fields: str = (
        "windows.30d.calls=Call_Attempts_30d__c,summary.last_connect_at=Last_Connected_At__c,"
        "trend.30d.label=Engagement_Trend__c,summary.attempts_to_first_connect=Calls_To_First_Connect__c"
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            raw = env.get(f"CONTEXTSVC_{field.name.upper()}")
            if raw is not None:
                values[field.name] = raw
        values.update(overrides)
        # convert() turns "3" into 3 and "2.5" into 2.5, and names the bad variable if not.
        try:
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise SystemExit(f"invalid CONTEXTSVC_ setting: {exc}") from None
