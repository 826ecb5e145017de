"""Side branches (segments, activation, quality) see each batch inside its transaction and
after its commit, and can veto a batch but never un-acknowledge a committed one."""

from __future__ import annotations

import pytest

from contextsvc.errors import Unavailable
from tests.helpers import call_event, work


async def test_an_observer_sees_the_calls_their_owners_and_the_new_profiles(observed):
    writer, recorder = observed
    assert recorder.loads == 1
    results = await writer.submit(
        [work(call_event("c1", who={"email": "a@x.com"})), work(call_event("c2", minutes=5, who={"email": "a@x.com"}))]
    )
    ((changes, calls_in_tx),) = recorder.seen
    assert calls_in_tx == 2  # the calls are already written when the observer runs
    person = results[0].individual_id
    assert set(changes.calls) == {"c1", "c2"} and changes.call_owner == {"c1": person, "c2": person}
    assert changes.profiles[person].calls == 2
    assert [r.status for r in changes.results] == ["accepted", "accepted"]
    assert recorder.committed == [changes]
    duplicate = await writer.submit([work(call_event("c1", who={"email": "a@x.com"}))])
    assert duplicate[0].status == "duplicate" and recorder.seen[-1][0].calls == {}


async def test_an_observer_failing_in_the_transaction_rolls_the_batch_back(observed):
    writer, recorder = observed
    recorder.veto = True
    with pytest.raises(Unavailable):
        await writer.submit([work(call_event("c1", who={"email": "a@x.com"}))])
    assert recorder.committed == [] and recorder.loads == 2  # reloaded after the rollback
    recorder.veto = False
    [again] = await writer.submit([work(call_event("c1", who={"email": "a@x.com"}))])
    assert again.status == "accepted"


async def test_an_observer_failing_after_commit_does_not_undo_the_acknowledgement(observed):
    writer, recorder = observed
    recorder.crash_after = True
    [result] = await writer.submit([work(call_event("c1"))])
    assert result.status == "accepted" and writer.running
    [replay] = await writer.submit([work(call_event("c1"))])
    assert replay.status == "duplicate"
