"""What `make run` sets up on the service before live calls begin, through the public API
(as a customer would): the seed segments, and the stream rules the demo console at /demo
listens to. Idempotent: a restart on a seeded database adds only what is missing.

Why stream rules: /v1/events/stream carries the events of stream-target rules, so the
console's live floor needs a rule whose trigger is every call (`{"type": "call"}`); the
segment and quality panels refresh on their own rules' events instead of polling.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import httpx

from contextsvc.api.auth import parse_api_keys

# One more than the seeds: a segment that visibly fills up while the demo runs.
HIGH_INTENT = {
    "name": "High intent in the last 14 days",
    "description": "People whose last 14 days hold a meeting booked or a positive outcome.",
    "subject": "individual",
    "condition": {"attribute": "signals", "op": "contains", "value": "high_intent"},
}
FLOOR_RULE = {"name": "demo console: every call", "trigger": {"type": "call"}, "target": {"type": "stream"}}
ALERT_RULE = {
    "name": "demo console: quality alerts",
    "trigger": {"type": "event", "event_type": "quality_alert_raised"},
    "target": {"type": "stream"},
}


def segment_specs(seed_dir: Path) -> list[dict]:
    return [*(json.loads(p.read_text()) for p in sorted((seed_dir / "segments").glob("*.json"))), HIGH_INTENT]


def _ok(response: httpx.Response) -> dict:
    if response.is_error:
        raise RuntimeError(
            f"demo setup: {response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    return response.json()


async def prepare(client: httpx.AsyncClient, seed_dir: Path) -> list[str]:
    """Create what is missing; returns the names of what was created."""
    created = []
    segments = {s["name"]: s for s in _ok(await client.get("/v1/segments"))["segments"]}
    for spec in segment_specs(seed_dir):
        if spec["name"] not in segments:
            segments[spec["name"]] = _ok(await client.post("/v1/segments", json=spec))
            created.append(spec["name"])
    wanted = [FLOOR_RULE, ALERT_RULE]
    for spec in segment_specs(seed_dir):
        segment_id = segments[spec["name"]]["id"]
        wanted.append(
            {
                "name": f"demo console: segment {segment_id}",
                "trigger": {"type": "segment", "segment_id": segment_id, "on": ["enter", "leave"]},
                "target": {"type": "stream"},
            }
        )
    rules = {r["name"] for r in _ok(await client.get("/v1/activations"))["rules"]}
    for rule in wanted:
        if rule["name"] not in rules:
            _ok(await client.post("/v1/activations", json=rule))
            created.append(rule["name"])
    return created


def console_keys(api_keys: str) -> tuple[str, str | None]:
    """The console's two keys from CONTEXTSVC_API_KEYS: the first key (the demo's, it must
    read contexts and define segments), and one that reads contexts without pii:read, to
    show masking (None if there is none)."""
    keys = parse_api_keys(api_keys)
    if not keys:
        raise SystemExit("set CONTEXTSVC_API_KEYS (make run sets a demo key)")
    main = keys[0]
    if not (main.allows("context:read") and main.allows("segments:write")):
        raise SystemExit("the demo's key (the first in CONTEXTSVC_API_KEYS) needs context:read and segments:write")
    masked = next((k for k in keys if k.allows("context:read") and not k.allows("pii:read")), None)
    return main.key, masked.key if masked else None


def console_url(base: str, key: str, masked: str | None) -> str:
    """The keys ride in the fragment: the browser never sends it, so no access log or proxy
    sees them; the page moves them to session storage and clears the address bar."""
    fragment = f"key={quote(key, safe='')}" + (f"&masked={quote(masked, safe='')}" if masked else "")
    return f"{base}/demo/#{fragment}"
