"""Reachability: should this person be called now, and when will they pick up?

- zones.py: the person's time zone from evidence, strongest first (who.time_zone on a
  call, the Account's region, the phone number's region and area code).
- rules.py: permitted calling windows per country, as data (seed/calling-rules.toml),
  evaluated in local time with zoneinfo, so DST changes are handled.
- best.py: the local hours a person (or their market) answers, from outbound calls.
- dnc.py: do-not-call lists in memory, for O(1) lookups on every context read.
- block.py: the context's `reachability` block and its signals.
All of those are pure; observer.py is the side branch on the write path (DNC lists and
market hours kept in tables.py, and the use cases that change them).
"""

from __future__ import annotations

from contextsvc.reachability.best import HOURS_OF_WEEK, BestWindow, best_windows, hour_of_week, local_hours
from contextsvc.reachability.block import (
    NO_INPUTS,
    BestTime,
    DncListing,
    Inputs,
    Reachability,
    ReachSignal,
    dnc_signal,
    listings_of,
    reachability,
    window_signal,
)
from contextsvc.reachability.dnc import DncIndex, DncParseError, Listing, parse_number, parse_numbers
from contextsvc.reachability.observer import ReachabilityObserver, list_summaries
from contextsvc.reachability.rules import CallingRules, WindowState, local, window_state
from contextsvc.reachability.zones import ZoneGuess, infer_zone, zones_of_phone

__all__ = [
    "BestTime",
    "BestWindow",
    "CallingRules",
    "DncIndex",
    "DncListing",
    "DncParseError",
    "HOURS_OF_WEEK",
    "Inputs",
    "Listing",
    "NO_INPUTS",
    "Reachability",
    "ReachabilityObserver",
    "ReachSignal",
    "WindowState",
    "ZoneGuess",
    "best_windows",
    "dnc_signal",
    "hour_of_week",
    "infer_zone",
    "list_summaries",
    "listings_of",
    "local",
    "local_hours",
    "parse_number",
    "parse_numbers",
    "reachability",
    "window_signal",
    "window_state",
    "zones_of_phone",
]
