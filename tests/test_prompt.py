"""The prompt block: within budget, salient facts first, whole facts, readable dates."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from contextsvc.context.assemble import assemble
from contextsvc.context.prompt import candidate_lines, render
from contextsvc.context.tokens import count_tokens
from contextsvc.profile.state import build
from tests.test_profile_state import T0, facts_strategy, fact

DAY = 86_400 * 1_000_000
AS_OF = datetime.fromtimestamp((T0 + 700 * DAY) / 1e6, timezone.utc)


def context_of(facts, recent=10):
    return assemble("ind_00000000000000000001", build(facts), AS_OF, recent)


@settings(max_examples=200, deadline=None)
@given(facts_strategy, st.integers(20, 800))
def test_never_over_budget_and_never_a_partial_fact(facts, budget):
    ctx = context_of(facts)
    text, tokens = render(ctx, budget)
    assert tokens == count_tokens(text) <= budget
    whole = {line for _, line in candidate_lines(ctx)}
    assert all(line in whole for line in text.splitlines() if line)


@settings(max_examples=100, deadline=None)
@given(facts_strategy, st.integers(20, 400))
def test_a_bigger_budget_only_adds_lines_and_drops_the_least_salient_first(facts, budget):
    ctx = context_of(facts)
    small, big = render(ctx, budget)[0].splitlines(), render(ctx, budget + 100)[0].splitlines()
    assert set(small) <= set(big)
    salience = {line: score for score, line in candidate_lines(ctx)}
    if small and len(big) > len(small):
        assert min(salience[line] for line in small) >= max(salience[line] for line in set(big) - set(small))


def test_rendering_is_deterministic():
    facts = [fact(f"c{i}", T0 + i * DAY, "outbound", d) for i, d in enumerate(["no_answer", "interested", "voicemail_left"])]
    assert render(context_of(facts), 120) == render(context_of(list(reversed(facts))), 120)


def test_do_not_call_outranks_everything_but_the_headline():
    facts = [fact(f"c{i}", T0 + 690 * DAY + i, "outbound", "no_answer", notes="long note " * 30) for i in range(20)]
    facts.append(fact("dnc", T0 + 699 * DAY, "outbound", "do_not_call"))
    text, _ = render(context_of(facts), 45)
    lines = text.splitlines()
    assert lines[0].startswith("Call history for")
    assert any("do not call" in line for line in lines)


def test_dates_are_absolute_and_relative():
    facts = [fact("a", T0 + 697 * DAY, "outbound", "interested"), fact("b", T0 + 699 * DAY + DAY // 2, "outbound", "no_answer")]
    text, _ = render(context_of(facts), 500)
    # Relative days are UTC days, as the windows count them: noon yesterday is "yesterday".
    assert re.search(r"Last call \d{4}-\d{2}-\d{2} \(yesterday\): no answer\.", text)
    assert re.search(r"Last conversation \d{4}-\d{2}-\d{2} \(3 days ago\)\.", text)


def test_the_token_estimate_errs_high_on_typical_text():
    # Hand-checked against how BPE tokenizers split these strings: each is at least as
    # many estimated tokens as words and numbers it contains.
    for text, at_least in [("Last call 2026-11-18 (3 days ago): no answer.", 14), ("hello", 1), ("14 calls", 2)]:
        assert count_tokens(text) >= at_least
