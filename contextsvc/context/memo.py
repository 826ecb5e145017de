"""Assembled contexts, memoised by (individual, profile version, as_of UTC day, recent,
max_tokens, disclosure, segment definitions version): everything in a context but its `as_of` field is a function of exactly those
(assemble.py), and profile versions are never reused, so a hit is exact.

Entries are kept encoded — the JSON body with a fixed `as_of` slot, and the prompt text —
two objects each instead of a tree of thousands: a memo of struct trees made every full
garbage collection walk millions of objects (cold-read p99 went from 6 ms to 460 ms).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timezone

import msgspec

from contextsvc.context.assemble import CallContext

_SLOT_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SLOT = b'"as_of":' + msgspec.json.encode(_SLOT_TIME)
_encode = msgspec.json.Encoder().encode


class RenderedContext(msgspec.Struct, gc=False, frozen=True):
    body: bytes  # CallContext as JSON, as_of set to the slot value
    prompt: str

    @classmethod
    def of(cls, context: CallContext) -> "RenderedContext":
        body = _encode(msgspec.structs.replace(context, as_of=_SLOT_TIME))
        return cls(body, context.prompt)

    def json(self, as_of: datetime) -> bytes:
        # The top-level as_of is the first occurrence: nested text is escaped JSON and
        # cannot contain the unescaped slot.
        return self.body.replace(_SLOT, b'"as_of":' + msgspec.json.encode(as_of), 1)

# ..., privacy.Disclosure (what the caller may see), the segment definitions' version
MemoKey = tuple[str, int, int, int, int, object, int]


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
