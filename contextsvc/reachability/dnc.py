"""Do-not-call lists in memory: number -> the listings naming it, O(1) per lookup. Pure.

A list of a million numbers is a dict of a million small ints (the E.164 digits) to a
small int naming the listing group, so it costs tens of megabytes, not hundreds. Numbers
arrive in any format: NANP numbers (+1 or ten digits, with any punctuation, the form
national registries publish) take a fast path; anything else goes through phonenumbers
like every other phone in the service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

import msgspec

from contextsvc.identity import InvalidIdentifier, normalise_phone

_PUNCTUATION = str.maketrans("", "", " ()-./\u00a0\t")
_NANP_REGIONS = frozenset({"US", "CA"})
_NANP = re.compile(r"1?([2-9]\d{2}[2-9]\d{6})")


class Listing(msgspec.Struct, frozen=True, gc=False):
    list: str  # the list's name
    source: str | None  # where the list came from (e.g. "US National DNC Registry")
    expires_on: date | None  # from this UTC day on, the listing no longer applies


def number_key(e164: str) -> int:
    return int(e164[1:])


def key_e164(key: int) -> str:
    return f"+{key}"


def parse_number(raw: str, region: str = "US") -> int:
    """A phone number in any common format -> its key (E.164 digits). InvalidIdentifier
    when it is not a phone number."""
    text = raw.strip().translate(_PUNCTUATION)
    # The fast path gives exactly what phonenumbers gives a NANP number (+1 and its ten
    # digits); everything else (trunk prefixes, extensions, other plans) goes through it.
    if text.startswith("+1") or (region in _NANP_REGIONS and not text.startswith(("+", "00"))):
        nanp = _NANP.fullmatch(text.removeprefix("+"))
        if nanp:
            return int("1" + nanp.group(1))
    return number_key(normalise_phone(raw, region).e164)


class DncIndex:
    """Every listing in force, by number. Mutated only by the writer; readers look up."""

    def __init__(self) -> None:
        self._numbers: dict[int, int] = {}  # number -> group id
        self._groups: list[tuple[Listing, ...]] = [()]  # group id -> listings (0: none)
        self._group_ids: dict[tuple[Listing, ...], int] = {(): 0}
        self.version = 0  # rises with every change: context memo keys carry it

    def __len__(self) -> int:
        return len(self._numbers)

    def clear(self) -> None:
        self._numbers.clear()
        del self._groups[1:]
        self._group_ids = {(): 0}
        self.version += 1

    def _group(self, listings: tuple[Listing, ...]) -> int:
        found = self._group_ids.get(listings)
        if found is None:
            found = self._group_ids[listings] = len(self._groups)
            self._groups.append(listings)
        return found

    def add(self, keys: Iterable[int], listing: Listing) -> None:
        numbers, single = self._numbers, self._group((listing,))
        derived: dict[int, int] = {}  # old group -> old group plus this listing
        for key in keys:
            old = numbers.get(key, 0)
            if old == 0:
                numbers[key] = single
            elif old != single:
                new = derived.get(old)
                if new is None:
                    merged = tuple(
                        sorted(
                            {*(held for held in self._groups[old] if held.list != listing.list), listing},
                            key=lambda held: held.list,
                        )
                    )
                    new = derived[old] = self._group(merged)
                numbers[key] = new
        self.version += 1

    def remove(self, keys: Iterable[int] | None, list_name: str) -> None:
        """Drop the list's listing from these numbers (None: from every number)."""
        numbers = self._numbers
        derived: dict[int, int] = {}
        for key in list(numbers) if keys is None else keys:
            old = numbers.get(key, 0)
            if old == 0:
                continue
            new = derived.get(old)
            if new is None:
                new = derived[old] = self._group(tuple(held for held in self._groups[old] if held.list != list_name))
            if new == 0:
                del numbers[key]
            elif new != old:
                numbers[key] = new
        self.version += 1

    def listings(self, e164: str, day: int) -> tuple[Listing, ...]:
        """The listings of the number in force on that UTC day."""
        group = self._numbers.get(number_key(e164), 0) if e164.startswith("+") else 0
        if not group:
            return ()
        return tuple(held for held in self._groups[group] if held.expires_on is None or _day(held.expires_on) > day)


def _day(value: date) -> int:
    return value.toordinal() - 719_163  # date(1970, 1, 1).toordinal()


class DncParseError(msgspec.Struct, frozen=True):
    line: int  # 1-based position in the upload
    value: str
    reason: str


def parse_numbers(raw: Iterable[str], region: str, first_line: int = 1) -> tuple[list[int], list[DncParseError]]:
    keys, errors = [], []
    for line, value in enumerate(raw, first_line):
        if not value or not value.strip():
            continue
        try:
            keys.append(parse_number(value, region))
        except InvalidIdentifier as exc:
            errors.append(DncParseError(line, value[:64], exc.code))
    return keys, errors


__all__ = ["DncIndex", "Listing", "parse_number", "parse_numbers", "InvalidIdentifier", "key_e164"]
