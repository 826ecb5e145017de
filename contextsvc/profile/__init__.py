"""Profile stage: per-person call state, updated incrementally as calls land."""

from __future__ import annotations

from contextsvc.profile.facts import CallFact, fact_from_call
from contextsvc.profile.state import CallCounts, ProfileState, build, decode_state, encode_state

__all__ = ["build", "CallCounts", "CallFact", "decode_state", "encode_state", "fact_from_call", "ProfileState"]
