"""The context's `reachability` block: local time, calling window, best time, DNC. Pure.

Inputs beyond the person's ProfileState (DNC lists, account regions, market connect
rates, the rules, the minimum evidence) come in one Inputs object whose `version` rises
whenever any of them changes, so a memoised context is never served with a stale answer.

Apart from `local_time` (the as_of instant in the person's zone), the block depends on
as_of through the UTC day (DNC expiry, by whole days) and the calling-window phase; the
returned WindowState says for which instants the answer holds, and reads.py memoises by it.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from contextsvc.profile import ProfileState
from contextsvc.reachability.best import BestWindow, best_windows, local_hours
from contextsvc.reachability.dnc import DncIndex
from contextsvc.reachability.rules import CallingRules, Rule, WindowState, local, window_state
from contextsvc.reachability.zones import ZoneGuess, infer_zone
from contextsvc.timeutil import DAY_US, from_micros, zone

DEFAULT_RULES = CallingRules.parse(
    {
        "default": {
            "description": "08:00-21:00 local, every day",
            "source": "US 47 CFR 64.1200(c)(1) (TCPA rules), applied as the default",
            "all": [["08:00", "21:00"]],
        }
    }
)
MAX_CANDIDATES = 12  # a toll-free number spans dozens of zones: list the first ones


class Inputs:
    """What the block reads besides the profile. The defaults: no lists, no accounts."""

    def __init__(self, rules: CallingRules = DEFAULT_RULES, min_calls: int = 20, dnc: DncIndex | None = None) -> None:
        self.rules = rules
        self.min_calls = min_calls
        self.dnc = dnc if dnc is not None else DncIndex()
        self.regions: dict[str, str | None] = {}  # account id -> region
        self.markets: dict[str, tuple[str | None, str | None]] = {}  # account id -> (industry, region)
        self.market_cells: dict[tuple, list[int]] = {}  # market -> 336 ints; () is every call
        self.market_serial = 0  # rises with every new market snapshot or account load

    @property
    def version(self) -> tuple[int, int]:
        return self.dnc.version, self.market_serial


NO_INPUTS = Inputs()


class DncListing(msgspec.Struct):
    list: str
    source: str | None
    number: str  # E.164; masked unless the key has pii:read
    expires_on: date | None


class BestTime(msgspec.Struct):
    source: str  # person | market | all_calls | none
    windows: list[BestWindow]
    calls: int  # outbound calls in the source's local-hour counts
    market: dict[str, str | None] | None = None  # the industry and region, for source market
    note: str | None = None  # "not enough data: …" when there are no windows


class Reachability(msgspec.Struct):
    time_zone: str | None
    time_zone_source: str  # call | account | phone | none
    time_zone_candidates: list[str]  # several: the evidence is ambiguous
    local_time: datetime | None  # as_of in time_zone
    country: str | None
    rule: str  # the calling rule applied: a country code or "default"
    rule_description: str
    rule_source: str
    window_open: bool | None  # the rule allows a call now (None: the candidate zones disagree, or no zone)
    callable_now: bool | None  # window open and not do-not-call; None: unknown
    reason: str
    next_window_opens_at: datetime | None
    window_closes_at: datetime | None
    do_not_call: bool  # asked not to be called (a disposition) or on a do-not-call list
    dnc_listings: list[DncListing]
    best_time: BestTime


def main_account(state: ProfileState) -> str | None:
    accounts = [r for r in state.related.values() if r.kind == "account"]
    return max(accounts, key=lambda r: (r.calls, r.last_touched_at, r.id)).id if accounts else None


def zone_of(state: ProfileState, inputs: Inputs) -> ZoneGuess:
    account = main_account(state)
    return infer_zone(state.person.time_zone, inputs.regions.get(account) if account else None, state.person.phones)


def listings_of(state: ProfileState, inputs: Inputs, day: int) -> list[DncListing]:
    found = []
    for phone in state.person.phones:
        for listing in inputs.dnc.listings(phone, day):
            found.append(DncListing(listing.list, listing.source, phone, listing.expires_on))
    return found


def best_time(state: ProfileState, guess: ZoneGuess, inputs: Inputs) -> BestTime:
    min_calls = inputs.min_calls
    considered = 0
    if guess.time_zone is not None and state.outbound_hours:
        windows, considered = best_windows(local_hours(state.outbound_hours, guess.time_zone), min_calls)
        if windows:
            return BestTime("person", windows, considered)
    account = main_account(state)
    market = inputs.markets.get(account) if account else None
    if market is not None and market in inputs.market_cells:
        windows, calls = best_windows(inputs.market_cells[market], min_calls)
        if windows:
            return BestTime("market", windows, calls, {"industry": market[0], "region": market[1]})
    if () in inputs.market_cells:
        windows, calls = best_windows(inputs.market_cells[()], min_calls)
        if windows:
            return BestTime("all_calls", windows, calls)
    return BestTime("none", [], considered, note=f"not enough data: no local hour has {min_calls} outbound calls yet")


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def reachability(state: ProfileState, as_of_us: int, inputs: Inputs = NO_INPUTS) -> tuple[Reachability, WindowState]:
    guess = zone_of(state, inputs)
    day = as_of_us // DAY_US
    listings = listings_of(state, inputs, day)
    dnc = bool(listings) or "do_not_call" in state.flag_last
    rule: Rule = inputs.rules.for_country(guess.country)
    zones = guess.candidates
    if zones:
        window = window_state(rule, zones, as_of_us)
    else:  # no evidence of where they are: unknown all day
        window = WindowState(None, None, None, day * DAY_US, (day + 1) * DAY_US)
    # The memo key carries the UTC day: never claim validity beyond it.
    window = msgspec.structs.replace(
        window,
        valid_from_us=max(window.valid_from_us, day * DAY_US),
        valid_until_us=min(window.valid_until_us, (day + 1) * DAY_US),
    )
    opens = from_micros(window.opens_at_us)
    closes = from_micros(window.closes_at_us)
    zone_text = guess.time_zone or (" or ".join(zones[:3]) + (" …" if len(zones) > 3 else "") if zones else None)
    if dnc:
        callable_now, reason = (
            False,
            ("on a do-not-call list" if listings else "asked not to be called") + ": do not call",
        )
    elif not zones:
        callable_now, reason = None, "time zone unknown: no time zone, account region or phone number to go by"
    elif window.callable is True:
        callable_now, reason = True, f"within the permitted window ({rule.id}: {rule.description})"
    elif window.callable is False:
        callable_now, reason = False, f"outside the permitted window ({rule.id}: {rule.description})"
    else:
        callable_now, reason = None, f"time zone ambiguous ({zone_text}): the window is open in some of them only"
    block = Reachability(
        time_zone=guess.time_zone,
        time_zone_source=guess.source,
        time_zone_candidates=list(zones[:MAX_CANDIDATES]),
        local_time=local(as_of_us, guess.time_zone) if guess.time_zone else None,
        country=guess.country,
        rule=rule.id,
        rule_description=rule.description,
        rule_source=rule.source,
        window_open=window.callable if zones else None,
        callable_now=callable_now,
        reason=reason,
        next_window_opens_at=opens,
        window_closes_at=closes,
        do_not_call=dnc,
        dnc_listings=listings,
        best_time=best_time(state, guess, inputs),
    )
    return block, window


class ReachSignal(msgspec.Struct):
    code: str
    severity: str
    message: str
    evidence: dict


def dnc_signal(listings: list[DncListing]) -> ReachSignal | None:
    if not listings:
        return None
    names = sorted({listing.list for listing in listings})
    quoted = ", ".join(f"'{n}'" for n in names)
    return ReachSignal(
        "on_dnc_list",
        "critical",
        f"On do-not-call list {quoted}: do not call.",
        {"lists": names, "numbers": sorted({listing.number for listing in listings})},
    )


def window_signal(block: Reachability) -> ReachSignal | None:
    if block.window_open is not False:
        return None
    opens = block.next_window_opens_at
    when = ""
    if opens is not None and block.time_zone:
        local_open = opens.astimezone(zone(block.time_zone))
        when = f"; it opens {local_open.strftime('%a')} {_clock(local_open)} local"
    return ReachSignal(
        "outside_calling_window",
        "warning",
        f"Outside the permitted calling window ({block.rule}: {block.rule_description}){when}.",
        {
            "time_zone": block.time_zone,
            "rule": block.rule,
            "next_window_opens_at": opens.isoformat() if opens else None,
        },
    )
