"""The demo console at /demo, driven in headless Chromium against what `make run` starts
(`simulator demo` on a small seeded world): live floor, person search and card, the
prompt budget, masking by key, segments and data quality — with no console errors.
Each test saves a screenshot of its panel (docs/demo/ with `make screenshots`, for the README)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest
from playwright import sync_api as playwright_api
from playwright.sync_api import expect

from tests.live import free_port, kill_group

pytestmark = [
    pytest.mark.live,
    pytest.mark.backend_neutral("the console in a browser; the routes it calls are tested on both backends"),
]

CHROMIUM = "/usr/bin/chromium"
# Every run saves its screenshots; `make screenshots` saves them where the README shows
# them (docs/demo/), other runs under var/ so a test run leaves the tree clean.
_REPO = Path(__file__).resolve().parents[1]
SHOTS = _REPO / "docs" / "demo" if os.environ.get("CONTEXTSVC_SCREENSHOTS") == "docs" else _REPO / "var" / "screenshots"
KEYS = "demo-key,demo-masked-key:context:read"
ADMIN = {"Authorization": "Bearer demo-key"}
# A small world (about 11,000 calls, seeded in a second or two) whose rep 1 stops logging
# properly ten days ago, so the data-quality monitor has alerts to show.
SCENARIO = [
    "population.accounts=80",
    "population.reps=3",
    "population.teams=1",
    "inbound.calls_per_day=20",
    "degradation.rep=1",
    "degradation.from_day=80",
]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


class Demo:
    """`simulator demo` as make run starts it, with its output collected as it comes."""

    def __init__(self, database_url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        env = {
            **os.environ,
            "CONTEXTSVC_DATABASE_URL": database_url,
            "CONTEXTSVC_API_KEYS": KEYS,
        }
        command = [
            sys.executable,
            "-m",
            "simulator.cli",
            "demo",
            "--port",
            str(self.port),
            "--every",
            "0.5",
            "--no-browser",
        ]
        for setting in SCENARIO:
            command += ["--set", setting]
        self.proc = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:  # keeps the pipe from filling while live calls print
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, seconds: float = 60) -> None:
        """Until the console's stream rule exists: then every call reaches the floor."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("simulator demo exited:\n" + "\n".join(self.lines))
            try:
                rules = httpx.get(f"{self.base}/v1/activations", headers=ADMIN, timeout=2).json()["rules"]
                if any(r["trigger"] == {"type": "call"} for r in rules):
                    return
            except (httpx.TransportError, KeyError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError("simulator demo did not get ready:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        kill_group(self.proc)


@pytest.fixture(scope="module")
def demo(databases):
    with databases.fresh() as url:
        running = Demo(url)
        try:
            running.wait_ready()
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: make test installs it (apt-get install -y chromium)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, demo):
    """The console as make run prints its URL, with every console message collected;
    fails the test on any console error or uncaught exception."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.goto(console_url(demo))
    expect(tab.locator("#stream-status")).to_have_text("Live")
    yield tab
    context.close()
    assert problems == []


def console_url(demo: Demo) -> str:
    [url] = re.findall(r"http://\S+/demo/#\S+", demo.lines[0])
    return url


def shoot(tab, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"))


def post_call(
    demo: Demo, call_id: str, who: dict, disposition: str | None = "no_answer", talk_seconds: int = 0
) -> dict:
    ended = datetime.now(UTC)
    duration = talk_seconds + 30
    body = {
        "call_id": call_id,
        "direction": "outbound",
        "started_at": (ended - timedelta(seconds=duration)).isoformat(),
        "ended_at": ended.isoformat(),
        "duration_seconds": duration,
        "talk_seconds": talk_seconds,
        "disposition": disposition,
        "rep_id": "005000000000TEST",
        "who": who,
    }
    response = httpx.post(f"{demo.base}/v1/calls", json=body, headers=ADMIN, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def open_person(tab, query: str) -> None:
    tab.get_by_role("tab", name="Person").click()
    tab.get_by_label("Find a person").fill(query)
    tab.get_by_role("button", name="Search").click()


def test_make_run_prints_the_console_url_first_and_keeps_the_key_out_of_the_address_bar(demo, page):
    assert demo.lines[0].startswith("Demo console: ") and "/demo/#key=demo-key&masked=demo-masked-key" in demo.lines[0]
    assert page.url == f"{demo.base}/demo/"  # the key moved to session storage
    assert (
        page.evaluate("sessionStorage.getItem('contextsvc.demo.keys')")
        == '{"main":"demo-key","masked":"demo-masked-key"}'
    )


def test_a_call_appears_on_the_live_floor_seconds_after_it_is_posted(demo, page):
    # No answer: a call no flag-based rule would ever have streamed.
    first = post_call(
        demo,
        "floor-1",
        {"phone": "+1 646 555 0101", "first_name": "Zora", "last_name": "Quinlan", "company": "Quinlan Optics"},
    )
    row = page.locator('tr[data-call-id="floor-1"]')
    expect(row).to_be_visible(timeout=5000)
    expect(row).to_contain_text("Zora Quinlan")
    expect(row).to_contain_text("no answer")
    expect(row.locator(".badge")).to_have_text("new person")
    # The same person by phone, in another format and with an email this time: linked, live.
    post_call(
        demo,
        "floor-2",
        {"phone": "(646) 555-0101", "email": "zora@quinlan-optics.com"},
        disposition="meeting_booked",
        talk_seconds=300,
    )
    second = page.locator('tr[data-call-id="floor-2"]')
    expect(second).to_be_visible(timeout=5000)
    expect(second.locator(".badge")).to_have_text("linked by phone")
    assert second.get_attribute("data-individual-id") == first["individual_id"]
    expect(page.locator("#identity-events")).not_to_have_text("0")
    # The simulator keeps calling: once the floor has filled a little, today's counters
    # (from the insights API) count at least every call the floor has shown.
    page.wait_for_function("() => document.querySelectorAll('#floor-rows tr').length >= 8", timeout=10000)
    shown = page.locator("#floor-rows tr").count()
    page.wait_for_function(
        "n => Number(document.getElementById('calls-today').textContent.replace(/,/g, '')) >= n",
        arg=shown,
        timeout=5000,
    )
    today = datetime.now(UTC).date().isoformat()
    rows = httpx.get(
        f"{demo.base}/v1/insights/connect-rate",
        headers=ADMIN,
        params={"by": "hour", "from": today, "to": today, "direction": ""},
    ).json()["rows"]
    assert int(page.locator("#calls-today").inner_text().replace(",", "")) <= sum(r["calls"] for r in rows)
    expect(page.locator("#connect-rate-today")).to_contain_text("%")
    shoot(page, "live-floor")


def showcase(demo: Demo) -> list[str]:
    """The real people make run prints curl commands for: by phone, by email, by Contact id."""
    return [unquote(path) for path in re.findall(r"/v1/context/([^?']+)\?", "\n".join(demo.lines))]


def served_context(demo: Demo, lookup: str, key: str = "demo-key") -> dict:
    response = httpx.get(f"{demo.base}/v1/context/{quote(lookup, safe='')}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_person_search_by_phone_shows_the_card_the_chart_and_a_prompt_the_budget_shrinks(demo, page):
    printed_phone = showcase(demo)[0]  # "(958) 230-1635": stored as +19582301635
    digits = re.sub(r"\D", "", printed_phone)
    e164 = f"+{digits}" if printed_phone.startswith("+") else f"+1{digits}"
    expected = served_context(demo, printed_phone)
    # Typed another way than printed: dotted, as a rep copying from a signature might.
    typed = (
        printed_phone.replace(" ", ".") if printed_phone.startswith("+") else f"{digits[:3]}.{digits[3:6]}.{digits[6:]}"
    )
    open_person(page, typed)
    expect(page.locator("#person-card")).to_be_visible()
    expect(page.locator("#person-name")).to_have_text(expected["person"]["name"])
    expect(page.locator("#person-headline")).to_contain_text(f"{expected['summary']['calls']} calls")
    expect(page.locator("#person-summary")).to_contain_text("Conversations")
    expect(page.locator("#person-identifiers")).to_contain_text(e164)
    expect(page.locator("#person-chart svg g")).to_have_count(90)
    expect(page.locator("#person-chart figcaption")).to_contain_text(f"Calls ({expected['windows']['90d']['calls']})")
    expect(page.locator("#prompt-lines li").first).to_contain_text(f"Call history for {expected['person']['name']}")
    card, chart = page.locator("#person-card").bounding_box(), page.locator("#person-chart").bounding_box()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SHOTS / "person.png"),
        full_page=True,
        clip={  # the card down to its chart
            "x": card["x"] - 8,
            "y": card["y"] - 8,
            "width": card["width"] + 16,
            "height": chart["y"] + chart["height"] - card["y"] + 16,
        },
    )

    slider = page.get_by_label("Token budget")
    slider.focus()
    slider.press("End")  # a budget the whole block fits in
    expect(page.locator("#prompt-lines li.dropped")).to_have_count(0)
    kept_before = page.locator("#prompt-lines li.kept").count()
    assert kept_before >= 5
    slider.press("Home")  # the smallest budget the service allows
    expect(page.locator("#budget-out")).to_contain_text("20 tokens")
    expect(page.locator("#prompt-lines li.dropped")).not_to_have_count(0)
    assert page.locator("#prompt-lines li.kept").count() < kept_before
    used = int(re.search(r"(\d+) used", page.locator("#budget-out").inner_text()).group(1))
    assert used <= 20
    page.locator("#budget").evaluate("el => { el.value = 150; el.dispatchEvent(new Event('input')); }")
    expect(page.locator("#budget-out")).to_contain_text("150 tokens")
    page.locator("#prompt-h").scroll_into_view_if_needed()
    page.locator("section.prompt").screenshot(path=str(SHOTS / "prompt.png"))

    # A new call for the person on screen updates the card live.
    post_call(demo, "person-live-1", {"phone": e164}, disposition="interested", talk_seconds=120)
    expect(page.locator("#person-live")).to_contain_text("Updated live", timeout=5000)
    expect(page.locator("#person-headline")).to_contain_text(f"{expected['summary']['calls'] + 1} calls")
    expect(page.locator("#person-signals")).to_contain_text("High intent")


def test_the_agent_view_masks_phone_and_email_for_a_key_without_pii_read(demo, page):
    printed_email = showcase(demo)[1]  # upper case, as a rep might type it
    assert printed_email == printed_email.upper()
    body = {"email": printed_email, "max_tokens": 300}
    full, masked = (
        httpx.post(f"{demo.base}/v1/agent/call-context", json=body, headers={"Authorization": f"Bearer {key}"}).json()
        for key in ("demo-key", "demo-masked-key")
    )
    assert full["email"] == printed_email.lower() and masked["email"] != full["email"]
    open_person(page, printed_email)
    expect(page.locator("#person-name")).to_have_text(full["name"])
    page.get_by_role("tab", name="What the agent sees").click()
    phone = page.locator('#agent-fields tr[data-field="phone"] td')
    email = page.locator('#agent-fields tr[data-field="email"] td')
    expect(phone).to_have_text(full["phone"])
    expect(email).to_have_text(full["email"])
    expect(page.locator("#agent-prompt")).to_contain_text(f"Call history for {full['name']}")
    page.get_by_role("radio", name="a key without pii:read").check()
    expect(phone).to_have_text(masked["phone"])
    expect(email).to_have_text(masked["email"])
    expect(page.locator("#agent-request")).to_contain_text("without pii:read")
    shoot(page, "agent")
    page.get_by_role("radio", name="a key with pii:read").check()
    expect(phone).to_have_text(full["phone"])


def test_segments_show_live_counts_and_members(demo, page):
    page.get_by_role("tab", name="Segments").click()
    served = httpx.get(f"{demo.base}/v1/segments", headers=ADMIN).json()["segments"]
    assert len(served) == 3
    for segment in served:
        expect(page.locator(f'li[data-segment-id="{segment["id"]}"] h3')).to_have_text(segment["name"])
    high_intent = next(s for s in served if s["name"].startswith("High intent"))
    count = page.locator(f'li[data-segment-id="{high_intent["id"]}"] .count')
    expect(count).not_to_have_text("")
    before = int(count.inner_text().replace(",", ""))
    # A meeting booked: this new person enters the segment, and the count moves by itself.
    post_call(
        demo,
        "segment-1",
        {"phone": "+1 646 555 0133", "first_name": "Lena", "last_name": "Brandt", "company": "Brandt AG"},
        disposition="meeting_booked",
        talk_seconds=240,
    )
    selector = f'li[data-segment-id="{high_intent["id"]}"] .count'  # the list is redrawn: find it afresh each time
    page.wait_for_function(
        "([s, n]) => Number(document.querySelector(s).textContent.replace(/,/g, '')) > n",
        arg=[selector, before],
        timeout=5000,
    )
    page.locator(f'li[data-segment-id="{high_intent["id"]}"]').get_by_role("button", name="Show members").click()
    expect(page.locator("#members-h")).to_contain_text("High intent in the last 14 days")
    expect(page.locator("#member-list li").first).to_be_visible()
    shoot(page, "segments")
    page.locator("#member-list li button").first.click()
    expect(page.get_by_role("tab", name="Person")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#person-card")).to_be_visible()


def test_data_quality_shows_the_degraded_rep_and_its_alerts(demo, page):
    alerts = httpx.get(f"{demo.base}/v1/quality/alerts", headers=ADMIN).json()
    reps = {a["value"] for a in alerts if a["dimension"] == "rep"}
    assert len(reps) == 1, alerts  # the scenario degrades one rep
    [rep] = reps
    page.get_by_role("tab", name="Data quality").click()
    expect(page.locator("#alert-list li")).to_have_count(min(len(alerts), 50))
    expect(page.locator("#alert-list")).to_contain_text(f"rep {rep}: calls logged without a disposition rose")
    flagged = page.locator("#rep-table tbody tr.flagged")
    expect(flagged).to_have_count(1)
    expect(flagged.locator("th")).to_have_text(rep)
    shoot(page, "data-quality")
