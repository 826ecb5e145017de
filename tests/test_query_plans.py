"""Every hot query is served by an index on both backends (EXPLAIN, not a stopwatch).

PostgreSQL's planner prefers a sequential scan on a table this small whatever indexes
exist, so its plans are taken with sequential scans discouraged: the question is whether
an index *can* serve the query, as it must once the table is large."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

import contextsvc.service  # noqa: F401  (registers every package's tables)
from contextsvc.activation import tables as activation
from contextsvc.quality import tables as quality
from contextsvc.salesforce import tables as salesforce
from contextsvc.segments import tables as segments
from contextsvc.service import open_database
from contextsvc.settings import Settings
from contextsvc.store import tables as t

c, i, p = t.calls.c, t.identifiers.c, t.profiles.c
sf = salesforce.salesforce_records.c
HOT = {
    # ingest: versions of the batch's calls; replaced versions
    "calls by id": (select(c.call_id, c.version, c.content_hash).where(c.call_id.in_(["a", "b"])), "calls"),
    # a person's calls: profile rebuilds, looks back in time, erasure
    "calls of a person": (
        select(c.body).where(c.individual_id == "ind_1", c.started_at <= 10),
        "ix_calls_individual_id",
    ),
    "profile row": (select(p.version, p.state).where(p.individual_id == "ind_1"), "profiles"),
    # find_person: identifier prefix ranges
    "identifier prefix": (
        select(i.individual_id)
        .where(i.kind == "phone", i.value >= "+1415", i.value < "+1415\uffff")
        .order_by(i.value)
        .limit(50),
        "ix_identifiers_lookup",
    ),
    "merged into": (
        select(t.individuals.c.id).where(t.individuals.c.merged_into == "ind_1"),
        "ix_individuals_merged_into",
    ),
    "segment members page": (
        select(segments.segment_members.c.member_id)
        .where(segments.segment_members.c.segment_id == "seg_1", segments.segment_members.c.member_id > "m")
        .order_by(segments.segment_members.c.member_id)
        .limit(100),
        "segment_members",
    ),
    "outbox due": (
        select(activation.outbox.c.id)
        .where(activation.outbox.c.status == "pending", activation.outbox.c.next_attempt_at <= 10)
        .order_by(activation.outbox.c.next_attempt_at)
        .limit(50),
        "ix_outbox_due",
    ),
    "quarantine page": (
        select(t.quarantine.c.id).where(t.quarantine.c.id > 5).order_by(t.quarantine.c.id).limit(100),
        "quarantine",
    ),
    "quality report range": (
        select(func.sum(quality.quality_counts.c.calls)).where(
            quality.quality_counts.c.dimension == "rep", quality.quality_counts.c.day.between(1, 30)
        ),
        "quality_counts",
    ),
    "salesforce records of a call": (
        select(sf.body).where(sf.call_id == "x"),
        "ix_salesforce_records_call_id_sobject",
    ),
    # The mirror's look-ups, filing a page and loading its calls: each also names the
    # sObject, which must not turn them into a walk of the primary key's sObject prefix.
    **{
        f"salesforce {sobjects} by {column.name}": (
            select(sf.record_id, sf.call_id).where(
                sf.is_deleted == 0, sf.sobject.in_(sobjects.split("|")), column.in_(["a", "b"])
            ),
            f"ix_salesforce_records_{column.name}_sobject"
            if column.name == "call_id"
            else f"ix_salesforce_records_sobject_{column.name}",
        )
        for sobjects, column in (
            ("Task|VoiceCall", sf.call_id),
            ("Task|VoiceCall", sf.link_key),
            ("VoiceCall", sf.activity_id),
            ("Task|VoiceCall", sf.who_id),
            ("Lead", sf.who_id),
            ("Contact", sf.what_id),
            ("Task|VoiceCall", sf.what_id),
        )
    },
}


def _literal(conn, statement) -> str:
    return str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def _mirror_with_statistics(conn) -> None:
    """PostgreSQL: an org's worth of mirrored records, analysed. On an empty table every
    index naming the sObject first costs the same to the planner, which then picks any
    (the who_id index for a what_id look-up); with statistics it picks the one that serves."""
    rows = [
        {
            "sobject": sobject,
            "record_id": f"{sobject[:3]}{n:015d}",
            "system_modstamp": n,
            "is_deleted": 0,
            "call_id": f"call-{n}",
            "link_key": f"key-{n}",
            "activity_id": f"00T{n:015d}",
            "who_id": f"003{n:015d}",
            "what_id": f"001{n:015d}",
            "body": b"{}",
        }
        for sobject in ("Task", "VoiceCall", "Contact", "Lead", "Account")
        for n in range(2000)
    ]
    conn.execute(salesforce.salesforce_records.insert(), rows)
    conn.execute(text("ANALYZE salesforce_records"))


def _plan(conn, statement) -> str:
    sql = _literal(conn, statement)
    if conn.dialect.name == "sqlite":
        return "\n".join(str(row[-1]) for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    if "salesforce_records" in sql:
        _mirror_with_statistics(conn)
    conn.execute(text("SET enable_seqscan = off"))
    return "\n".join(row[0] for row in conn.execute(text("EXPLAIN " + sql)))


@pytest.mark.parametrize("name", list(HOT))
async def test_a_hot_query_uses_an_index(database_url, name):
    statement, index = HOT[name]
    async with open_database(Settings.from_env({}, database_url=database_url)) as engine, engine.connect() as conn:
        plan = await conn.run_sync(_plan, statement)
        backend = engine.dialect.name
    if backend == "sqlite":  # SEARCH through an index or the primary key; SCAN would read the table
        assert plan.startswith("SEARCH") and "SCAN" not in plan, plan
        assert index.startswith("ix_") <= (index in plan or "COVERING INDEX sqlite_autoindex" in plan), plan
    else:
        assert "Seq Scan" not in plan, plan
        assert "Index" in plan and (index in plan or f"{index}_pkey" in plan), plan
