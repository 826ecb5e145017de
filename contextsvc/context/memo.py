"""Assembled contexts, memoised by (individual, profile version, as_of UTC day, recent,
max_tokens, disclosure, segment definitions version, reachability inputs version):
everything in a context but its `as_of` field, its local time and its calling-window
answer is a function of exactly those (assemble.py), and versions are never reused. The
calling-window answer holds between two window edges: an entry records that interval
and is used only for an as_of inside it; the local time is filled in per read.

Entries are kept encoded — the JSON body with a fixed `as_of` slot, and the prompt text —
two objects each instead of a tree of thousands: a memo of struct trees made every full
garbage collection walk millions of objects (cold-read p99 went from 6 ms to 460 ms).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime

import msgspec

from contextsvc.context.assemble import CallContext
from contextsvc.context.prompt import LOCAL_TIME, clock
from contextsvc.timeutil import zone

_SLOT_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_SLOT = b'"as_of":' + msgspec.json.encode(_SLOT_TIME)
_LOCAL_SLOT = b'"local_time":' + msgspec.json.encode(_SLOT_TIME)
_PROMPT_SLOT = b'"prompt":""'
_encode = msgspec.json.Encoder().encode
_encode_time = msgspec.json.encode
_ALWAYS = (-(1 << 62), 1 << 62)


class RenderedContext(msgspec.Struct, gc=False, frozen=True):
    body: bytes  # CallContext as JSON: as_of and local_time set to the slot value, prompt ""
    prompt_parts: tuple[str, ...]  # the prompt, split where the local time goes (prompt.LOCAL_TIME)
    time_zone: str | None = None  # of reachability.local_time
    valid_from_us: int = _ALWAYS[0]  # the calling-window answer holds in [valid_from, valid_until)
    valid_until_us: int = _ALWAYS[1]

    @classmethod
    def of(cls, context: CallContext, holds: tuple[int, int] = _ALWAYS) -> RenderedContext:
        reach = context.reachability
        zone_name: str | None = None
        if reach is not None and reach.local_time is not None:
            zone_name = reach.time_zone
            if zone_name is not None:
                reach = msgspec.structs.replace(reach, local_time=_SLOT_TIME)
        body = _encode(msgspec.structs.replace(context, as_of=_SLOT_TIME, prompt="", reachability=reach))
        return cls(body, tuple(context.prompt.split(LOCAL_TIME)), zone_name, *holds)

    def holds_at(self, as_of_us: int) -> bool:
        return self.valid_from_us <= as_of_us < self.valid_until_us

    def prompt_at(self, as_of: datetime) -> str:
        parts = self.prompt_parts
        if len(parts) == 1:
            return parts[0]
        return clock(as_of.astimezone(zone(self.time_zone))).join(parts)

    @property
    def prompt(self) -> str:
        """The prompt as rendered (its local time, if any, still the slot)."""
        return LOCAL_TIME.join(self.prompt_parts)

    def json(self, as_of: datetime) -> bytes:
        # Each slot's first occurrence is the real one: nested text is escaped JSON and
        # cannot contain an unescaped key.
        body = self.body.replace(_SLOT, b'"as_of":' + _encode_time(as_of), 1)
        if self.time_zone is not None:
            body = body.replace(_LOCAL_SLOT, b'"local_time":' + _encode_time(as_of.astimezone(zone(self.time_zone))), 1)
        return body.replace(_PROMPT_SLOT, b'"prompt":' + _encode_time(self.prompt_at(as_of)), 1)


# ..., privacy.Disclosure (what the caller may see), segment definitions' version, reachability inputs' version
MemoKey = tuple[str, int, int, int, int, object, int, object]


class ContextMemo:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[MemoKey, RenderedContext] = OrderedDict()
        self.hits = self.misses = 0  # read by /metrics at scrape time

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: MemoKey) -> RenderedContext | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return found

    def forget(self, individual_ids: set[str]) -> None:
        """Drop every entry of these people (erased, or calls purged): stale entries are
        unreachable anyway, but must not keep personal data in memory."""
        for key in [k for k in self._entries if k[0] in individual_ids]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def put(self, key: MemoKey, context: RenderedContext) -> None:
        self._entries[key] = context
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
