"""Check a running service against the ground truth of a scenario it was fed.

- identity: pairwise precision / recall / F1 over CRM identity records (two records of one
  true person should resolve to one individual, two people's records never should);
- completeness: share of each person's identifiable calls reflected in their context;
- exactness: summary and 7/30/90-day windows equal to what the truth says.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import httpx
import msgspec

from contextsvc.identity import normalise_phone
from contextsvc.ingest import Picklist
from contextsvc.settings import REPO_ROOT
from simulator.population import World
from simulator.traffic import SimCall

PICKLIST = Picklist.load(REPO_ROOT / "seed" / "dispositions.toml")


class Report(msgspec.Struct):
    records: int
    people: int
    precision: float
    recall: float
    f1: float
    completeness: float
    expected_calls: int
    reflected_calls: int
    exact_people: int
    inexact_people: int
    mismatches: list[dict]


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def identity_scores(truth: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    """Pairwise scores from cluster counts: record -> true person, record -> individual."""
    both = Counter((truth[r], predicted[r]) for r in truth)
    true_pairs = sum(_pairs(n) for n in Counter(truth.values()).values())
    predicted_pairs = sum(_pairs(n) for n in Counter(predicted[r] for r in truth).values())
    hits = sum(_pairs(n) for n in both.values())
    precision = hits / predicted_pairs if predicted_pairs else 1.0
    recall = hits / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def expected_summary(events: list[dict], as_of: datetime) -> dict:
    day = as_of.date()
    out = {"calls": 0, "outbound": 0, "inbound": 0, "connects": 0, "talk_seconds": 0,
           **{f"{n}d": {"calls": 0, "connects": 0} for n in (7, 30, 90)}}
    for event in events:
        connect = PICKLIST.meaning(PICKLIST.match(event["disposition"]) if event.get("disposition") else None).connect
        out["calls"] += 1
        out[event["direction"]] = out.get(event["direction"], 0) + 1
        out["connects"] += connect
        out["talk_seconds"] += event.get("talk_seconds", 0)
        age = (day - datetime.fromisoformat(event["started_at"].replace("Z", "+00:00")).date()).days
        for n in (7, 30, 90):
            if 0 <= age < n:
                out[f"{n}d"]["calls"] += 1
                out[f"{n}d"]["connects"] += connect
    return out


def served_summary(context: dict) -> dict:
    s, w = context["summary"], context["windows"]
    return {"calls": s["calls"], "outbound": s["outbound"], "inbound": s["inbound"], "connects": s["connects"],
            "talk_seconds": s["talk_seconds"],
            **{k: {"calls": w[k]["calls"], "connects": w[k]["connects"]} for k in ("7d", "30d", "90d")}}


async def verify(world: World, calls: list[SimCall], base_url: str, api_key: str, as_of: datetime,
                 concurrency: int = 16) -> Report:
    headers = {"Authorization": f"Bearer {api_key}"}
    # Only records some call named: the service cannot know a record no call ever used.
    used = {c.truth.record_id for c in calls if c.truth.record_id}
    record_owner = {r.record_id: p.id for p in world.people for r in p.records if r.record_id in used}
    predicted: dict[str, str] = {}
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:

        async def lookup(record_id: str) -> None:
            async with gate:
                response = await client.get(f"/v1/individuals/{record_id}")
            predicted[record_id] = response.json()["id"] if response.status_code == 200 else f"missing:{record_id}"

        await asyncio.gather(*(lookup(r) for r in record_owner))
        # Each person's identifiable calls should all sit in the individual their records
        # resolve to (for a correctly merged person every record resolves to the same one).
        person_individual = {}
        for p in world.people:
            named = [r.record_id for r in p.records if r.record_id in used]
            if named:
                person_individual[p.id] = predicted[named[0]]
        expected: dict[str, list[dict]] = defaultdict(list)
        for call in identifiable(calls):
            if call.truth.person in person_individual:
                expected[person_individual[call.truth.person]].append(call.event)
        contexts: dict[str, dict] = {}

        async def context(individual_id: str) -> None:
            async with gate:
                response = await client.get(f"/v1/context/{individual_id}", params={"as_of": as_of.isoformat(), "recent": 0,
                                                                                    "max_tokens": 20})
            contexts[individual_id] = response.json() if response.status_code == 200 else {}

        await asyncio.gather(*(context(i) for i in expected if not i.startswith("missing:")))
    reflected = total = exact = 0
    mismatches = []
    for individual_id, events in expected.items():
        want = expected_summary(events, as_of)
        got = served_summary(contexts[individual_id]) if contexts.get(individual_id) else None
        total += len(events)
        reflected += min(len(events), got["calls"]) if got else 0
        if got == want:
            exact += 1
        elif len(mismatches) < 5:
            mismatches.append({"individual_id": individual_id, "expected": want, "served": got})
    precision, recall, f1 = identity_scores(record_owner, predicted)
    return Report(
        records=len(record_owner), people=len(person_individual), precision=round(precision, 5),
        recall=round(recall, 5), f1=round(f1, 5), completeness=round(reflected / total, 5) if total else 1.0,
        expected_calls=total, reflected_calls=reflected, exact_people=exact, inexact_people=len(expected) - exact,
        mismatches=mismatches,
    )


def identifiable(calls: list[SimCall]) -> list[SimCall]:
    """Calls whose evidence can identify their person: those linked to a CRM record, and
    phone-only calls on a personal number that some record-linked call of the same person
    also carried (otherwise nothing ever tells the service whose number it is)."""
    vouched = {
        (c.truth.person, normalise_phone(c.event["who"]["phone"]).e164)
        for c in calls
        if c.truth.record_id and "phone" in c.event["who"]
    }
    return [
        c for c in calls
        if c.truth.attributable
        and (c.truth.record_id or (c.truth.person, normalise_phone(c.event["who"]["phone"]).e164) in vouched)
    ]


def simulation_end(calls: list[SimCall]) -> datetime:
    last = max(datetime.fromisoformat(c.event["started_at"].replace("Z", "+00:00")) for c in calls)
    return last + timedelta(seconds=1)
