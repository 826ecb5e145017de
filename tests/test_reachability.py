"""Reachability, pure: time zones from evidence, calling windows at their edges and across
DST changes, best local hours, the DNC index, and the prompt under small budgets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contextsvc.context.assemble import assemble
from contextsvc.context.prompt import render
from contextsvc.profile.facts import CallFact
from contextsvc.profile.state import build
from contextsvc.reachability.best import best_windows, local_hours
from contextsvc.reachability.block import Inputs, reachability
from contextsvc.reachability.dnc import DncIndex, Listing, parse_number, parse_numbers
from contextsvc.reachability.rules import CallingRules, window_state
from contextsvc.reachability.zones import infer_zone
from contextsvc.settings import REPO_ROOT
from contextsvc.timeutil import micros

RULES = CallingRules.load(REPO_ROOT / "seed" / "calling-rules.toml")
CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    "phone, zone, country",
    [
        ("+12125550142", "America/New_York", "US"),  # 212 Manhattan
        ("+13125550142", "America/Chicago", "US"),  # 312 Chicago
        ("+14155550142", "America/Los_Angeles", "US"),  # 415 San Francisco
        ("+18085550142", "Pacific/Honolulu", "US"),  # 808 Hawaii
        ("+19055550142", "America/Toronto", "CA"),  # 905 Ontario
        ("+442079460000", "Europe/London", "GB"),
        ("+4930123456", "Europe/Berlin", "DE"),
        ("+33142685300", "Europe/Paris", "FR"),
        ("+61291234567", "Australia/Sydney", "AU"),  # 02: New South Wales
    ],
)
def test_zone_from_the_phone_number(phone, zone, country):
    guess = infer_zone(None, None, [phone])
    assert (guess.time_zone, guess.source, guess.country, guess.ambiguous) == (zone, "phone", country, False)


@pytest.mark.parametrize(
    "phone, candidates",
    [
        ("+19075550142", ("America/Adak", "America/Anchorage")),  # 907 Alaska spans two zones
        ("+16055550142", ("America/Denver", "America/North_Dakota/Center")),  # 605 South Dakota
        ("+61881234567", ("Australia/Adelaide", "Australia/Perth")),  # 08: SA and WA
    ],
)
def test_ambiguous_numbers_say_so(phone, candidates):
    guess = infer_zone(None, None, [phone])
    assert guess.time_zone is None and guess.ambiguous and guess.candidates == candidates


def test_stronger_evidence_wins():
    assert infer_zone("Europe/Paris", "DE", ["+13125550142"]).time_zone == "Europe/Paris"  # who.time_zone
    by_account = infer_zone(None, "DE", ["+13125550142"])
    assert (by_account.time_zone, by_account.source, by_account.country) == ("Europe/Berlin", "account", "DE")
    assert infer_zone(None, "America/Denver", ["+19075550142"]).time_zone == "America/Denver"  # IANA region
    # A region that names no single zone (the US has several; "EMEA" none) falls back to the phone.
    assert infer_zone(None, "US", ["+13125550142"]).source == "phone"
    assert infer_zone(None, "EMEA", ["+13125550142"]).time_zone == "America/Chicago"
    assert infer_zone(None, None, []).source == "none"


def _at(local: datetime) -> int:
    return micros(local)


@pytest.mark.parametrize("hour, minute, open_", [(7, 59, False), (8, 0, True), (20, 59, True), (21, 0, False)])
def test_us_window_edges_in_local_time(hour, minute, open_):
    at = _at(datetime(2026, 11, 18, hour, minute, tzinfo=CHICAGO))
    state = window_state(RULES.for_country("US"), ("America/Chicago",), at)
    assert state.callable is open_
    assert state.valid_from_us <= at < state.valid_until_us
    if not open_:
        opens = datetime.fromtimestamp(state.opens_at_us / 1e6, CHICAGO)
        assert (opens.hour, opens.minute) == (8, 0)


@pytest.mark.parametrize("day", [date(2026, 3, 8), date(2026, 11, 1)])  # US DST starts / ends
def test_window_edges_across_a_dst_change(day):
    rule = RULES.for_country("US")
    for hour, minute, open_ in [(7, 59, False), (8, 0, True), (20, 59, True), (21, 0, False)]:
        at = _at(datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHICAGO))
        assert window_state(rule, ("America/Chicago",), at).callable is open_, (day, hour, minute)
    # Just after local midnight, the window opens at 08:00 local: 7 or 9 hours after the
    # night's DST change, not 8.
    midnight = _at(datetime(day.year, day.month, day.day, 0, 30, tzinfo=CHICAGO))
    state = window_state(rule, ("America/Chicago",), midnight)
    assert datetime.fromtimestamp(state.opens_at_us / 1e6, CHICAGO).hour == 8
    assert (state.opens_at_us - midnight) / 3.6e9 == (6.5 if day.month == 3 else 8.5)


def test_country_rules_france_sundays_and_lunch():
    rule = RULES.for_country("FR")
    paris = ZoneInfo("Europe/Paris")
    assert window_state(rule, ("Europe/Paris",), _at(datetime(2026, 11, 18, 12, 59, tzinfo=paris))).callable
    lunch = window_state(rule, ("Europe/Paris",), _at(datetime(2026, 11, 18, 13, 30, tzinfo=paris)))
    assert lunch.callable is False and datetime.fromtimestamp(lunch.opens_at_us / 1e6, paris).hour == 14
    saturday = window_state(rule, ("Europe/Paris",), _at(datetime(2026, 11, 21, 11, 0, tzinfo=paris)))
    opens = datetime.fromtimestamp(saturday.opens_at_us / 1e6, paris)
    assert saturday.callable is False and (opens.weekday(), opens.hour) == (0, 10)  # Monday 10:00


def test_ambiguous_zones_are_callable_only_when_all_allow_it():
    rule = RULES.for_country("US")
    zones = ("America/Adak", "America/Anchorage")  # Adak is an hour behind Anchorage
    anchorage = ZoneInfo("America/Anchorage")
    assert window_state(rule, zones, _at(datetime(2026, 11, 18, 8, 30, tzinfo=anchorage))).callable is None
    assert window_state(rule, zones, _at(datetime(2026, 11, 18, 9, 30, tzinfo=anchorage))).callable is True
    assert window_state(rule, zones, _at(datetime(2026, 11, 18, 6, 0, tzinfo=anchorage))).callable is False


def _fact(i: int, at: datetime, connect: bool) -> CallFact:
    return CallFact(
        f"c{i}",
        micros(at),
        "outbound",
        connect,
        connect,
        (),
        "connected" if connect else "no_answer",
        None,
        60 if connect else 0,
        60,
        None,
        None,
        None,
        None,
        None,
        None,
        (),
        None,
        None,
        "+13125550142",
        None,
        None,
        None,
        None,
    )


def test_best_windows_in_local_time_need_enough_calls():
    # Tuesdays in November at 10:00 Chicago time pick up; 15:00 does not.
    start = datetime(2026, 11, 3, tzinfo=CHICAGO)
    facts = []
    for week in range(4):
        for n in range(6):
            day = start + timedelta(weeks=week)
            facts.append(_fact(len(facts), day.replace(hour=10, minute=n), n < 4))
            facts.append(_fact(len(facts), day.replace(hour=15, minute=n), n < 1))
    state = build(facts)
    cells = local_hours(state.outbound_hours, "America/Chicago")
    windows, calls = best_windows(cells, min_calls=20)
    assert calls == 48
    assert [(w.days, w.start, w.end, w.calls, w.connects) for w in windows] == [
        ("Mon–Fri", "10:00", "11:00", 24, 16),
        ("Mon–Fri", "15:00", "16:00", 24, 4),
    ]
    assert best_windows(cells, min_calls=25)[0] == []  # never claimed from fewer calls
    block, _ = reachability(state, micros(start + timedelta(weeks=5)), Inputs(RULES, 20))
    assert block.best_time.source == "person" and block.best_time.windows[0].connect_rate == 0.6667
    none, _ = reachability(state, micros(start + timedelta(weeks=5)), Inputs(RULES, 25))
    assert none.best_time.source == "none" and "not enough data" in none.best_time.note


def test_local_hours_follow_dst():
    # 15:00 UTC is 10:00 in Chicago in summer (CDT) and 09:00 in winter (CST).
    summer = micros(datetime(2026, 7, 7, 15, tzinfo=UTC)) // 3_600_000_000
    winter = micros(datetime(2026, 12, 8, 15, tzinfo=UTC)) // 3_600_000_000
    cells = local_hours({summer: [1, 1], winter: [1, 0]}, "America/Chicago")
    assert cells[1 * 24 + 10] == [1, 1] and cells[1 * 24 + 9] == [1, 0]  # both Tuesdays


def test_dnc_index_lookup_any_format_and_expiry():
    index = DncIndex()
    keys, errors = parse_numbers(
        ["(212) 555-0142", "212.555.0143", "+1 212 555 0144", "not a number", "", "+44 20 7946 0000"], "US"
    )
    assert [e.line for e in errors] == [4] and len(keys) == 4
    index.add(keys, Listing("National DNC", "US registry", None))
    index.add([parse_number("2125550142")], Listing("Company list", None, date(2026, 12, 1)))
    before = micros(datetime(2026, 11, 30, 12, tzinfo=UTC)) // 86_400_000_000
    assert [listing.list for listing in index.listings("+12125550142", before)] == ["Company list", "National DNC"]
    assert [listing.list for listing in index.listings("+12125550142", before + 1)] == ["National DNC"]  # expired
    assert index.listings("+442079460000", before)[0].list == "National DNC"
    assert index.listings("+12125550199", before) == ()
    version = index.version
    index.remove([parse_number("+12125550142")], "National DNC")
    assert [listing.list for listing in index.listings("+12125550142", before)] == [
        "Company list"
    ] and index.version > version
    index.remove(None, "Company list")
    assert index.listings("+12125550142", before) == () and len(index) == 3


def test_dnc_index_of_a_million_numbers():
    index = DncIndex()
    numbers = [f"(212) {n // 10000 + 200:03d}-{n % 10000:04d}" for n in range(1_000_000)]
    keys, errors = parse_numbers(numbers, "US")
    assert not errors and len(set(keys)) == 1_000_000
    index.add(keys, Listing("National DNC", None, None))
    assert len(index) == 1_000_000
    assert index.listings("+12122000000", 0) and index.listings("+12122999999", 0)
    assert index.listings("+12121990000", 0) == ()  # exchange 199 is not on it


def _person(phone: str, *calls_at: datetime):
    facts = [_fact(i, at, False) for i, at in enumerate(calls_at)]
    state = build(facts)
    state.person.phones = [phone]
    return state


def test_the_reachability_line_survives_a_small_budget_when_calling_is_not_permitted():
    as_of = datetime(2026, 11, 18, 13, 42, tzinfo=UTC)  # 7:42 am in Chicago
    state = _person("+13125550142", *(as_of - timedelta(days=d) for d in range(1, 9)))
    context = assemble("ind_1", state, as_of, 5, Inputs(RULES, 20))
    full, _ = render(context, 1000)
    small, tokens = render(context, 60)
    line = "Local time 7:42 am (America/Chicago, from phone); not callable now, opens Wed 8:00 am (US rule)."
    assert line in full and line in small and tokens <= 60
    assert small.splitlines()[0].startswith("Call history for")
    # Inside the window the same line ranks below the call history and goes first.
    later = as_of + timedelta(hours=3)
    open_context = assemble("ind_1", state, later, 5, Inputs(RULES, 20))
    assert "calling permitted until Wed 9:00 pm" in render(open_context, 1000)[0]
    assert "Local time" not in render(open_context, 60)[0]


def test_do_not_call_lists_make_the_person_not_callable():
    as_of = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)  # 10:00 am in Chicago
    state = _person("+13125550142", as_of - timedelta(days=1))
    inputs = Inputs(RULES, 20)
    inputs.dnc.add([parse_number("+13125550142")], Listing("National DNC", "FTC", None))
    context = assemble("ind_1", state, as_of, 5, inputs)
    r = context.reachability
    assert r.window_open is True and r.callable_now is False and r.do_not_call
    assert [listing.list for listing in r.dnc_listings] == ["National DNC"]
    assert context.signals[0].code == "on_dnc_list" and "'National DNC'" in context.signals[0].message
    small, _ = render(context, 60)
    assert small.endswith(
        "Local time 10:00 am (America/Chicago, from phone); do not call (on do-not-call list 'National DNC')."
    )
