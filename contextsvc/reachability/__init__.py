"""Reachability: should this person be called now, and when will they pick up? Pure.

- zones.py: the person's time zone from evidence, strongest first (who.time_zone on a
  call, the Account's region, the phone number's region and area code).
- rules.py: permitted calling windows per country, as data (seed/calling-rules.toml),
  evaluated in local time with zoneinfo, so DST changes are handled.
- best.py: the local hours a person (or their market) answers, from outbound calls.
- dnc.py: do-not-call lists in memory, for O(1) lookups on every context read.
- block.py: the context's `reachability` block and its signals.
"""
