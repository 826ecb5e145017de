"""Context stage: assemble a person's call context relative to as_of, disclose it as
the caller may see it, render the prompt block, memoise it, and the read every surface
shares."""

from __future__ import annotations

from contextsvc.context.agent_view import AgentCallContext, agent_view
from contextsvc.context.assemble import (
    WINDOWS,
    CallContext,
    PersonView,
    RelatedView,
    SegmentRef,
    Signal,
    Summary,
    Trend,
    Velocity,
    Window,
    assemble,
    person_view,
    related_views,
    signals,
    summary,
    trend,
    velocity,
    window,
)
from contextsvc.context.daily import DayCounts, daily_counts
from contextsvc.context.memo import ContextMemo, MemoKey, RenderedContext
from contextsvc.context.privacy import redact
from contextsvc.context.prompt import render
from contextsvc.context.reads import ContextReads
from contextsvc.context.tokens import count_tokens
from contextsvc.privacy import FULL, Disclosure

__all__ = [
    "agent_view",
    "AgentCallContext",
    "assemble",
    "CallContext",
    "ContextMemo",
    "ContextReads",
    "count_tokens",
    "daily_counts",
    "DayCounts",
    "Disclosure",
    "FULL",
    "MemoKey",
    "person_view",
    "PersonView",
    "redact",
    "related_views",
    "RelatedView",
    "render",
    "RenderedContext",
    "SegmentRef",
    "Signal",
    "signals",
    "Summary",
    "summary",
    "Trend",
    "trend",
    "Velocity",
    "velocity",
    "Window",
    "window",
    "WINDOWS",
]
