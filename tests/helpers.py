"""Builders shared by the tests."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from contextsvc.identity.graph import IdentityGraph
from contextsvc.calls import Person

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)


def counter_ids(start: int = 1):
    counter = itertools.count(start)
    return lambda: f"ind_{next(counter):020x}"


def graph(first_id: int = 1, **kw) -> IdentityGraph:
    return IdentityGraph(new_id=counter_ids(first_id), **kw)


def person(**kw) -> Person:
    return Person(**kw)


def call_event(call_id: str, minutes: int = 0, **kw) -> dict:
    """A valid CallEvent body; keyword arguments override fields (who=… replaces who)."""
    body = {
        "call_id": call_id,
        "direction": "outbound",
        "started_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "duration_seconds": 120,
        "talk_seconds": 90,
        "disposition": "interested",
        "rep_id": "rep-1",
        "who": {"phone": "(212) 555-0142", "first_name": "Bob", "last_name": "Smith", "company": "Acme"},
    }
    body.update(kw)
    return body
