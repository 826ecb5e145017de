"""Pull: Salesforce records -> mirror -> CallEvents -> the same Writer the API uses.

One pass reads each sObject incrementally (queryAll from the watermark, page by page
through nextRecordsUrl). Each page is filed in ONE transaction with the calls it changes
(marked pending) and the watermark moved to its last record: a crash loses no page and
re-reads at most the one in flight. Pending calls are then derived from the mirror,
oldest first, and submitted through the Writer; they leave the pending list only after
the Writer committed them, so a crash in between replays them, and a replay of a call
already stored is a no-op (same call_id, version and content). No loss, no double count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.ingest import CallWork, IntakeLimits, Normaliser, QuarantineWork, RetractWork, Work, prepare
from contextsvc.pipeline import Writer, content_hash
from contextsvc.salesforce import mirror
from contextsvc.salesforce.calls import CallRecords, call_event, call_quality, version_of
from contextsvc.salesforce.client import RequestLimitExceeded, SalesforceApi
from contextsvc.salesforce.records import SOBJECTS, incremental_soql, mirror_row, resume_from
from contextsvc.timeutil import from_micros, micros

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
SUBMIT_CHUNK = 2000


class SyncReport(msgspec.Struct):
    read: dict[str, int] = {}  # records read per sObject (re-reads included)
    changed: dict[str, int] = {}  # of which new or changed
    pages: int = 0
    calls: dict[str, int] = {}  # writer results: accepted, updated, retracted, duplicate, ...
    unchanged_calls: int = 0  # re-derived, identical to what was submitted: nothing sent
    unmapped_dispositions: dict[str, int] = {}  # free text no alias matched: kept, flagged
    inferred_directions: int = 0  # calls sent without a CallType anywhere: outbound, flagged
    quarantined: list[dict] = []  # calls the writer rejected, with the reason

    def count(self, bucket: dict, key: str, n: int = 1) -> None:
        bucket[key] = bucket.get(key, 0) + n


class SalesforceSync:
    def __init__(
        self,
        api: SalesforceApi,
        engine: AsyncEngine,
        writer: Writer,
        normaliser: Normaliser,
        *,
        lookback_s: int = 120,
        intake: IntakeLimits = IntakeLimits(future_skew_s=None),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        after_page: Callable[[str, int], Awaitable[None]] | None = None,
    ) -> None:
        self.api = api
        self.engine = engine
        self.writer = writer
        self.normaliser = normaliser
        self.lookback_s = lookback_s
        # No bound on future times: a call's version is Salesforce's SystemModstamp.
        self.intake = intake
        self.clock = clock
        self.after_page = after_page  # tests: crash or expire the session between pages

    async def _read(self, fn, *args):
        async with self.engine.connect() as conn:
            return await conn.run_sync(fn, *args)

    async def _write(self, fn, *args):
        async with self.engine.connect() as conn:
            await conn.execution_options(writer=True)  # BEGIN IMMEDIATE on SQLite (engine.py)
            async with conn.begin():
                return await conn.run_sync(fn, *args)

    async def run_once(self) -> SyncReport:
        report = SyncReport()
        await self._write(mirror.refile_if_needed)  # once, after an upgrade that asks for it
        for sobject in SOBJECTS:
            await self._pull(sobject, report)
        # Every pending call, a crashed run's included: submitted once all its records are
        # read, so a first sync does not send Task-only versions that its VoiceCall replaces.
        await self._submit_pending(report)
        return report

    async def _pull(self, sobject: str, report: SyncReport) -> None:
        since = resume_from(await self._read(mirror.watermark, sobject), self.lookback_s)
        page = await asyncio.to_thread(self.api.query_all, incremental_soql(sobject, since))
        while True:
            # The next page is read while this one is filed: against a real org the round
            # trip per page is most of a sync's time. Pages are still filed in order, each
            # with its watermark, so a crash resumes exactly as before.
            next_url = None if page.get("done", True) else page.get("nextRecordsUrl")
            reading = asyncio.ensure_future(asyncio.to_thread(self.api.next_page, next_url)) if next_url else None
            try:
                rows = [mirror_row(sobject, record) for record in page.get("records", [])]
                changed = await self._write(mirror.file_page, sobject, rows, micros(self.clock()))
                report.pages += 1
                report.count(report.read, sobject, len(rows))
                report.count(report.changed, sobject, changed)
                if self.after_page is not None:
                    await self.after_page(sobject, report.pages)
            except BaseException:
                if reading is not None:
                    reading.cancel()
                    await asyncio.gather(reading, return_exceptions=True)
                raise
            if reading is None:
                return
            page = await reading

    async def _submit_pending(self, report: SyncReport) -> None:
        call_ids = await self._read(mirror.pending_calls)
        for start in range(0, len(call_ids), SUBMIT_CHUNK):
            await self._submit(call_ids[start : start + SUBMIT_CHUNK], report)

    async def _submit(self, call_ids: list[str], report: SyncReport) -> None:
        calls: dict[str, CallRecords] = await self._read(mirror.load_calls, call_ids)
        previous = await self._read(mirror.submitted, call_ids)
        work: list[Work] = []
        done: dict[str, tuple[int, bytes] | None] = {}
        for call_id in call_ids:
            records = calls.get(call_id)
            if records is None:  # its Task and VoiceCall were deleted
                if call_id in previous:
                    work.append(RetractWork(call_id))
                    done[call_id] = None
                continue
            event = call_event(records)
            flags = call_quality(records)
            # The flags are part of what was submitted: a Task given a CallType later (same
            # direction, no longer inferred) is a change. Without flags, the digest of before.
            digest = content_hash(_encode(event) + (_encode(flags) if flags else b""))
            before = previous.get(call_id)
            if before is not None and before[1] == digest:
                report.unchanged_calls += 1
                continue
            version = version_of(records, before[0] if before else None, changed=True)
            event["updated_at"] = from_micros(version).isoformat()
            source = records.task or records.voice
            assert source is not None  # load_calls leaves out a call with neither
            item = prepare(
                _encode(event),
                self.normaliser,
                strict=False,
                channel=f"salesforce {source.sobject} {source.record_id}",
                limits=self.intake,
            )
            if flags and isinstance(item, CallWork):
                item = CallWork(msgspec.structs.replace(item.call, quality=item.call.quality + flags))
            work.append(item)
            done[call_id] = (version, digest)
            if isinstance(item, CallWork) and "disposition_unmapped" in item.call.quality:
                report.count(report.unmapped_dispositions, item.call.disposition_text or "")
            if isinstance(item, CallWork) and "direction_inferred" in item.call.quality:
                report.inferred_directions += 1
        results = await self.writer.submit(work) if work else []
        for item, result in zip(work, results, strict=True):  # the writer answers each item
            report.count(report.calls, result.status)
            if isinstance(item, QuarantineWork):
                report.quarantined.append(
                    {
                        "call_id": item.call_id,
                        "channel": item.channel,
                        "reason": item.reason,
                        "quarantine_id": result.quarantine_id,
                    }
                )
            elif result.status in ("stale", "conflict"):
                log.warning("call %s not applied (%s): %s", result.call_id, result.status, result.message)
        await self._write(mirror.settle, done, call_ids)


async def sync_with_backoff(
    sync: SalesforceSync,
    *,
    first_wait_s: float,
    max_wait_s: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> SyncReport:
    """One complete pass. On REQUEST_LIMIT_EXCEEDED, wait (doubling, at most max_wait_s
    in all) and resume from the watermarks: everything filed before the refusal is kept."""
    wait, waited = first_wait_s, 0.0
    while True:
        try:
            return await sync.run_once()
        except RequestLimitExceeded as exc:
            if waited + wait > max_wait_s:
                raise RequestLimitExceeded(f"{exc}; gave up after waiting {waited:.0f}s, run again later") from None
            log.warning("%s; resuming from the watermarks in %.0fs", exc, wait)
            await sleep(wait)
            waited += wait
            wait *= 2
