"""Stream a scenario's calls to a running service over HTTP, at a target rate."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from simulator.traffic import SimCall

RETRY_FOR_S = 30.0  # how long a request is retried while the service answers 503


def _worth_repeating(response: httpx.Response) -> bool:
    """503: not taken, so safe to send again. 502 `leader_lost` (a worker whose leader died
    with the request): perhaps taken, and calls are idempotent, so safe for calls too."""
    if response.status_code == 503:
        return True
    return (
        response.status_code == 502
        and response.headers.get("content-type", "").startswith("application/json")
        and (response.json().get("code") == "leader_lost")
    )


async def post_retrying(client: httpx.AsyncClient, path: str, body: dict, *, give_up_after_s: float = RETRY_FOR_S):
    """POST, and again after the Retry-After the service sends with 503 `unavailable` (no
    writer yet: a standby taking over, a database restarting) until it answers otherwise
    or `give_up_after_s` has passed. A 503 was not acknowledged, so sending it again
    loses and doubles nothing (a call already stored comes back `duplicate`)."""
    deadline = time.monotonic() + give_up_after_s
    while True:
        response = await client.post(path, json=body)
        if not _worth_repeating(response) or time.monotonic() >= deadline:
            return response
        try:
            wait = float(response.headers.get("retry-after", "1"))
        except ValueError:
            wait = 1.0
        await asyncio.sleep(min(max(wait, 0.05), max(deadline - time.monotonic(), 0.05)))


async def stream(
    calls: Iterable[SimCall],
    base_url: str,
    api_key: str,
    *,
    rate: float | None = None,
    batch: int = 500,
    total: int | None = None,
    concurrency: int = 2,
    show_progress: bool = True,
    freshness: list[float] | None = None,
    speed: float | None = None,
) -> Counter:
    """POST calls in batches (or one by one when batch == 1); rate is calls per second
    (None: as fast as the service takes them). With `speed`, calls are instead paced by
    their own timestamps on a simulated clock running `speed` times real time (1: real
    time; 3600: an hour a second); a batch is sent early rather than hold a due call back.
    Returns the count per item status.

    With `freshness` (a list to fill), after every acknowledged request one of its calls
    is looked up until its person's context shows it; the seconds from acknowledgement to
    visible are appended."""
    statuses: Counter = Counter()
    queue: asyncio.Queue = asyncio.Queue(maxsize=concurrency * 2)
    started = time.perf_counter()
    sent = 0

    async def producer() -> None:
        nonlocal sent
        chunk: list[dict] = []
        first: datetime | None = None
        for call in calls:
            if speed:
                at = datetime.fromisoformat(call.event["started_at"])
                first = first or at
                wait = (at - first).total_seconds() / speed - (time.perf_counter() - started)
                if wait > 0:
                    if chunk:  # everything due so far goes out before the clock moves on
                        await queue.put(chunk)
                        sent += len(chunk)
                        chunk = []
                    await asyncio.sleep(wait)
            chunk.append(call.event)
            if len(chunk) >= batch:
                await queue.put(chunk)
                sent += len(chunk)
                chunk = []
                if rate:
                    await asyncio.sleep(max(0.0, sent / rate - (time.perf_counter() - started)))
        if chunk:
            await queue.put(chunk)
        for _ in range(concurrency):
            await queue.put(None)

    async def consumer(client: httpx.AsyncClient, progress, task) -> None:
        while (chunk := await queue.get()) is not None:
            if len(chunk) == 1:
                response = await post_retrying(client, "/v1/calls", chunk[0])
                results = [response.json()]
                statuses[results[0].get("status", results[0].get("code"))] += 1
            else:
                response = await post_retrying(client, "/v1/calls/batch", {"calls": chunk})
                response.raise_for_status()
                results = response.json()["results"]
                statuses.update(response.json()["summary"])
            if freshness is not None:
                await probe(client, chunk, results, freshness)
            if progress:
                progress.update(
                    task,
                    advance=len(chunk),
                    description=f"{sum(statuses.values()) / (time.perf_counter() - started):,.0f} calls/s",
                )

    async def probe(client: httpx.AsyncClient, chunk: list[dict], results: list[dict], lags: list[float]) -> None:
        acked = time.perf_counter()
        # The service answers each request with one result per call, in order.
        accepted = (
            (event, result)
            for event, result in zip(chunk, results, strict=True)
            if result.get("status") == "accepted" and result.get("individual_id")
        )
        found = next(accepted, None)
        if found is None:
            return
        event, result = found
        params = {"as_of": event["started_at"], "recent": 50, "max_tokens": 20}
        while time.perf_counter() - acked < 5:
            context = await client.get(f"/v1/context/{result['individual_id']}", params=params)
            if context.status_code == 200 and any(
                c["call_id"] == event["call_id"] for c in context.json()["recent_calls"]
            ):
                lags.append(time.perf_counter() - acked)
                return
        lags.append(float("inf"))  # never became visible within 5 s

    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as client:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        with Progress(*columns, disable=not show_progress) as progress:
            task = progress.add_task("streaming", total=total)
            await asyncio.gather(producer(), *(consumer(client, progress, task) for _ in range(concurrency)))
    return statuses


def post_dnc(world, base_url: str, api_key: str) -> dict:
    """Load the world's do-not-call list into the service (POST /v1/dnc, admin)."""
    from simulator.population import DNC_LIST

    response = httpx.post(
        f"{base_url}/v1/dnc",
        json={"list": DNC_LIST, "source": "simulator", "numbers": world.dnc},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=120,
    )
    response.raise_for_status()
    return response.json()
