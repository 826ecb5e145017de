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
    reachability: ReachabilityReport


class ReachabilityReport(msgspec.Struct):
    people: int
    listed: int  # people whose calls carried a number on the simulated DNC list
    dnc_correct: int  # do-not-call listing shown exactly when the truth says
    callable_correct: int  # callable_now as the true zone, the rules and do-not-call give it
    best_windows_people: int
    best_windows_correct: int  # every window found rated by the simulation within sampling error of its best
    best_hours: list[str]  # the simulation's best windows: what found windows are checked against
    mismatches: list[dict]

    def shares(self) -> dict[str, float]:
        n = max(1, self.people)
        return {
            "dnc": self.dnc_correct / n,
            "callable_now": self.callable_correct / n,
            "best_windows": self.best_windows_correct / max(1, self.best_windows_people),
        }


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
    """The summary and windows as served_summary reads them from a context."""
    day = as_of.date()
    totals: Counter[str] = Counter(dict.fromkeys(("calls", "outbound", "inbound", "connects", "talk_seconds"), 0))
    windows = {n: {"calls": 0, "connects": 0} for n in (7, 30, 90)}
    for event in events:
        connect = PICKLIST.meaning(PICKLIST.match(event["disposition"]) if event.get("disposition") else None).connect
        totals["calls"] += 1
        totals[event["direction"]] += 1
        totals["connects"] += connect
        totals["talk_seconds"] += event.get("talk_seconds", 0)
        age = (day - datetime.fromisoformat(event["started_at"].replace("Z", "+00:00")).date()).days
        for n, window in windows.items():
            if 0 <= age < n:
                window["calls"] += 1
                window["connects"] += connect
    return {**totals, **{f"{n}d": window for n, window in windows.items()}}


def served_summary(context: dict) -> dict:
    s, w = context["summary"], context["windows"]
    return {
        "calls": s["calls"],
        "outbound": s["outbound"],
        "inbound": s["inbound"],
        "connects": s["connects"],
        "talk_seconds": s["talk_seconds"],
        **{k: {"calls": w[k]["calls"], "connects": w[k]["connects"]} for k in ("7d", "30d", "90d")},
    }


async def verify(
    world: World, calls: list[SimCall], base_url: str, api_key: str, as_of: datetime, concurrency: int = 16
) -> Report:
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
                response = await client.get(
                    f"/v1/context/{individual_id}", params={"as_of": as_of.isoformat(), "recent": 0, "max_tokens": 20}
                )
            contexts[individual_id] = response.json() if response.status_code == 200 else {}

        await asyncio.gather(*(context(i) for i in expected if not i.startswith("missing:")))
    reflected = total = exact = 0
    mismatches: list[dict] = []
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
    reach = check_reachability(world, calls, expected, contexts, as_of, person_individual)
    return Report(
        records=len(record_owner),
        people=len(person_individual),
        precision=round(precision, 5),
        recall=round(recall, 5),
        f1=round(f1, 5),
        completeness=round(reflected / total, 5) if total else 1.0,
        expected_calls=total,
        reflected_calls=reflected,
        exact_people=exact,
        inexact_people=len(expected) - exact,
        mismatches=mismatches,
        reachability=reach,
    )


def simulated_windows(world: World, calls: list[SimCall], min_calls: int) -> dict[tuple[str, int], tuple[float, int]]:
    """The simulation's own answer to "when do they pick up": per window (weekdays or
    weekend, local hour) of all outbound calls, the mean chance each dial had of
    reaching its person, and the number of dials. A found window matches when the
    simulation rates it within sampling error of the best one."""
    from contextsvc.timeutil import zone

    sums: dict[tuple[str, int], float] = defaultdict(float)
    dials: Counter[tuple[str, int]] = Counter()
    people = {p.id: p for p in world.people}
    for call in calls:
        if call.truth.p_connect is None or call.truth.person not in people:
            continue
        account = world.accounts[people[call.truth.person].account]
        local = datetime.fromisoformat(call.event["started_at"].replace("Z", "+00:00")).astimezone(
            zone(account.time_zone)
        )
        cell = ("Mon–Fri" if local.weekday() < 5 else "Sat–Sun", local.hour)
        sums[cell] += call.truth.p_connect
        dials[cell] += 1
    return {k: (sums[k] / n, n) for k, n in dials.items() if n >= min_calls}


