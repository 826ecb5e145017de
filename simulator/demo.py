"""`make run`: seed 90 days of a sales floor's calls, serve the API, keep calls coming.

History is ingested in-process through the service's own writer (much faster than over
HTTP), then the API is served and a background task posts new simulated calls over HTTP
at a rate a person can watch, stamped with the current time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import webbrowser
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import phonenumbers
import uvicorn
from rich.console import Console
from sqlalchemy import func, select

from contextsvc.api.app import create_app
from contextsvc.ingest import CallEvent, CallWork
from contextsvc.service import open_database, open_service
from contextsvc.settings import Settings
from contextsvc.store import tables as t
from contextsvc.telemetry import configure_logging, logging_config
from simulator import demo_setup
from simulator.population import World, build_world
from simulator.scenario import Scenario, load
from simulator.traffic import SimCall, Traffic

console = Console()


def demo_scenario(overrides: list[str]) -> Scenario:
    """The default scenario, ending today: 90 days of history up to last midnight (UTC)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=90)
    return load("default", [f'start="{start.strftime("%Y-%m-%dT%H:%M:%SZ")}"', "days=180", *overrides])


def demo_traffic(overrides: list[str]) -> tuple[World, list[SimCall], list[SimCall]]:
    """The demo's world, its 90 days of history before today (UTC) and the calls after it
    (the live ones, up to 20,000)."""
    scenario = demo_scenario(overrides)
    world = build_world(scenario)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    history: list[SimCall] = []
    upcoming: list[SimCall] = []
    for call in Traffic(world, scenario).calls():
        (history if call.event["started_at"] < today else upcoming).append(call)
        if len(upcoming) >= 20_000:
            break
    return world, history, upcoming


