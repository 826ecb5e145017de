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
    # Profile states kept decoded in memory (read cache; the writer keeps as many).
    cache_size: int = 100_000
    # Assembled contexts kept per (person, profile version, as_of day, recent, max_tokens).
    context_memo_size: int = 10_000
    # Webhook delivery (activation): attempts before an event goes to the dead letters,
    # the first retry delay (doubling each time) and its cap, and the HTTP timeout.
    webhook_max_attempts: int = 10
    webhook_retry_base_ms: int = 1000
    webhook_retry_max_ms: int = 3_600_000
    webhook_timeout_s: float = 10.0
    # Benchmarks only: serve this file's bytes at GET /bench/baseline (same server, same
    # auth) so context reads can be compared with a bare endpoint of the same size.
    bench_baseline_file: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
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
