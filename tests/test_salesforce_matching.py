"""One call per real call, whatever combination of Task and VoiceCall an org holds — and the
mirror, filing records page by page in any order, always agrees with grouping the whole org."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from contextsvc.salesforce import call_groups, mirror
from contextsvc.salesforce import tables as t
from contextsvc.salesforce.matching import CallLink, assign_calls
from contextsvc.salesforce.records import mirror_row
from contextsvc.store.tables import metadata
from tests.helpers import examples

T1, T2, T3 = "00T000000000001AAA", "00T000000000002AAA", "00T000000000003AAA"
V1, V2, V3 = "0LQ000000000001AAA", "0LQ000000000002AAA", "0LQ000000000003AAA"


def task(record_id: str, key: str | None = None) -> CallLink:
    return CallLink("Task", record_id, key)


def voice(record_id: str, key: str | None = None, activity: str | None = None) -> CallLink:
    return CallLink("VoiceCall", record_id, key, activity)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        pytest.param([voice(V1, "K1")], {V1: "K1"}, id="VoiceCall only"),
        pytest.param([voice(V1)], {V1: f"sf-{V1}"}, id="VoiceCall without a vendor key"),
        pytest.param([task(T1, "K1")], {T1: "K1"}, id="Task only, CTI key"),
        pytest.param([task(T1)], {T1: f"sf-{T1}"}, id="Task logged by hand"),
        pytest.param([task(T1, "K1"), voice(V1, "K1", T1)], {T1: "K1", V1: "K1"}, id="both, same key, ActivityId"),
        pytest.param([task(T1), voice(V1, "K1", T1)], {T1: "K1", V1: "K1"}, id="Task without CallObject"),
        pytest.param([task(T1, "CTI-7"), voice(V1, "K1", T1)], {T1: "K1", V1: "K1"}, id="different keys"),
        pytest.param([task(T1, "K1"), voice(V1, "K1")], {T1: "K1", V1: "K1"}, id="linked by key only"),
        pytest.param([task(T1, "K1"), voice(V1)], {T1: "K1", V1: f"sf-{V1}"}, id="unrelated"),
        pytest.param(
            [task(T1, "Call Center"), task(T2, "Call Center"), voice(V1, "Call Center")],
            {T1: f"sf-{T1}", T2: f"sf-{T2}", V1: f"sf-{V1}"},
            id="a CallObject shared by several Tasks is nobody's key",
        ),
        pytest.param(
            [task(T1, "K1"), voice(V1, "K2", T1), voice(V2, "K3", T1)],
            {T1: "K2", V1: "K2", V2: "K3"},
            id="two legs name one Task: the lowest Id is its VoiceCall",
        ),
        pytest.param(
            [task(T1, "K1"), voice(V1, "K2", T1), voice(V2, "K1")],
            {T1: "K2", V1: "K2", V2: f"sf-{V2}"},
            id="ActivityId first: a Task with a VoiceCall takes no second one by key",
        ),
        pytest.param(
            [task(T1, "K1"), voice(V1, "K1", "00T00000000000XAAA")],
            {T1: "K1", V1: "K1"},
            id="ActivityId naming no call Task falls back to the key",
        ),
    ],
)
def test_every_combination_is_one_call_per_real_call(records, expected):
    assert assign_calls(records) == expected
    assert assign_calls(reversed(records)) == expected  # order never matters


# --- the mirror, filing in any order, equals grouping the whole org --------------------

KEYS = st.sampled_from([None, "", "K1", "K2", "Call Center"])  # few values: many collisions
TASK_IDS = [f"00T0000000000{i:02d}AAA" for i in range(3)]
VOICE_IDS = [f"0LQ0000000000{i:02d}AAA" for i in range(3)]
T0 = datetime(2026, 9, 1, tzinfo=UTC)


def _stamp(n: int) -> str:
    return (T0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _record(sobject: str, record_id: str, key, activity, deleted: bool, n: int) -> dict:
    fields = {"Id": record_id, "IsDeleted": deleted, "SystemModstamp": _stamp(n)}
    if sobject == "Task":
        return {**fields, "CallObject": key, "CreatedDate": _stamp(0), "WhoId": None}
    return {**fields, "VendorCallKey": key, "ActivityId": activity, "CallStartDateTime": _stamp(0)}


versions = st.lists(
    st.one_of(
        st.tuples(st.just("Task"), st.sampled_from(TASK_IDS), KEYS, st.none(), st.booleans()),
        st.tuples(
            st.just("VoiceCall"), st.sampled_from(VOICE_IDS), KEYS, st.sampled_from([None, *TASK_IDS]), st.booleans()
        ),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(versions=versions, page=st.integers(1, 5))
def test_the_mirror_regroups_exactly_whatever_order_records_arrive_in(versions, page):
    file_in_pages(versions, page)


def file_in_pages(versions: list[tuple], page: int) -> None:
    """File the record versions `page` at a time; after each page the stored calls are
    those of grouping every live record, and every call that changed is pending."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    latest: dict[str, tuple] = {}
    with engine.begin() as conn:
        for start in range(0, len(versions), page):
            by_sobject: dict[str, list] = {}
            for n, (sobject, record_id, key, activity, deleted) in enumerate(versions[start : start + page], start + 1):
                by_sobject.setdefault(sobject, []).append(
                    mirror_row(sobject, _record(sobject, record_id, key, activity, deleted, n))
                )
            before = _calls(conn)
            for sobject, rows in by_sobject.items():
                for row in rows:
                    latest[row.record_id] = (sobject, row)
                mirror.file_page(conn, sobject, rows, 0)
            live = [row for _, row in latest.values() if not row.is_deleted]
            expected = assign_calls(row.link() for row in live)
            stored = {rid: call for rid, call, deleted in _assignments(conn) if not deleted}
            assert stored == expected
            # Every call that gained, lost or changed a record is waiting to be re-derived.
            after = _calls(conn)
            pending = set(mirror.pending_calls(conn))
            changed = {c for c in set(before) | set(after) if before.get(c) != after.get(c)}
            assert changed <= pending
            conn.execute(t.salesforce_pending.delete())


