"""Locust users mirroring how the service is really used.

    make loadtest PROFILE=smoke|standard|stress     (headless, SLO-gated: loadtests/run.py)
    make loadtest-ui                                 (Locust's web UI, for demos)

The runner prepares LOADTEST_DIR (targets.json: real people and their lookups; tail.ndjson:
simulated calls not yet ingested) and sets LOADTEST_PROFILE and LOADTEST_KEY.

- AgentReader: an agent grounding itself before it speaks: context by individual id,
  phone in assorted formats, email in any case or Contact id (15 or 18 chars), people
  drawn with Zipf-like popularity (busy prospects are looked up more).
- CtiWriter: a CTI adapter posting each call as it ends. BatchWriter: a dialer flushing
  its log in batches.
- FreshnessProber: posts a call, polls its person's context until the call shows, and
  reports the lag (POST sent -> visible) as the custom metric "call visible in context".

Every acknowledged call id is journaled to acked.txt so the runner can verify afterwards
that nothing acknowledged went missing. Read latencies are also kept exactly (Locust
rounds its percentiles) and written to latencies.json when the test stops.
"""

from __future__ import annotations

import os
import random
import time
from bisect import bisect
from itertools import accumulate, count
from pathlib import Path
from urllib.parse import quote

import gevent  # type: ignore[import-untyped]  # no stubs installed: types-gevent is not a dev dependency
import msgspec
from locust import FastHttpUser, events, task

from loadtests.profiles import PROFILES

DIR = Path(os.environ.get("LOADTEST_DIR", "var/loadtest/smoke"))
PROFILE = PROFILES[os.environ.get("LOADTEST_PROFILE", "smoke")]
AUTH = {"Authorization": f"Bearer {os.environ.get('LOADTEST_KEY', 'loadtest-key')}"}
POST_JSON = {**AUTH, "Content-Type": "application/json"}
# Several workers (loadtests.run --workers N): users spread over them as a load balancer
# would spread agents, and each freshness probe reads on another worker than it wrote to.
HOSTS = [host for host in os.environ.get("LOADTEST_HOSTS", "").split(",") if host]
_SPREAD = count()
ZIPF_EXPONENT = 1.1


class _Target(msgspec.Struct):
    individual_id: str
    lookups: list[tuple[str, str]]


class _TailCall(msgspec.Struct):
    call_id: str
    who: dict = {}


TARGETS = msgspec.json.decode((DIR / "targets.json").read_bytes(), type=list[_Target])
_CUMULATIVE = list(accumulate(1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(TARGETS))))


def popular_target() -> _Target:
    return TARGETS[bisect(_CUMULATIVE, random.random() * _CUMULATIVE[-1])]


class Tail:
    """The calls still to come, shared by every writer (gevent: no two run at once).
    Writers take from the front; probers take record-linked calls from the back."""

    def __init__(self, path: Path) -> None:
        self.raw = path.read_bytes().splitlines()
        self.meta = [msgspec.json.decode(line, type=_TailCall) for line in self.raw]
        self.front = 0
        self.back = len(self.raw) - 1
        self.taken: set[int] = set()
        self.exhausted = False

    def take(self, count: int) -> list[int]:
        out: list[int] = []
        while len(out) < count and self.front <= self.back:
            if self.front not in self.taken:
                self.taken.add(self.front)
                out.append(self.front)
            self.front += 1
        self.exhausted |= len(out) < count
        return out

    def take_probe(self) -> int | None:
        while self.back >= self.front:
            index, self.back = self.back, self.back - 1
            if index not in self.taken and self.meta[index].who.get("salesforce_id"):
                self.taken.add(index)
                return index
        self.exhausted = True
        return None


TAIL = Tail(DIR / "tail.ndjson")
ACKED = (DIR / "acked.txt").open("a", buffering=1)
LATENCIES: dict[str, list[float]] = {"context": [], "freshness": []}


def acknowledge(indices: list[int]) -> None:
    ACKED.write("".join(TAIL.meta[i].call_id + "\n" for i in indices))


class PacedUser(FastHttpUser):
    """`rate` tasks per second on average, arriving as a Poisson process (exponential
    gaps, kept on schedule however long each task takes), from a random first moment:
    the users of a kind together form one Poisson stream, as independent agents and CTI
    adapters do. Locust's constant_throughput kept users that start together in
    lockstep: all eight smoke readers fired in the same millisecond ten times a second,
    and the gates measured the queue of that synthetic burst instead of the service."""

    abstract = True
    rate: float = 1.0

    def on_start(self) -> None:
        self.reads_at = ""  # "": where it writes; else another worker's base URL
        if HOSTS:
            turn = next(_SPREAD)
            self.client.base_url = HOSTS[turn % len(HOSTS)]
            self.reads_at = HOSTS[(turn + 1) % len(HOSTS)] if len(HOSTS) > 1 else ""
        gevent.sleep(random.expovariate(self.rate))
        self._due = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        # A task that ran long does not bunch the next ones up behind it.
        self._due = max(self._due, now - 1 / self.rate) + random.expovariate(self.rate)
        return max(0.0, self._due - now)


