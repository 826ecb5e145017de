"""What the dispatcher asks of a deliverer: the outbox rows of one target type in, one
outcome per row out. Webhooks are delivered by the dispatcher itself (webhooks.py); the
composition root registers the others (a `salesforce` target's deliverer lives with the
Salesforce client, above this package)."""

from __future__ import annotations

from typing import Protocol

import msgspec

from contextsvc.activation.model import Target
from contextsvc.activation.outbox import Due


class Outcome(msgspec.Struct, frozen=True):
    ok: bool
    error: str | None = None
    final: bool = False  # no retry can change it (the receiver refused the record): a dead letter at once


class DueItem(msgspec.Struct, frozen=True):
    row: Due  # the event uuid, the payload bytes, the attempts made so far
    target: Target  # the rule's target, of the deliverer's type


class Deliverer(Protocol):
    async def deliver(self, items: list[DueItem]) -> list[Outcome]:
        """Deliver every item; one outcome per item, in order. Exceptions count as a failed
        attempt of every item (retried with backoff)."""
        ...
