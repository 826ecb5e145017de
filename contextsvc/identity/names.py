"""Do two first names plausibly belong to one person? Nicknames and typos, not lookalikes.

Conservative by design: this rule only ever links people who already share an exact last
name and a company or email domain, so a false "yes" merges two colleagues.
"""

from __future__ import annotations

from functools import lru_cache

from nicknames import NickNamer
from rapidfuzz.distance import OSA

_NICKNAMES = NickNamer()


@lru_cache(maxsize=50_000)
def _related_names(name: str) -> frozenset[str]:
    """The name itself, its nicknames, and the formal names it is a nickname of."""
    return frozenset({name}) | _NICKNAMES.nicknames_of(name) | _NICKNAMES.canonicals_of(name)


def first_names_match(a: str, b: str) -> bool:
    """Both arguments are name_key()-normalised first names."""
    if not a or not b:
        return False
    if a == b:
        return True
    # Bob ~ Robert, Liz ~ Elizabeth; deliberately not Jack ~ Jon (two nicknames of John).
    if b in _related_names(a) or a in _related_names(b):
        return True
    # Typos: one transposition/edit in a name of 5+ letters (Micheal, Jonathon→Jonathan is 1),
    # two in names of 8+. Short names differ by one letter too often (Mark/Mary, Jon/Jan).
    shorter = min(len(a), len(b))
    if shorter < 5 or a[0] != b[0]:
        return False
    allowed = 2 if shorter >= 8 else 1
    return OSA.distance(a, b, score_cutoff=allowed) <= allowed
