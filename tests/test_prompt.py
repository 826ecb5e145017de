"""The prompt block: within budget, salient facts first, whole facts, readable dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contextsvc.context.assemble import assemble
from contextsvc.context.prompt import candidate_lines, render
from contextsvc.context.tokens import count_tokens
from contextsvc.profile.state import build
from tests.helpers import FACT_T0 as T0
from tests.helpers import fact, facts_strategy

DAY = 86_400 * 1_000_000
AS_OF = datetime.fromtimestamp((T0 + 700 * DAY) / 1e6, UTC)


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
    facts = [
        fact(f"c{i}", T0 + i * DAY, "outbound", d) for i, d in enumerate(["no_answer", "interested", "voicemail_left"])
    ]
    assert render(context_of(facts), 120) == render(context_of(list(reversed(facts))), 120)


def test_do_not_call_outranks_everything_but_the_headline():
    facts = [fact(f"c{i}", T0 + 690 * DAY + i, "outbound", "no_answer", notes="long note " * 30) for i in range(20)]
    facts.append(fact("dnc", T0 + 699 * DAY, "outbound", "do_not_call"))
    text, _ = render(context_of(facts), 45)
    lines = text.splitlines()
    assert lines[0].startswith("Call history for")
    assert any("do not call" in line for line in lines)


def test_dates_are_absolute_and_relative():
    facts = [
        fact("a", T0 + 697 * DAY, "outbound", "interested"),
        fact("b", T0 + 699 * DAY + DAY // 2, "outbound", "no_answer"),
    ]
    text, _ = render(context_of(facts), 500)
    # Relative days are UTC days, as the windows count them: noon yesterday is "yesterday".
    assert re.search(r"Last call \d{4}-\d{2}-\d{2} \(yesterday\): no answer\.", text)
    assert re.search(r"Last conversation \d{4}-\d{2}-\d{2} \(3 days ago\)\.", text)


# (text, cl100k_base tokens, o200k_base tokens): prompt lines as the service renders them,
# and the identifiers, numbers, names and spacing they can carry. The counts were made
# outside this test process with the js-tiktoken 1.0.21 npm package (OpenAI's BPE ranks
# bundled in the package), because tiktoken downloads its ranks at run time:
#   npm install js-tiktoken@1.0.21 && node -e 'const {getEncoding} = require("js-tiktoken");
#   console.log(getEncoding("cl100k_base").encode(TEXT).length)'
REFERENCE_COUNTS = [
    ("Call history for José Müller-Lüdenscheidt (VP Sales, Acme Öl & Gas GmbH) as of 2024-10-29.", 32, 32),
    ("40 calls (17 outbound, 23 inbound), 19 conversations (48%), 19m00s talk time.", 24, 24),
    ("Last call 2024-10-23 (6 days ago): no answer.", 17, 17),
    ("Last conversation 2024-10-21 (8 days ago).", 14, 14),
    ("Signal: High intent: positive outcome 8 days ago.", 12, 12),
    ("Last 30 days: 40 calls, 19 conversations; new (prior 30 days: 0 calls, 0 conversations).", 28, 28),
    ("Last 7 days: 2 calls, 0 conversations; falling (prior 7 days: 14 calls, 8 conversations).", 28, 28),
    ("First conversation took 1 outbound attempts (0.5 days).", 13, 13),
    ("0 outbound attempts since the last conversation.", 8, 8),
    ("Pace: 9.33 calls/week over 30 days, 3.11 over 90, median gap 0.5 days.", 31, 30),
    ("Opportunity 0065e00000OPP01 at stage Proposal/Price Quote, last discussed 2024-10-23 (6 days ago).", 32, 31),
    (
        "- 2024-10-23 (6 days ago) inbound, no answer, 0m00s talk. "
        'Notes: "Left VM, call back Tue 3pm re: renewal #4471"',
        44,
        44,
    ),
    ("Data gaps: disposition missing 10.", 8, 8),
    ("Call +1 (415) 555-0142 ext. 204 or jose.mueller@acme-oel.de before 2026-11-18T15:30:00Z.", 41, 41),
    ("https://recordings.example.com/calls/2026/11/18/CA9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c.mp3", 51, 51),
    ("Spoke with Zoë Ørsted (株式会社テスト) — wants pricing in €; 12,500 seats × 36 months.", 33, 29),
    ("ind_7f3a9c2e1b5d4f6a8c0e", 22, 22),
    ("0035e00000BBBBBAAA 00Q5e00000DDDDDAAA", 18, 19),
    ("hello", 1, 1),
    ("14 calls", 2, 2),
    ("Last call 2026-11-18 (3 days ago): no answer.", 17, 17),
    ("   indented    spaces   and\ttabs  ", 10, 10),
    ("!!!???...---***", 5, 5),
]


@pytest.mark.parametrize(("text", "cl100k", "o200k"), REFERENCE_COUNTS)
def test_the_token_estimate_is_an_upper_bound_of_real_tokenizers(text, cl100k, o200k):
    assert count_tokens(text) >= max(cl100k, o200k)


def test_the_token_estimate_wastes_little_of_a_budget():
    estimated = sum(count_tokens(text) for text, _, _ in REFERENCE_COUNTS)
    real = sum(max(cl100k, o200k) for _, cl100k, o200k in REFERENCE_COUNTS)
    assert estimated <= 1.4 * real  # an estimator charging every character would be ~3x
