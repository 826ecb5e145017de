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
Item = tuple[str, str, str]  # (uuid, event type, JSON)


class _Subscriber:
    def __init__(self, limit: int) -> None:
        self.items: deque[Item] = deque()
        self.limit = limit
        self.ready = asyncio.Event()
        self.overflowed = False

    def push(self, item: Item) -> None:
        if len(self.items) >= self.limit:
            self.overflowed = True
        else:
            self.items.append(item)
        self.ready.set()


class EventHub:
    def __init__(self, keep: int = 1000, backlog: int = 1000) -> None:
        self._recent: deque[Item] = deque(maxlen=keep)
        self._subscribers: set[_Subscriber] = set()
        self._backlog = backlog

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, event: ChangeEvent) -> None:
        item = (event.event_uuid, event.event_type, _encode(event).decode())
        self._recent.append(item)
        for subscriber in self._subscribers:
            subscriber.push(item)

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
