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
from contextsvc.timeutil import days_ago, zone

# Signals rank just below the headline: they are why an agent should act differently.
_SEVERITY_SALIENCE = {"critical": 995, "opportunity": 985, "warning": 975, "info": 900}
# "Do not call now" outranks everything but the headline: it is the one line an agent
# about to dial must not lose to a small budget. When calling is fine it is context.
_NOT_CALLABLE_SALIENCE, _CALLABLE_SALIENCE, _BEST_TIME_SALIENCE, _NO_BEST_TIME_SALIENCE = 998, 655, 635, 350
# Where the person's local time goes: filled in per read (the rest of a context changes
# only with the day), so a memoised block is never a minute stale. "12:00 pm" costs what
# every clock time costs (4 estimated tokens).
LOCAL_TIME = "\x00"
_LOCAL_TIME_COST = "12:00 pm"
_SOURCES = {"call": "given on a call", "account": "from the account's region", "phone": "from phone"}
_DNC = "do not call"


def clock(moment: datetime) -> str:
    """7:42 am"""
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'}"


def _local_clock(moment: datetime, tz_name: str) -> str:
    """'Sat 8:00 am' local. Always with the weekday: "today" would depend on as_of's local
    date, which can change while the rest of the line holds."""
    local = moment.astimezone(zone(tz_name))
    return f"{local.strftime('%a')} {clock(local)}"


def reachability_lines(ctx: CallContext) -> list[tuple[int, str]]:
    r = ctx.reachability
    if r is None:
        return []
    lines = []
    not_callable = r.callable_now is False
    if r.time_zone:
        where = f"{r.time_zone}, {_SOURCES.get(r.time_zone_source, r.time_zone_source)}"
        text = f"Local time {LOCAL_TIME} ({where}); "
        if r.do_not_call:
            text += _dnc(r)
        elif r.window_open and r.window_closes_at is not None:  # set together (rules.window_state)
            text += f"calling permitted until {_local_clock(r.window_closes_at, r.time_zone)} ({r.rule} rule)."
        elif r.next_window_opens_at is not None:
            text += f"not callable now, opens {_local_clock(r.next_window_opens_at, r.time_zone)} ({r.rule} rule)."
        else:
            text += f"calling not permitted ({r.rule} rule)."
    elif r.time_zone_candidates:
        text = (
            f"Time zone ambiguous ({', '.join(r.time_zone_candidates[:3])}"
            f"{' …' if len(r.time_zone_candidates) > 3 else ''}, from the phone number): "
            + (
                _dnc(r)
                if r.do_not_call
                else "calling is not permitted in any of them now."
                if not_callable
                else "calling is permitted in all of them now."
                if r.callable_now
                else "check the local time before calling."
            )
        )
    else:
        text = "Local time unknown (no time zone, account region or phone number); " + (
            _dnc(r) if r.do_not_call else "check before calling."
        )
    lines.append((_NOT_CALLABLE_SALIENCE if r.callable_now is not True else _CALLABLE_SALIENCE, text))
    best = r.best_time
    if best.windows:
        parts = [
            f"{w.days} {_hours(w.start, w.end)} ({w.connect_rate:.0%} connect rate, {_count(w.calls, 'call')})"
            for w in best.windows
        ]
        whose = {"person": "", "market": " (their market's calls)", "all_calls": " (all prospects' calls)"}[best.source]
        lines.append((_BEST_TIME_SALIENCE, f"Best reached{whose}: {'; '.join(parts)}."))
    else:
        lines.append((_NO_BEST_TIME_SALIENCE, "Best time to reach: not enough data yet."))
    return lines


def _dnc(r) -> str:
    names = sorted({listing.list for listing in r.dnc_listings})
    return f"do not call (on do-not-call list {', '.join(repr(n) for n in names)})." if names else "do not call."


def _suffix(hour: int) -> str:
    return "am" if hour < 12 else "pm"


def _twelve(hour: int) -> int:
    return hour % 12 or 12


def _hours(start: str, end: str) -> str:
    """'10:00', '11:00' -> '10-11 am'."""
    a, b = int(start[:2]), int(end[:2]) % 24
    if _suffix(a) == _suffix(b):
        return f"{_twelve(a)}-{_twelve(b)} {_suffix(b)}"
    return f"{_twelve(a)} {_suffix(a)}-{_twelve(b)} {_suffix(b)}"


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
    """(salience, line) in reading order. Only the reachability line carries the
    LOCAL_TIME slot: any other text (notes, names) loses that character, so splitting the
    block at it is unambiguous."""
    history, signals_end = _history_lines(ctx)
    history = [(salience, text.replace(LOCAL_TIME, "")) for salience, text in history]
    return history[:signals_end] + reachability_lines(ctx) + history[signals_end:]


