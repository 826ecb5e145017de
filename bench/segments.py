"""Ingest with and without ten segments and two activation rules, in one run.

    .venv/bin/python -m bench.segments [--calls 60000] [--people 6000] [--rounds 1]

Two fresh servers take the same traffic (bench/traffic.py, re-timed to end now so the
30/90-day windows are full, two thirds of calls naming one of 700 accounts, some with an
opportunity stage) in 5,000-call batches over two connections: one bare, one with the
two seed segments, six more individual segments (windows, recency, trend, dispositions,
signals, opportunity stage), a second account segment, a webhook rule on meetings booked
(to a real local receiver) and a stream rule on segment entry. Prints calls/s of each
and the ratio (target ≥ 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta

import httpx

from bench.ingest import KEY, batch_phase
from bench.traffic import calls
from contextsvc.settings import REPO_ROOT
from tests.live import free_port, live_server
from tests.webhook_receiver import Receiver

SEGMENTS = [
    *(json.loads(p.read_text()) for p in sorted((REPO_ROOT / "seed" / "segments").glob("*.json"))),
    {"name": "busy week", "condition": {"attribute": "windows.7d.calls", "op": ">=", "value": 3}},
    {"name": "quiet 3 weeks", "condition": {"attribute": "summary.days_since_last_connect", "op": ">", "value": 21}},
    {"name": "falling", "condition": {"attribute": "trend.30d.label", "op": "=", "value": "falling"}},
    {
        "name": "warm",
        "condition": {"attribute": "summary.last_disposition", "op": "in", "value": ["meeting_booked", "interested"]},
    },
    {"name": "high intent", "condition": {"attribute": "signals", "op": "contains", "value": "high_intent"}},
    {
        "name": "qualifying",
        "condition": {"attribute": "related.open_opportunity_stages", "op": "contains", "value": "Qualification"},
    },
    {
        "name": "hard to reach",
        "condition": {
            "any": [
                {"attribute": "windows.30d.dispositions.voicemail_left", "op": ">=", "value": 2},
                {"attribute": "summary.attempts_since_last_connect", "op": ">=", "value": 6},
            ]
        },
    },
    {
        "name": "busy accounts",
        "subject": "account",
        "condition": {"attribute": "windows.30d.connects", "op": ">=", "value": 5},
    },
]


def traffic(count: int, people: int) -> list[dict]:
    events = calls(count, people, seconds_apart=60.0)
    shift = datetime.now(UTC) - datetime.fromisoformat(events[-1]["started_at"]) - timedelta(hours=1)
    for n, event in enumerate(events):
        event["started_at"] = (datetime.fromisoformat(event["started_at"]) + shift).isoformat()
        company = int(event["who"]["company"].split()[-1])
        if company % 3:
            event["related"] = {"account_id": f"001{company % 700:012d}"}
            if n % 4 == 0:
                event["related"] |= {"opportunity_id": f"006{company:012d}", "opportunity_stage": "Qualification"}
    return events


def configure(base: str, receiver_url: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        ids = [client.post("/v1/segments", json=s).raise_for_status().json()["id"] for s in SEGMENTS]
        assert len(ids) == 10
        rules = [
            {
                "name": "meeting booked",
                "trigger": {"type": "call_flag", "flags": ["meeting"]},
                "target": {"type": "webhook", "url": receiver_url},
            },
            {"name": "high intent", "trigger": {"type": "segment", "segment_id": ids[6]}, "target": {"type": "stream"}},
        ]
        for rule in rules:
            client.post("/v1/activations", json=rule).raise_for_status()


def run(events: list[dict], batch: int, with_segments: bool, receiver_url: str) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp, live_server(f"sqlite+aiosqlite:///{tmp}/bench.db", KEY) as (base, _):
        if with_segments:
            configure(base, receiver_url)
        elapsed, statuses = asyncio.run(batch_phase(base, events, batch, 2))
        if with_segments:
            page = httpx.get(f"{base}/v1/segments", headers={"Authorization": f"Bearer {KEY}"}).json()
            statuses["members"] = sum(s["members"] for s in page["segments"])
    return len(events) / elapsed, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=60_000)
    parser.add_argument("--people", type=int, default=6_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1, help="bare/with pairs, alternated")
    args = parser.parse_args()
    events = traffic(args.calls, args.people)
    receiver = Receiver(free_port())
    receiver.up()
    try:
        bare, full = [], []
        for _ in range(args.rounds):
            bare.append(run(events, args.batch, False, receiver.url)[0])
            rate, statuses = run(events, args.batch, True, receiver.url)
            full.append(rate)
        time.sleep(1)
    finally:
        receiver.down()
    b, f = max(bare), max(full)
    print(f"ingest, bare:                     {b:8,.0f} calls/s  ({', '.join(f'{r:,.0f}' for r in bare)})")
    print(f"ingest, 10 segments + 2 rules:    {f:8,.0f} calls/s  ({', '.join(f'{r:,.0f}' for r in full)})")
    print(f"ratio: {f / b:.2f} (target ≥ 0.80); {statuses}; webhooks received {len(receiver.requests)}")


if __name__ == "__main__":
    main()