def live_event(call: SimCall) -> dict:
    """An upcoming call as it ends now: stamped with the current time, a fresh call id."""
    event = dict(call.event)
    now = datetime.now(UTC)
    duration = event.get("duration_seconds", 0)
    event["started_at"] = (now - timedelta(seconds=duration)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["ended_at"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["call_id"] = f"LIVE-{event['call_id']}-{int(time.time())}"
    return event


async def seed(settings: Settings, history: list[SimCall]) -> int:
    """Ingest the history unless the database already has calls. Returns calls ingested."""
    async with open_database(settings) as engine, engine.connect() as conn:
        if (await conn.execute(select(func.count()).select_from(t.calls))).scalar_one():
            return 0
    # The service's own writer, side branches included (segments, insights, activation,
    # data quality), so seeded history counts everywhere.
    async with open_service(settings) as service:
        normalise = service.normaliser.normalise
        for start in range(0, len(history), 5000):
            chunk = history[start : start + 5000]
            await service.ingest([CallWork(normalise(msgspec.convert(c.event, CallEvent), strict=True)) for c in chunk])
    return len(history)


def showcase(world: World, history: list[SimCall]) -> list[str]:
    """Three real people to look up: by phone, by email, by Contact id (busiest first)."""
    calls_of: dict[str, int] = {}
    used: set[str] = set()
    for call in history:
        if call.truth.record_id and call.truth.person:  # linked calls always have a true person
            calls_of[call.truth.person] = calls_of.get(call.truth.person, 0) + 1
            used.add(call.truth.record_id)
    people = {p.id: p for p in world.people}
    ranked = [people[i] for i, _ in sorted(calls_of.items(), key=lambda kv: (-kv[1], kv[0]))]
    # People whose every record was used, so each identifier below is known to the service.
    plain = [p for p in ranked if all(r.record_id in used and not r.converted_lead_id for r in p.records)]
    # A North American number shows off the US-style normalisation best; which people are
    # busiest depends on today's date, so fall back to anyone's number, written to be dialled.
    phones = [(p, p.phone) for p in plain if p.phone]
    by_phone, phone = next(((p, n) for p, n in phones if n.startswith("+1")), phones[0])
    by_email = next(p for p in plain if p is not by_phone)
    by_contact = next(p for p in plain if p not in (by_phone, by_email) and any(r.kind == "contact" for r in p.records))
    contact = next(r for r in by_contact.records if r.kind == "contact")
    return [printed_number(phone), by_email.email.upper(), contact.record_id[:15]]


def printed_number(e164: str) -> str:
    """`(415) 555-0101` for a North American number, `+44 20 7946 0958` for any other: both
    resolve under the service's default region."""
    number = phonenumbers.parse(e164)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


async def live_calls(
    base: str, key: str, upcoming: list[SimCall], every_seconds: float, server: uvicorn.Server, seed_dir: Path
) -> None:
    while not server.started:
        await asyncio.sleep(0.05)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        try:
            for name in await demo_setup.prepare(client, seed_dir):
                console.print(f"[dim]set up: {name}[/]")
        except (RuntimeError, httpx.HTTPError) as exc:  # the API still serves; say what the console lacks
            console.print(f"[red]demo console setup failed, its live panels stay quiet: {exc}[/]")
        for call in upcoming:
            event = live_event(call)
            try:
                response = await client.post("/v1/calls", json=event)
                who = event["who"].get("last_name") or event["who"].get("phone", "unknown caller")
                console.print(
                    f"[dim]{event['ended_at']}[/] {event['direction']:8} {who:<20} "
                    f"{event.get('disposition', '(no disposition)'):<22} -> {response.json().get('individual_id')}"
                )
            except httpx.HTTPError as exc:
                console.print(f"[red]live call failed: {exc}[/]")
            await asyncio.sleep(every_seconds)


async def open_console(server: uvicorn.Server, url: str) -> None:
    """Open the console in the desktop's browser once the server answers. Only with a
    desktop: on a bare terminal Python's webbrowser would start a text browser in it."""
    graphical = sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if not graphical:
        return
    while not server.started:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(webbrowser.open, url)


def run(host: str, port: int, every_seconds: float, overrides: list[str], open_browser: bool = True) -> int:
    settings = Settings.from_env()
    # The service's own logging (make run asks for the console format); one line per live
    # call is enough, so the HTTP client and the MCP session manager stay quiet.
    log_config = logging_config(settings.log_level, settings.log_format, settings.default_region)
    configure_logging(settings.log_level, settings.log_format, settings.default_region)
    for noisy in ("httpx", "mcp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    key, masked_key = demo_setup.console_keys(settings.api_keys)
    base = f"http://{host}:{port}"
    console_url = demo_setup.console_url(base, key, masked_key)
    console.print(f"[bold]Demo console:[/] {console_url}  (ready once the history is seeded)", soft_wrap=True)
    world, history, upcoming = demo_traffic(overrides)
    started = time.perf_counter()
    ingested = asyncio.run(seed(settings, history))
    if ingested:
        console.print(
            f"seeded {ingested:,} calls ({len(world.people):,} prospects, {len(world.reps)} reps, 90 days) "
            f"in {time.perf_counter() - started:.1f}s"
        )
    else:
        console.print("database already seeded; keeping it (make clean starts afresh)")
    console.print(f"\n[bold]Demo console:[/] {console_url}", soft_wrap=True)
    console.print(f"[bold]Demo API key:[/] {key}" + (f" (without pii:read: {masked_key})" if masked_key else ""))
    console.print("Try these real people from the simulated sales floor:")
    for lookup in showcase(world, history):
        path = lookup.replace(" ", "%20")
        print(f"  curl -s -H 'Authorization: Bearer {key}' '{base}/v1/context/{path}?format=prompt'", flush=True)
    console.print(f"\nLive calls follow, one every {every_seconds:g}s (Ctrl-C to stop):\n")

    async def serve() -> None:
        config = uvicorn.Config(create_app(settings), host=host, port=port, log_config=log_config, access_log=False)
        server = uvicorn.Server(config)
        feeder = asyncio.create_task(live_calls(base, key, upcoming, every_seconds, server, Path(settings.seed_dir)))
        opener = asyncio.create_task(open_console(server, console_url)) if open_browser else None
        try:
            await server.serve()
        finally:
            feeder.cancel()
            if opener is not None:
                opener.cancel()

    asyncio.run(serve())
    return 0