def _history_lines(ctx: CallContext) -> tuple[list[tuple[int, str]], int]:
    """The call-history lines, and where the reachability lines go (after the signals)."""
    s, as_of = ctx.summary, ctx.as_of
    person = ctx.person
    who = person.name or "Unnamed contact"
    role = ", ".join(filter(None, [person.title, person.company]))
    lines: list[tuple[int, str]] = [
        (1000, f"Call history for {who}{f' ({role})' if role else ''} as of {as_of.date().isoformat()}.")
    ]
    if s.calls == 0:
        lines.append((999, "No calls on record."))
        return lines, len(lines)
    rate = f" ({s.connect_rate:.0%})" if s.connect_rate is not None else ""
    lines.append(
        (
            990,
            f"{_count(s.calls, 'call')} ({s.outbound} outbound, {s.inbound} inbound), "
            f"{_count(s.connects, 'conversation')}{rate}, {_minutes(s.talk_seconds)} talk time.",
        )
    )
    last = ctx.recent_calls[0] if ctx.recent_calls else None
    outcome = f": {_disposition(last.disposition, last.disposition_text)}" if last else ""
    lines.append((980, f"Last call {when(s.last_call_at, as_of)}{outcome}."))
    lines.append((970, f"Last conversation {when(s.last_connect_at, as_of)}."))
    for signal in ctx.signals:
        if signal.code == "outside_calling_window":
            continue  # the reachability line says it, with the local time
        lines.append((_SEVERITY_SALIENCE.get(signal.severity, 900), f"Signal: {signal.message}"))
    signals_end = len(lines)
    for key in ("30d", "7d"):
        t = ctx.trend[key]
        salience = 900 if key == "30d" else 690 if t.label != "inactive" else 450
        lines.append(
            (
                salience,
                f"Last {key[:-1]} days: {_count(t.calls, 'call')}, {_count(t.connects, 'conversation')}; "
                f"{t.label} (prior {key[:-1]} days: {_count(t.prior_calls, 'call')}, "
                f"{_count(t.prior_connects, 'conversation')}).",
            )
        )
    if s.attempts_to_first_connect is not None:
        lines.append(
            (
                650,
                f"First conversation took {s.attempts_to_first_connect} outbound attempts "
                f"({ctx.velocity.days_first_touch_to_first_connect} days).",
            )
        )
    if s.connects:
        lines.append((640, f"{_count(s.attempts_since_last_connect, 'outbound attempt')} since the last conversation."))
    v = ctx.velocity
    gap = f", median gap {v.median_gap_days} days" if v.median_gap_days is not None else ""
    lines.append((600, f"Pace: {v.calls_per_week_30d} calls/week over 30 days, {v.calls_per_week_90d} over 90{gap}."))
    for rank, record in enumerate(ctx.related[:3]):
        stage = f" at stage {record.stage}" if record.stage else ""
        lines.append(
            (
                620 - rank,
                f"{record.kind.capitalize()} {record.id}{stage}, last discussed {when(record.last_touched_at, as_of)}.",
            )
        )
    for rank, call in enumerate(ctx.recent_calls):
        notes = f' Notes: "{call.notes}"' if call.notes else ""
        lines.append(
            (
                660 - 15 * rank,
                f"- {when(call.started_at, as_of)} {call.direction}, "
                f"{_disposition(call.disposition, call.disposition_text)}, "
                f"{_minutes(call.talk_seconds)} talk.{notes}",
            )
        )
    issues = sum(ctx.data_quality.issues.values())
    if issues:
        detail = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in ctx.data_quality.issues.items())
        lines.append((300, f"Data gaps: {detail}."))
    return lines, signals_end


def render(ctx: CallContext, max_tokens: int, *, local_time_slot: bool = False) -> tuple[str, int]:
    """The block and its estimated token count (never above max_tokens). With
    `local_time_slot`, the person's local time is left as LOCAL_TIME for the reader to
    fill in (memo.py); otherwise it is the local time at ctx.as_of."""
    lines = candidate_lines(ctx)
    kept = list(range(len(lines)))
    costs = [line_tokens(text.replace(LOCAL_TIME, _LOCAL_TIME_COST)) + 1 for _, text in lines]  # + the newline
    total = sum(costs)
    drop_order = sorted(kept, key=lambda i: (lines[i][0], -i))
    for index in drop_order:
        if total <= max_tokens:
            break
        kept.remove(index)
        total -= costs[index]
    text = "\n".join(lines[i][1] for i in kept)
    if not local_time_slot and LOCAL_TIME in text:
        reach = ctx.reachability
        assert reach is not None  # the slot is only ever written on the reachability line
        text = text.replace(LOCAL_TIME, clock(ctx.as_of.astimezone(zone(reach.time_zone))))
    # No token spans a newline, so the block costs its lines plus the newlines between.
    return text, max(total - 1, 0)
