"""A person's time zone from evidence, strongest first. Pure (reads reference data only).

1. `call`: the newest explicit who.time_zone on one of their calls (an IANA name).
2. `account`: the region of their Account, when it names a zone — an IANA name
   (America/Chicago) or a country with a single zone (DE, GB, FR).
3. `phone`: the region and area code of their numbers (phonenumbers' time-zone data).
   A number can span several zones (a US toll-free number, an Australian mobile, area
   code 605 in South Dakota): then the zone is ambiguous and every candidate is listed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources

import msgspec
import phonenumbers
from phonenumbers import timezone as phone_zones

from contextsvc.timeutil import zone

UNKNOWN_ZONE = "Etc/Unknown"  # phonenumbers' answer when it has no data for a number


class ZoneGuess(msgspec.Struct, frozen=True, gc=False):
    time_zone: str | None  # the zone, when the evidence names exactly one
    source: str  # call | account | phone | none
    candidates: tuple[str, ...] = ()  # the zones the evidence allows (one when unambiguous)
    country: str | None = None  # ISO 3166 code of where the person is, when known

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


NO_ZONE = ZoneGuess(None, "none")


@lru_cache(maxsize=1)
def _zone_table() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(zone -> country, country -> zones) from the tz database's zone.tab."""
    country_of: dict[str, str] = {}
    zones_of: dict[str, list[str]] = {}
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        country, _, name, *_ = line.split("\t")
        country_of[name] = country
        zones_of.setdefault(country, []).append(name)
    return country_of, {c: tuple(z) for c, z in zones_of.items()}


def country_of_zone(name: str) -> str | None:
    return _zone_table()[0].get(name)


def zones_of_country(country: str) -> tuple[str, ...]:
    return _zone_table()[1].get(country.upper(), ())


_SAMPLES = tuple(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=7 * week) for week in range(53))


@lru_cache(maxsize=512)
def single_zone_of_country(country: str) -> str | None:
    """The country's zone when all its zones keep the same time (Germany lists
    Europe/Berlin and Europe/Busingen; they agree), else None (the US, Australia)."""
    zones = zones_of_country(country)
    if not zones:
        return None
    first = zones[0]
    for name in zones[1:]:
        if any(at.astimezone(zone(first)).utcoffset() != at.astimezone(zone(name)).utcoffset() for at in _SAMPLES):
            return None
    return first


@lru_cache(maxsize=65_536)
def zones_of_phone(e164: str) -> tuple[str, tuple[str, ...]]:
    """(region code, candidate zones) of an E.164 number; ("", ()) when unknown."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return "", ()
    region = phonenumbers.region_code_for_number(parsed) or ""
    found = tuple(z for z in phone_zones.time_zones_for_number(parsed) if z != UNKNOWN_ZONE and zone(z))
    return region, found


@lru_cache(maxsize=4096)
def zone_of_region(region: str | None) -> ZoneGuess | None:
    """The zone an Account region names, if it names one."""
    if not region:
        return None
    text = region.strip()
    if zone(text) is not None:
        return ZoneGuess(text, "account", (text,), country_of_zone(text))
    if len(text) == 2 and text.isalpha():
        single = single_zone_of_country(text.upper())
        if single is not None:
            return ZoneGuess(single, "account", (single,), text.upper())
    return None


def infer_zone(explicit: str | None, account_region: str | None, phones: list[str] | tuple[str, ...]) -> ZoneGuess:
    if explicit and zone(explicit) is not None:
        return ZoneGuess(explicit, "call", (explicit,), country_of_zone(explicit))
    by_region = zone_of_region(account_region)
    if by_region is not None:
        return by_region
    candidates: list[str] = []
    countries: set[str] = set()
    for phone in phones:
        country, zones = zones_of_phone(phone)
        if country:
            countries.add(country)
        for name in zones:
            if name not in candidates:
                candidates.append(name)
    sole_country = next(iter(countries)) if len(countries) == 1 else None
    if not candidates:
        return ZoneGuess(None, "none", (), sole_country)
    ordered = tuple(sorted(candidates))
    return ZoneGuess(ordered[0] if len(ordered) == 1 else None, "phone", ordered, sole_country)
