"""Call events for benchmarks: a population with repeat callers and messy phone formats.

Deliberately small; the simulator (simulator/) is the realistic generator. This only has
to exercise every identity rule at the rates real traffic does.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import lru_cache

FORMATS = ["({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "{a}{b}{c}", "001 {a} {b} {c}", "1-{a}-{b}-{c}"]
DISPOSITIONS = [
    "no_answer",
    "voicemail_left",
    "Left VM",
    "busy",
    "gatekeeper",
    "interested",
    "not_interested",
    "call_back_later",
    "meeting_booked",
    "No Answer",
]
FIRST = ["Robert", "Bob", "Ann", "Anne", "Raj", "Li", "Maria", "John", "Priya", "Tom"]
LAST = ["Smith", "Lee", "Patel", "Wu", "Garcia", "Jones", "Brown", "Kim", "Nguyen", "Diaz"]


def _letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 26)
        out += "abcdefghijklmnopqrstuvwxyz"[r]
    return out


@lru_cache(maxsize=4)
def population(people: int) -> list[dict]:
    """The same people every time for a given size, so chunks of one stream agree."""
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


def calls(
    count: int, people: int, seed: int = 7, prefix: str = "call", first_index: int = 0, seconds_apart: float = 7.0
) -> list[dict]:
    """Calls first_index.. first_index+count of a stream spaced seconds_apart, in time order.
    Half go to a uniformly chosen person, half to a power-law favourite (the top 1% of
    people draw about a fifth of those), as repeat prospects do."""
    rng = random.Random(seed)
    pop = population(people)
    start = datetime(2025, 11, 1, tzinfo=UTC)
    out = []
    for n in range(first_index, first_index + count):
        p = pop[int(people * rng.random() ** 3) if n % 2 else rng.randrange(people)]
        a, b, c = p["phone"]
        who = {k: v for k, v in p.items() if v is not None and k != "phone"}
        who["phone"] = rng.choice(FORMATS).format(a=a, b=b, c=c)
        duration = int(rng.lognormvariate(4, 1))
        out.append(
            {
                "call_id": f"{prefix}-{n}",
                "direction": "outbound" if n % 5 else "inbound",
                "started_at": (start + timedelta(seconds=n * seconds_apart)).isoformat(),
                "duration_seconds": duration,
                "talk_seconds": duration // 2,
                "disposition": rng.choice(DISPOSITIONS),
                "rep_id": f"rep-{n % 40}",
                "who": who,
            }
        )
    return out
