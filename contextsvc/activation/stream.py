"""The server-sent-events hub behind GET /v1/events/stream.

Live only, by design (dashboards): events of stream-target rules are fanned out after
their commit to every connected subscriber; the last `keep` are remembered so a client
reconnecting with Last-Event-ID misses nothing recent. Durable, at-least-once delivery
is what webhooks are for. A subscriber too slow to keep up is disconnected (it can
reconnect with Last-Event-ID) rather than holding memory or slowing the writer down.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

import msgspec

from contextsvc.activation.model import ChangeEvent

_encode = msgspec.json.Encoder().encode
KEEPALIVE_S = 15.0
StreamItem = tuple[str, str, str]  # (uuid, event type, JSON)


def item_of(event: ChangeEvent) -> StreamItem:
    return (event.event_uuid, event.event_type, _encode(event).decode())


class _Subscriber:
    def __init__(self, limit: int) -> None:
        self.items: deque[StreamItem] = deque()
        self.limit = limit
        self.ready = asyncio.Event()
        self.overflowed = False

    def push(self, item: StreamItem) -> None:
        if len(self.items) >= self.limit:
            self.overflowed = True
        else:
            self.items.append(item)
        self.ready.set()


class EventHub:
    def __init__(self, keep: int = 1000, backlog: int = 1000) -> None:
        self._recent: deque[StreamItem] = deque()
        self._seen: set[str] = set()  # the uuids in _recent
        self._keep = keep
        self._subscribers: set[_Subscriber] = set()
        self._backlog = backlog

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, event: ChangeEvent) -> None:
        self.push(item_of(event))

    def push(self, item: StreamItem) -> bool:
        """To every subscriber, unless it was pushed before (an event heard twice, as when
        several workers replay what Redis kept after a reconnection): whether it was new."""
        if item[0] in self._seen:
            return False
        if len(self._recent) >= self._keep:
            self._seen.discard(self._recent.popleft()[0])
        self._recent.append(item)
        self._seen.add(item[0])
        for subscriber in self._subscribers:
            subscriber.push(item)
        return True

    async def subscribe(self, last_event_id: str | None) -> AsyncIterator[dict]:
        subscriber = _Subscriber(self._backlog)
        self._subscribers.add(subscriber)
        # Taken in the same step as subscribing: nothing published later is in both.
        ids = [uuid for uuid, _, _ in self._recent]
        missed = list(self._recent)[ids.index(last_event_id) + 1 :] if last_event_id in ids else []
        try:
            yield {"comment": "connected", "data": None}  # data=None: a bare comment, not an event
            for uuid, kind, data in missed:
                yield {"id": uuid, "event": kind, "data": data}
            while not subscriber.overflowed:
                if not subscriber.items:
                    subscriber.ready.clear()
                    try:
                        await asyncio.wait_for(subscriber.ready.wait(), KEEPALIVE_S)
                    except TimeoutError:
                        yield {"comment": "keep-alive", "data": None}
                    continue
                uuid, kind, data = subscriber.items.popleft()
                yield {"id": uuid, "event": kind, "data": data}
        finally:
            self._subscribers.discard(subscriber)