class AgentReader(PacedUser):
    fixed_count = PROFILE.readers
    rate = PROFILE.reads_per_user

    @task
    def ground(self) -> None:
        target = popular_target()
        kind, text = random.choice(target.lookups)
        query = f"max_tokens={random.choice((150, 300, 600))}&recent={random.choice((3, 5, 10))}"
        if random.random() < 0.2:
            query += "&format=prompt"
        started = time.perf_counter()
        with self.client.get(
            f"/v1/context/{quote(text, safe='')}?{query}",
            headers=AUTH,
            name=f"GET /v1/context/[{kind}]",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            else:
                LATENCIES["context"].append((time.perf_counter() - started) * 1000)


def post_calls(user: FastHttpUser, indices: list[int], name: str) -> bool:
    if len(indices) == 1 and name != "POST /v1/calls/batch":
        path, body = "/v1/calls", TAIL.raw[indices[0]]
    else:
        path, body = "/v1/calls/batch", b'{"calls":[' + b",".join(TAIL.raw[i] for i in indices) + b"]}"
    # locust annotates `data` as str | dict, but documents bytes and sends them as they are.
    with user.client.post(
        path,
        data=body,  # type: ignore[arg-type]
        headers=POST_JSON,
        name=name,
        catch_response=True,
    ) as response:
        if response.status_code not in (200, 201):
            response.failure(f"{response.status_code}: {response.text[:200]}")
            return False
        if path.endswith("batch"):
            summary = response.json()["summary"]
            bad = {k: v for k, v in summary.items() if k in ("rejected", "conflict")}
            if bad:
                response.failure(f"batch items not ingested: {bad}")
                return False
    acknowledge(indices)
    return True


class CtiWriter(PacedUser):
    fixed_count = PROFILE.single_writers
    rate = PROFILE.singles_per_user

    @task
    def call_ended(self) -> None:
        indices = TAIL.take(1)
        if indices:
            post_calls(self, indices, "POST /v1/calls")


class BatchWriter(PacedUser):
    fixed_count = PROFILE.batch_writers
    rate = PROFILE.batches_per_user

    @task
    def flush(self) -> None:
        indices = TAIL.take(PROFILE.batch_size)
        if indices:
            post_calls(self, indices, "POST /v1/calls/batch")


class FreshnessProber(PacedUser):
    fixed_count = PROFILE.probers
    rate = PROFILE.probes_per_user
    give_up_after = 5.0  # seconds; a probe that never sees its call is a failure

    @task
    def probe(self) -> None:
        index = TAIL.take_probe()
        if index is None:
            return
        meta = TAIL.meta[index]
        started = time.perf_counter()
        if not post_calls(self, [index], "POST /v1/calls (probe)"):
            return
        path = f"{self.reads_at}/v1/context/{quote(meta.who['salesforce_id'], safe='')}?recent=50&max_tokens=20"
        needle = f'"call_id":{msgspec.json.encode(meta.call_id).decode()}'
        while True:
            with self.client.get(
                path, headers=AUTH, name="GET /v1/context (probe poll)", catch_response=True
            ) as response:
                seen = response.status_code == 200 and needle in response.text
                if response.status_code not in (200, 404):  # 404: the person may not exist yet
                    response.failure(f"{response.status_code}: {response.text[:200]}")
                    return
            lag = (time.perf_counter() - started) * 1000
            if seen or lag > self.give_up_after * 1000:
                break
            gevent.sleep(0.002)
        events.request.fire(
            request_type="FRESH",
            name="call visible in context",
            response_time=lag,
            response_length=0,
            exception=None if seen else RuntimeError(f"{meta.call_id} not visible after {lag:.0f} ms"),
            context={},
        )
        if seen:
            LATENCIES["freshness"].append(lag)


@events.test_stop.add_listener
def write_latencies(**_kwargs) -> None:
    ACKED.flush()
    summary: dict[str, list[float] | bool] = {name: sorted(values) for name, values in LATENCIES.items()}
    summary["tail_exhausted"] = TAIL.exhausted
    (DIR / "latencies.json").write_bytes(msgspec.json.encode(summary))