def _assignments(conn):
    r = t.salesforce_records.c
    return conn.execute(select(r.record_id, r.call_id, r.is_deleted).where(r.sobject.in_(call_groups.CALL_SOBJECTS)))


def _calls(conn) -> dict[str, frozenset]:
    """call id -> its live records with their stamps (a stamp moves when a record changes)."""
    r = t.salesforce_records.c
    calls: dict[str, set] = {}
    for record_id, call_id, stamp in conn.execute(
        select(r.record_id, r.call_id, r.system_modstamp).where(
            r.sobject.in_(call_groups.CALL_SOBJECTS), r.is_deleted == 0
        )
    ):
        calls.setdefault(call_id, set()).add((record_id, stamp))
    return {c: frozenset(v) for c, v in calls.items()}


@pytest.mark.parametrize(
    "versions",
    [
        pytest.param(
            [("Task", T1, None, None, False), ("VoiceCall", V1, "K1", T1, False), ("VoiceCall", V1, "K1", T2, False)],
            id="a VoiceCall moving to another Task leaves the old one its own call",
        ),
        pytest.param(
            [
                ("Task", T1, None, None, False),
                ("VoiceCall", V1, "K1", T1, False),
                ("VoiceCall", V2, "K1", T1, False),
                ("Task", T1, None, None, True),
            ],
            id="a deleted Task frees its legs",
        ),
        pytest.param(
            [("Task", T1, "K1", None, False), ("Task", T2, "K1", None, False), ("Task", T2, "K2", None, False)],
            id="a key no longer shared becomes the call's id again",
        ),
    ],
)
def test_the_mirror_regroups_the_records_a_change_leaves_behind(versions):
    file_in_pages(versions, page=1)
