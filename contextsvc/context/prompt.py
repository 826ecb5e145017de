"""Render a CallContext as a plain-text block an LLM can be grounded on, within a budget.

Every line is one whole fact with a salience score. When the block is over budget the
least salient lines go first (ties: the later line goes), so the result is deterministic
and never cuts a fact in half. Dates are given absolute and relative ("2026-11-18, 3
days ago").
"""

from __future__ import annotations

from datetime import datetime

from contextsvc.context.assemble import CallContext
from contextsvc.context.tokens import line_tokens
from contextsvc.timeutil import days_ago

# Signals rank just below the headline: they are why an agent should act differently.
_SEVERITY_SALIENCE = {"critical": 995, "opportunity": 985, "warning": 975, "info": 900}


def when(moment: datetime | None, as_of: datetime) -> str:
    if moment is None:
        return "never"
    return f"{moment.date().isoformat()} ({days_ago((as_of.date() - moment.date()).days)})"  # UTC days


def _disposition(code: str | None, text: str | None) -> str:
    if code:
        return code.replace("_", " ")
    return f'"{text}" (unmapped)' if text else "no disposition"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _minutes(seconds: int) -> str:
    return f"{seconds // 60}m{seconds % 60:02d}s"


def candidate_lines(ctx: CallContext) -> list[tuple[int, str]]:
    """(salience, line) in reading order."""
    s, as_of = ctx.summary, ctx.as_of
    person = ctx.person
    who = person.name or "Unnamed contact"
    role = ", ".join(filter(None, [person.title, person.company]))
    lines: list[tuple[int, str]] = [(1000, f"Call history for {who}{f' ({role})' if role else ''} as of {as_of.date().isoformat()}.")]
    if s.calls == 0:
        lines.append((999, "No calls on record."))
        return lines
    rate = f" ({s.connect_rate:.0%})" if s.connect_rate is not None else ""
    lines.append((990, f"{_count(s.calls, 'call')} ({s.outbound} outbound, {s.inbound} inbound), "
                       f"{_count(s.connects, 'conversation')}{rate}, {_minutes(s.talk_seconds)} talk time."))
    last = ctx.recent_calls[0] if ctx.recent_calls else None
    outcome = f": {_disposition(last.disposition, last.disposition_text)}" if last else ""
    lines.append((980, f"Last call {when(s.last_call_at, as_of)}{outcome}."))
    lines.append((970, f"Last conversation {when(s.last_connect_at, as_of)}."))
    for signal in ctx.signals:
        lines.append((_SEVERITY_SALIENCE.get(signal.severity, 900), f"Signal: {signal.message}"))
    for key in ("30d", "7d"):
        t = ctx.trend[key]
        salience = 900 if key == "30d" else 690 if t.label != "inactive" else 450
        lines.append((salience,
                      f"Last {key[:-1]} days: {_count(t.calls, 'call')}, {_count(t.connects, 'conversation')}; {t.label} "
                      f"(prior {key[:-1]} days: {_count(t.prior_calls, 'call')}, {_count(t.prior_connects, 'conversation')})."))
    if s.attempts_to_first_connect is not None:
        lines.append((650, f"First conversation took {s.attempts_to_first_connect} outbound attempts "
                           f"({ctx.velocity.days_first_touch_to_first_connect} days)."))
    if s.connects:
        lines.append((640, f"{_count(s.attempts_since_last_connect, 'outbound attempt')} since the last conversation."))
    v = ctx.velocity
    gap = f", median gap {v.median_gap_days} days" if v.median_gap_days is not None else ""
    lines.append((600, f"Pace: {v.calls_per_week_30d} calls/week over 30 days, {v.calls_per_week_90d} over 90{gap}."))
    for rank, record in enumerate(ctx.related[:3]):
        stage = f" at stage {record.stage}" if record.stage else ""
        lines.append((620 - rank, f"{record.kind.capitalize()} {record.id}{stage}, last discussed {when(record.last_touched_at, as_of)}."))
    for rank, call in enumerate(ctx.recent_calls):
        notes = f' Notes: "{call.notes}"' if call.notes else ""
        lines.append((660 - 15 * rank, f"- {when(call.started_at, as_of)} {call.direction}, "
                                       f"{_disposition(call.disposition, call.disposition_text)}, "
                                       f"{_minutes(call.talk_seconds)} talk.{notes}"))
    issues = sum(ctx.data_quality.issues.values())
    if issues:
        detail = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in ctx.data_quality.issues.items())
        lines.append((300, f"Data gaps: {detail}."))
    return lines


def render(ctx: CallContext, max_tokens: int) -> tuple[str, int]:
    """The block and its estimated token count (never above max_tokens)."""
    lines = candidate_lines(ctx)
    kept = list(range(len(lines)))
    costs = [line_tokens(text) + 1 for _, text in lines]  # + the newline joining it
    total = sum(costs)
    drop_order = sorted(kept, key=lambda i: (lines[i][0], -i))
    for index in drop_order:
        if total <= max_tokens:
            break
        kept.remove(index)
        total -= costs[index]
    text = "\n".join(lines[i][1] for i in kept)
    # No token spans a newline, so the block costs its lines plus the newlines between.
    return text, max(total - 1, 0)
