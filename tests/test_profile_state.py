"""ProfileState.add() equals build() from scratch, for every arrival order."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from contextsvc.profile import state as profile_state
from contextsvc.profile.facts import CallFact
from contextsvc.profile.state import ProfileState, build
from tests.helpers import FACT_DAY as DAY
from tests.helpers import FACT_T0 as T0
from tests.helpers import fact, facts_strategy


def incrementally(facts: list[CallFact]) -> ProfileState:
    state = build([])
    seen: list[CallFact] = []
    for f in facts:
        seen.append(f)
        if not state.add(f):
            state = build(seen)
    return state


@settings(max_examples=300, deadline=None)
@given(facts_strategy, st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_from_scratch_state(facts, rnd):
    shuffled = list(facts)
    rnd.shuffle(shuffled)
    assert incrementally(shuffled) == build(facts)


def test_attempt_counts_follow_their_definitions():
    calls = [
        fact("a", T0, "outbound", "no_answer"),
        fact("b", T0 + 1, "outbound", "voicemail_left"),
        fact("c", T0 + 2, "inbound", "interested"),
        fact("d", T0 + 3, "outbound", "no_answer"),
        fact("e", T0 + 4, "outbound", "no_answer"),
    ]
    state = build(calls)
    assert state.outbound_to_first_connect == 2  # two dials, then the prospect called in
    assert state.outbound_since_last_connect == 2
    assert state.first_connect == state.last_connect == (T0 + 2, "c")


def test_recent_calls_are_bounded_and_newest_first():
    calls = [fact(f"c{i:03d}", T0 + i, "outbound", "no_answer") for i in range(profile_state.RECENT_KEEP + 30)]
    random.Random(1).shuffle(calls)
    state = incrementally(calls)
    assert len(state.recent) == profile_state.RECENT_KEEP
    assert [r.started_at for r in state.recent] == sorted((r.started_at for r in state.recent), reverse=True)
    assert state.recent[0].call_id == f"c{profile_state.RECENT_KEEP + 29:03d}"


def test_buckets_keep_400_days_back_from_the_newest_call():
    state = build([fact("old", T0, "outbound", "no_answer"), fact("new", T0 + 500 * DAY, "outbound", "no_answer")])
    assert list(state.buckets) == [T0 // DAY + 500]
    assert state.calls == 2  # lifetime counters still count the old call


def test_state_round_trips_through_its_storage_encoding():
    state = build([fact("a", T0, "outbound", "meeting_booked", opportunity_id="006A", opportunity_stage="Prospecting")])
    assert profile_state.decode_state(profile_state.encode_state(state)) == state


@settings(max_examples=100, deadline=None)
@given(st.permutations(list(range(30))))
def test_the_kept_unmapped_texts_do_not_depend_on_arrival_order(order):
    facts = [fact(f"c{i:02d}", T0 + i * DAY, "outbound", None, text=f"free text {i}") for i in range(30)]
    assert incrementally([facts[i] for i in order]) == build(facts)
