"""Call events for benchmarks: a population with repeat callers and messy phone formats.

Deliberately small; the simulator (simulator/) is the realistic generator. This only has
to exercise every identity rule at the rates real traffic does.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

FORMATS = ["({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "{a}{b}{c}", "001 {a} {b} {c}", "1-{a}-{b}-{c}"]
DISPOSITIONS = ["no_answer", "voicemail_left", "Left VM", "busy", "gatekeeper", "interested", "not_interested",
                "call_back_later", "meeting_booked", "No Answer"]
FIRST = ["Robert", "Bob", "Ann", "Anne", "Raj", "Li", "Maria", "John", "Priya", "Tom"]
LAST = ["Smith", "Lee", "Patel", "Wu", "Garcia", "Jones", "Brown", "Kim", "Nguyen", "Diaz"]


def _letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 26)
        out += "abcdefghijklmnopqrstuvwxyz"[r]
    return out


def population(people: int, rng: random.Random) -> list[dict]:
    out = []
    for i in range(people):
        a, b, c = 200 + i % 700, 200 + (i // 700) % 700, f"{i % 10_000:04d}"
        out.append(
            {
                "phone": (str(a), str(b), c),
                "salesforce_id": f"003{i:012d}" if i % 3 else None,
                "email": f"p{i}@company{i % 997}.com" if i % 2 else None,
                "first_name": FIRST[i % len(FIRST)],
                # Many people share a surname, as in real CRMs; the suffix keeps them apart.
                "last_name": LAST[(i // 10) % len(LAST)] + _letters(i // 100),
                "company": f"Company {i % 997}",
            }
        )
    return out


def calls(count: int, people: int, seed: int = 7, prefix: str = "call") -> list[dict]:
    rng = random.Random(seed)
    pop = population(people, rng)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    out = []
    for n in range(count):
        p = pop[min(int(rng.paretovariate(1.2)) - 1, people - 1) if n % 2 else rng.randrange(people)]
        a, b, c = p["phone"]
        who = {k: v for k, v in p.items() if v is not None and k != "phone"}
        who["phone"] = rng.choice(FORMATS).format(a=a, b=b, c=c)
        duration = int(rng.lognormvariate(4, 1))
        out.append(
            {
                "call_id": f"{prefix}-{n}",
                "direction": "outbound" if n % 5 else "inbound",
                "started_at": (start + timedelta(seconds=n * 7)).isoformat(),
                "duration_seconds": duration,
                "talk_seconds": duration // 2,
                "disposition": rng.choice(DISPOSITIONS),
                "rep_id": f"rep-{n % 40}",
                "who": who,
            }
        )
    return out
