"""The event stream across workers: the leader copies every stream event to Redis, where
each worker's subscriber hears it (follower.py) and a capped list keeps the last ones, so a
client reconnecting with Last-Event-ID to any worker (a new one, or after Redis was away)
misses nothing recent.

Events wait in the leader's memory while Redis is away and go out, in order, once it is
back (the newest `keep` of them: the stream is live-only by design; webhooks are durable).
An event sent twice (a send whose answer was lost) is heard twice; hubs drop the second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

import msgspec
from redis.asyncio import Redis

from contextsvc.activation import ChangeEvent, StreamItem, item_of

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "contextsvc:events"
EVENTS_KEPT = "contextsvc:events:recent"
KEEP = 1000

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(tuple[str, str, str]).decode

# One step per batch: appended to the kept list (trimmed to ARGV[1]) and published.
_SEND = """
for i = 2, #ARGV do
  redis.call('RPUSH', KEYS[1], ARGV[i])
  redis.call('PUBLISH', KEYS[2], ARGV[i])
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
return #ARGV - 1
"""


def encode_item(item: StreamItem) -> bytes:
    return _encode(item)


def decode_item(data: bytes) -> StreamItem:
    return _decode(data)


async def kept_events(redis: Redis) -> list[StreamItem]:
    """What Redis keeps of the stream, oldest first."""
    kept: list[bytes] = await redis.lrange(EVENTS_KEPT, 0, -1)  # type: ignore[assignment]  # no decode_responses: bytes
    return [decode_item(raw) for raw in kept]


class EventRelay:
    """On the leader: an activation stream listener (called after each commit, must not
    wait) whose events a task sends to Redis in batches, retrying while Redis is away."""

    def __init__(self, redis: Redis, keep: int = KEEP, retry_s: float = 0.5) -> None:
        self.redis = redis
        self.keep, self.retry_s = keep, retry_s
        self.pending: deque[bytes] = deque(maxlen=keep)
        self.dropped = 0  # events pushed out of `pending` while Redis was away
        self._script = redis.register_script(_SEND)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._warned_at = float("-inf")

    def publish(self, event: ChangeEvent) -> None:
        if len(self.pending) == self.keep:
            self.dropped += 1
        self.pending.append(encode_item(item_of(event)))
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._send_forever(), name="event-relay")

    async def stop(self) -> None:
        """After the writer stopped: what is still pending goes out if Redis answers at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._send_pending()

    async def _send_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.pending:
                try:
                    await self._send_pending()
                except Exception as exc:  # Redis away: keep them, try again
                    self._warn(exc)
                    await asyncio.sleep(self.retry_s)

    async def _send_pending(self) -> None:
        batch = list(self.pending)
        if not batch:
            return
        await self._script(keys=[EVENTS_KEPT, EVENTS_CHANNEL], args=[self.keep, *batch])
        # Meanwhile publish() may have appended, and pushed some of the batch out: what is
        # left of it is still the front of the queue.
        sent = {id(raw) for raw in batch}
        while self.pending and id(self.pending[0]) in sent:
            self.pending.popleft()

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 10:
            self._warned_at = now
            log.warning(
                "stream events cannot reach Redis (%s): %d wait for it, other workers' streams lag",
                type(exc).__name__,
                len(self.pending),
            )
