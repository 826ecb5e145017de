"""The leader's change messages and what a follower may conclude from them: pure, no I/O.

The leader numbers its messages (`seq`) within its term (`epoch`, new at every election)
and, with each one, sets the freshness token to "epoch:seq" in the same Redis step. A
follower applies the messages in order; a read on it first fetches the token (sent after
the read arrived): the token already counts every write acknowledged before the read,
because the leader publishes before it answers. When the follower has applied up to the
token its caches hold nothing older than those writes; otherwise it waits a little for
its subscriber, then reads through to the database. A missed message (a gap in `seq`), a
new epoch or a lost subscription makes it drop every cache and start again.
"""

from __future__ import annotations

import hashlib
from enum import Enum

import msgspec

CHANNEL = "contextsvc:replica:changes"
TOKEN = "contextsvc:replica:token"


class ChangeMessage(msgspec.Struct, array_like=True, gc=False, frozen=True):
    epoch: str  # the leader's term
    seq: int  # one more than the previous change message of this term; a beat repeats the last
    beat: bool = False  # a heartbeat: nothing changed, the leader is alive and this was its last seq
    people: tuple[str, ...] = ()  # individuals whose profile changed, merged away or erased
    keys: tuple[bytes, ...] = ()  # digests of identifiers newly linked (key_digest)
    forget: bool = False  # erased or purged: drop what is held of `people`
    everything: bool = False  # a wholesale rewrite: drop every cache
    inputs: tuple[int, ...] = ()  # versions of segment definitions, DNC lists, market snapshot


encode_message = msgspec.msgpack.Encoder().encode
decode_message = msgspec.msgpack.Decoder(ChangeMessage).decode


def key_digest(salt: int, kind: str, value: str) -> bytes:
    """A lookup key as change messages name it: keyed, so a digest cannot be reversed by
    hashing every phone number."""
    return hashlib.blake2b(f"{kind}\0{value}".encode(), digest_size=12, key=salt.to_bytes(8, "big")).digest()


def token_text(epoch: str, seq: int) -> str:
    return f"{epoch}:{seq}"


def parse_token(raw: bytes | str | None) -> tuple[str, int] | None:
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    epoch, _, seq = text.rpartition(":")
    try:
        return epoch, int(seq)
    except ValueError:
        return None


class Step(Enum):
    APPLY = "apply"  # invalidate what the message names, then count it applied
    RESYNC = "resync"  # drop every cache and adopt the message's epoch and seq


class Freshness:
    """A follower's view of how far it has followed the leader's changes."""

    __slots__ = ("epoch", "applied", "subscribed")

    def __init__(self) -> None:
        self.epoch: str | None = None
        self.applied = -1
        self.subscribed = False

    def lost(self) -> None:
        """The subscription is gone: nothing cached may be trusted until a resync."""
        self.subscribed = False

    def synced(self, epoch: str | None, seq: int) -> None:
        """Every cache was dropped after subscribing; `epoch:seq` was the token then (None:
        no leader has spoken yet, so nothing is trusted until one does)."""
        self.subscribed = True
        self.epoch, self.applied = epoch, seq

    def step(self, message: ChangeMessage) -> Step:
        if message.epoch != self.epoch:
            return Step.RESYNC  # a new leader: what the old one did not say is unknown
        if message.beat:
            # A beat repeats the last seq: one above what was applied means a lost message.
            return Step.APPLY if message.seq <= self.applied else Step.RESYNC
        return Step.APPLY if message.seq <= self.applied + 1 else Step.RESYNC

    def applied_up_to(self, seq: int) -> None:
        self.applied = max(self.applied, seq)

    def trusts(self, token: tuple[str, int] | None) -> bool | None:
        """True: the caches hold every change the token counts. False: do not trust them
        (no subscription, no token: no leader is publishing). None: not yet, the
        subscriber may still catch up."""
        if not self.subscribed or token is None:
            return False
        epoch, seq = token
        if epoch == self.epoch and seq <= self.applied:
            return True
        return None