def check_reachability(
    world: World,
    calls: list[SimCall],
    expected: dict[str, list[dict]],
    contexts: dict[str, dict],
    as_of: datetime,
    person_individual: dict[str, str],
    min_calls: int = 20,
) -> ReachabilityReport:
    from contextsvc.reachability.rules import CallingRules, window_state
    from contextsvc.timeutil import micros
    from simulator.population import DNC_LIST

    rules = CallingRules.load(REPO_ROOT / "seed" / "calling-rules.toml")
    listed_numbers = set(world.dnc)
    zone_of = {person_individual[p.id]: world.accounts[p.account] for p in world.people if p.id in person_individual}
    truth_windows = simulated_windows(world, calls, min_calls)
    best_rate = max((rate for rate, _ in truth_windows.values()), default=0.0)

    def matches(window: dict) -> bool:
        rate, n = truth_windows.get((window["days"], int(window["start"][:2])), (None, 0))
        if rate is None:
            return False
        # Two standard errors of the served estimate (its connects are realised, not expected).
        return rate >= best_rate - 2 * (rate * (1 - rate) / max(1, window["calls"])) ** 0.5

    top = sorted(truth_windows.items(), key=lambda kv: -kv[1][0])[:3]
    best_hours = [f"{days} {hour:02d}:00 ({rate:.1%}, {n} dials)" for (days, hour), (rate, n) in top]
    at = micros(as_of)
    people = listed = dnc_ok = callable_ok = windows_people = windows_ok = 0
    mismatches: list[dict] = []
    for individual_id, events in expected.items():
        context = contexts.get(individual_id)
        account = zone_of.get(individual_id)
        if not context or account is None:
            continue
        people += 1
        numbers = {normalise_phone(e["who"]["phone"]).e164 for e in events if e["who"].get("phone")}
        is_listed = bool(numbers & listed_numbers)
        listed += is_listed
        reach = context["reachability"]
        shown = any(entry["list"] == DNC_LIST for entry in reach["dnc_listings"])
        dnc_ok += shown == is_listed
        asked = any(
            "do_not_call" in PICKLIST.meaning(PICKLIST.match(e["disposition"])).flags
            for e in events
            if e.get("disposition")
        )
        window = window_state(rules.for_country(account.country), (account.time_zone,), at).callable
        want = False if (is_listed or asked) else window
        callable_ok += reach["callable_now"] == want
        windows = reach["best_time"]["windows"]
        if windows:
            windows_people += 1
            windows_ok += all(matches(w) for w in windows)
            found = [
                f"{w['days']} {w['start']} "
                f"({w['connect_rate']:.1%}, {w['calls']} calls, {reach['best_time']['source']})"
                for w in windows
            ]
        if (shown != is_listed or reach["callable_now"] != want) and len(mismatches) < 5:
            mismatches.append(
                {
                    "individual_id": individual_id,
                    "listed": is_listed,
                    "shown": shown,
                    "callable_now": reach["callable_now"],
                    "expected_callable_now": want,
                    "time_zone": reach["time_zone"],
                    "true_time_zone": account.time_zone,
                }
            )
    if windows_people:
        best_hours.append(f"found e.g. {found}")
    return ReachabilityReport(people, listed, dnc_ok, callable_ok, windows_people, windows_ok, best_hours, mismatches)


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
        c
        for c in calls
        if c.truth.attributable
        and (c.truth.record_id or (c.truth.person, normalise_phone(c.event["who"]["phone"]).e164) in vouched)
    ]


def simulation_end(calls: list[SimCall]) -> datetime:
    last = max(datetime.fromisoformat(c.event["started_at"].replace("Z", "+00:00")) for c in calls)
    return last + timedelta(seconds=1)
