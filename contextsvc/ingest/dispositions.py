"""The disposition picklist (seed/dispositions.toml) and free-text alias matching."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec


class Disposition(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str
    label: str
    human_answered: bool = False
    connect: bool = False
    positive: bool = False
    negative: bool = False
    meeting: bool = False
    callback: bool = False
    voicemail: bool = False
    bad_number: bool = False
    do_not_call: bool = False


# Flags a profile tracks "last seen" for (connect and human_answered are counted apart).
OUTCOME_FLAGS = ("positive", "negative", "meeting", "callback", "voicemail", "bad_number", "do_not_call")


class Meaning(msgspec.Struct, frozen=True):
    connect: bool = False
    human_answered: bool = False
    flags: tuple[str, ...] = ()


NO_MEANING = Meaning()


class _PicklistFile(msgspec.Struct, forbid_unknown_fields=True):
    disposition: list[Disposition]
    aliases: dict[str, str] = {}


_NON_WORD = re.compile(r"[^0-9a-z]+")


def alias_key(text: str) -> str:
    """'Left VM.' / 'left-vm' / 'LEFT  VM' -> 'left vm'."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


class Picklist:
    def __init__(self, dispositions: list[Disposition], aliases: dict[str, str]) -> None:
        self.by_code = {d.code: d for d in dispositions}
        if len(self.by_code) != len(dispositions):
            raise ValueError("duplicate disposition code in picklist")
        self._by_key: dict[str, str] = {}
        for code in self.by_code:
            self._by_key[alias_key(code)] = code
        for text, code in aliases.items():
            if code not in self.by_code:
                raise ValueError(f"alias {text!r} points at unknown code {code!r}")
            self._by_key[alias_key(text)] = code
        self._meanings = {
            d.code: Meaning(d.connect, d.human_answered, tuple(f for f in OUTCOME_FLAGS if getattr(d, f)))
            for d in dispositions
        }

    @classmethod
    def load(cls, path: Path) -> Picklist:
        data = msgspec.toml.decode(path.read_bytes(), type=_PicklistFile)
        return cls(data.disposition, data.aliases)

    @property
    def codes(self) -> list[str]:
        return list(self.by_code)

    def match(self, text: str) -> str | None:
        """The picklist code for a code or free-text value, or None when nothing maps."""
        if text in self.by_code:
            return text
        return self._by_key.get(alias_key(text))

    def meaning(self, code: str | None) -> Meaning:
        """What a code says about the call; NO_MEANING for a missing or unmapped one."""
        return self._meanings.get(code, NO_MEANING) if code else NO_MEANING
