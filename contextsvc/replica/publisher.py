"""The leader's side: every committed transaction told to the followers over Redis pub/sub
before its requests are answered, and a heartbeat while nothing changes.

Each message and the freshness token are written in one Redis script, so a follower that
reads the token after an acknowledgement finds a number its subscriber will reach. The
token expires unless the heartbeat renews it: a leader that cannot reach Redis (or died)
stops vouching for the followers' caches within `ttl_s`, and they read through to the
database. A message that could not be sent still uses its number: the gap makes every
follower drop its caches once it hears the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable

from redis.asyncio import Redis

from contextsvc.pipeline import Announcement
from contextsvc.replica.changes import CHANNEL, TOKEN, ChangeMessage, encode_message, key_digest, token_text

log = logging.getLogger(__name__)

_SEND = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return redis.call('PUBLISH', KEYS[2], ARGV[2])
"""
# At the end of a term: the token goes only if it is still this term's (a leader that
# stepped down must not withdraw the next leader's).
_WITHDRAW = """
local token = redis.call('GET', KEYS[1])
if token and string.sub(token, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_LOOKUP_KINDS = frozenset({"phone", "email", "salesforce_id"})


class ChangePublisher:
    def __init__(
        self,
        redis: Redis,
        salt: int,
        inputs: Callable[[], tuple[int, ...]],
        beat_s: float = 1.0,
        ttl_s: float = 3.0,
    ) -> None:
        self.redis = redis
        self.salt = salt
        self.inputs = inputs  # versions of what every context reads besides the person
        self.beat_s, self.ttl_ms = beat_s, str(int(ttl_s * 1000))
        self.epoch = secrets.token_hex(8)
        self.seq = 0
        self.failures = 0  # messages not sent since start (metrics, logs)
        self._script = redis.register_script(_SEND)
        self._withdraw = redis.register_script(_WITHDRAW)
        self._lock = asyncio.Lock()
        self._beating: asyncio.Task | None = None
        self._warned_at = float("-inf")
        # After a failed send, announcements do not wait for Redis (each commit would wait
        # out the timeout) until a heartbeat gets through again.
        self._dark = False

    async def start(self) -> None:
        """The term's first word (followers drop what they cached under the last leader),
        then a heartbeat every beat_s."""
        await self._send(ChangeMessage(self.epoch, 0, beat=True, everything=True, inputs=self.inputs()))
        self._beating = asyncio.create_task(self._beat(), name="replica-heartbeat")

    async def stop(self) -> None:
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
        with contextlib.suppress(Exception):  # followers stop trusting at once, not after ttl
            await self._withdraw(keys=[TOKEN], args=[self.epoch + ":"])

    async def announce(self, announcement: Announcement) -> None:
        """A Writer announcer: awaited after the commit, before the answers."""
        self.seq += 1
        if self._dark:
            self.failures += 1
            return
        salt = self.salt
        keys = tuple(key_digest(salt, kind, value) for kind, value in announcement.linked if kind in _LOOKUP_KINDS)
        message = ChangeMessage(
            self.epoch,
            self.seq,
            people=tuple(announcement.people),
            keys=keys,
            forget=announcement.forget,
            everything=announcement.everything,
            inputs=self.inputs(),
        )
        await self._send(message)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.beat_s)
            await self._send(ChangeMessage(self.epoch, self.seq, beat=True, inputs=self.inputs()))

    async def _send(self, message: ChangeMessage) -> None:
        try:
            async with self._lock:
                await self._script(
                    keys=[TOKEN, CHANNEL],
                    args=[token_text(message.epoch, message.seq), encode_message(message), self.ttl_ms],
                )
            self._dark = False
        except Exception as exc:  # Redis away: followers find no token and read through
            self._dark = True
            self.failures += 1
            now = time.monotonic()
            if now - self._warned_at > 10:
                self._warned_at = now
                log.warning(
                    "change messages cannot reach Redis (%s): followers read through to the database",
                    type(exc).__name__,
                )
