"""Assembled contexts, memoised by (individual, profile version, as_of UTC day, recent,
max_tokens): everything in a context but its `as_of` field is a function of exactly those
(assemble.py), and profile versions are never reused, so a hit is exact."""

from __future__ import annotations

from collections import OrderedDict

from contextsvc.context.assemble import CallContext

MemoKey = tuple[str, int, int, int, int]


class ContextMemo:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[MemoKey, CallContext] = OrderedDict()

    def get(self, key: MemoKey) -> CallContext | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: MemoKey, context: CallContext) -> None:
        self._entries[key] = context
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
