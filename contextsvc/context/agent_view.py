"""The call context flattened for Agentforce / Flow: primitives at the top level, a
one-line headline, the signals as plain strings. Pure; built from the same CallContext
that /v1/context serves (after privacy.redact), never computed a second way."""

from __future__ import annotations

from datetime import datetime

import msgspec

from contextsvc.context.assemble import CallContext
from contextsvc.timeutil import days_ago


class AgentCallContext(msgspec.Struct, kw_only=True):
    """Flat, so a Flow or an agent topic can map every field to a variable."""

    individual_id: str
    as_of: datetime
    headline: str
    prompt: str
    prompt_tokens: int
    name: str | None
    title: str | None
    company: str | None
    phone: str | None  # masked unless the key has pii:read
    email: str | None  # masked unless the key has pii:read
    calls: int
    outbound_calls: int
    inbound_calls: int
    conversations: int
    connect_rate: float | None
    talk_seconds: int
    first_call_at: datetime | None
    last_call_at: datetime | None
    last_conversation_at: datetime | None
    days_since_last_call: int | None
    days_since_last_conversation: int | None
    last_disposition: str | None
    attempts_since_last_conversation: int
    calls_last_30_days: int
    conversations_last_30_days: int
    trend_30_days: str
    calls_per_week_30_days: float
    do_not_call: bool  # asked not to be called, or on a do-not-call list
    callable_now: bool | None  # the calling window is open and not do-not-call; null: unknown
    local_time: datetime | None  # the person's local time at as_of (null: zone unknown or ambiguous)
    time_zone: str | None
    best_time_to_call: str  # "Mon–Fri 10:00–11:00 local (38% connect rate, 52 calls)", or "not enough data"
    signals: list[str]
    signal_codes: list[str]
    last_recording_url: str | None  # null unless the key has recordings:read


def headline(ctx: CallContext) -> str:
    """'Dana Lee (VP Operations, Northwind): 14 calls, 4 conversations; last spoke 24 days ago. Do not call.'"""
    person, s = ctx.person, ctx.summary
    role = ", ".join(filter(None, [person.title, person.company]))
    who = (person.name or "Unnamed contact") + (f" ({role})" if role else "")
    if s.calls == 0:
        return f"{who}: no calls on record."
    spoke = (
        f"last spoke {days_ago(s.days_since_last_connect)}"
        if s.days_since_last_connect is not None
        else "never reached"
    )
    calls = f"{s.calls} call{'s' if s.calls != 1 else ''}, {s.connects} conversation{'s' if s.connects != 1 else ''}"
    first_signal = f" {ctx.signals[0].message}" if ctx.signals else f" Last 30 days {ctx.trend['30d'].label}."
    return f"{who}: {calls}; {spoke}.{first_signal}"


def best_time_text(reach) -> str:
    if reach is None or not reach.best_time.windows:
        return "not enough data"
    whose = {"person": "", "market": "; from their market", "all_calls": "; from all prospects"}[reach.best_time.source]
    return "; ".join(
        f"{w.days} {w.start}–{w.end} local ({w.connect_rate:.0%} connect rate, {w.calls} calls{whose})"
        for w in reach.best_time.windows
    )


def agent_view(ctx: CallContext) -> AgentCallContext:
    s, person = ctx.summary, ctx.person
    reach = ctx.reachability
    window = ctx.windows["30d"]
    return AgentCallContext(
        individual_id=ctx.individual_id,
        as_of=ctx.as_of,
        headline=headline(ctx),
        prompt=ctx.prompt,
        prompt_tokens=ctx.prompt_tokens,
        name=person.name,
        title=person.title,
        company=person.company,
        phone=next(iter(person.identifiers.phones), None),
        email=next(iter(person.identifiers.emails), None),
        calls=s.calls,
        outbound_calls=s.outbound,
        inbound_calls=s.inbound,
        conversations=s.connects,
        connect_rate=s.connect_rate,
        talk_seconds=s.talk_seconds,
        first_call_at=s.first_call_at,
        last_call_at=s.last_call_at,
        last_conversation_at=s.last_connect_at,
        days_since_last_call=s.days_since_last_call,
        days_since_last_conversation=s.days_since_last_connect,
        last_disposition=s.last_disposition,
        attempts_since_last_conversation=s.attempts_since_last_connect,
        calls_last_30_days=window.calls,
        conversations_last_30_days=window.connects,
        trend_30_days=ctx.trend["30d"].label,
        calls_per_week_30_days=ctx.velocity.calls_per_week_30d,
        do_not_call=s.do_not_call or bool(reach and reach.do_not_call),
        callable_now=reach.callable_now if reach else None,
        local_time=reach.local_time if reach else None,
        time_zone=reach.time_zone if reach else None,
        best_time_to_call=best_time_text(reach),
        signals=[signal.message for signal in ctx.signals],
        signal_codes=[signal.code for signal in ctx.signals],
        last_recording_url=next((c.recording_url for c in ctx.recent_calls if c.recording_url), None),
    )
