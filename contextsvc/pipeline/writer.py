"""The single writer: group commit for every write, acknowledged only after COMMIT.

Requests hand their work to submit(); one task drains whatever has queued up, commits it
in one transaction, then resolves every waiting request. While one batch commits, the
next accumulates, so throughput rises with load without adding latency when idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from opentelemetry import trace
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.errors import DomainError, Unavailable
from contextsvc.identity import IdentityGraph, IndividualRow
from contextsvc.ingest import ItemResult, Work
from contextsvc.pipeline.cache import ProfileCache
from contextsvc.pipeline.maintenance import MaintenanceOutcome
from contextsvc.pipeline.observers import Announcement, BatchObserver
from contextsvc.pipeline.profiles import ProfileWriter
from contextsvc.pipeline.transaction import BatchContext, apply_batch
from contextsvc.store import WriterConnection, WriterLease, connect_writer
from contextsvc.store import tables as t

log = logging.getLogger(__name__)
T = TypeVar("T")


def load_graph(conn, graph_factory: Callable[[], IdentityGraph]) -> IdentityGraph:
    """Synchronous: rebuild the identity graph from the persisted rows."""
    graph = graph_factory()
    individuals = (
        IndividualRow(id, kind, merged_into)
        for id, kind, merged_into in conn.execute(
            select(t.individuals.c.id, t.individuals.c.kind, t.individuals.c.merged_into)
        )
    )
    links = conn.execute(
        select(
            t.identifiers.c.individual_id, t.identifiers.c.kind, t.identifiers.c.value, t.identifiers.c.display
        ).order_by(t.identifiers.c.id)
    )
    shared = [row[0] for row in conn.execute(select(t.shared_lines.c.phone))]
    graph.restore(individuals, links, shared)
    return graph


class CommitReport(msgspec.Struct, frozen=True, gc=False):
    """One writer transaction, as the commit listeners (metrics) hear of it."""

    requests: int  # jobs answered by it: requests, slices of requests, or one operation
    items: int  # work items (calls, rejects, retractions) in it
    seconds: float  # from BEGIN to COMMIT, or to the failure
    failed: bool  # rolled back: nobody in it was acknowledged
    operation: bool  # a maintenance operation (erasure, retention, a webhook record), not ingest


class _Job:
    __slots__ = ("work", "future", "operation", "is_slice", "span")

    def __init__(
        self,
        work: list[Work],
        future: asyncio.Future,
        operation=None,
        is_slice: bool = False,
        span: trace.SpanContext | None = None,
    ) -> None:
        self.work = work
        self.future = future
        self.operation = operation  # a maintenance.Operation, run alone in its own transaction
        self.is_slice = is_slice  # one slice of a large request: at most one per transaction
        self.span = span  # the submitting request's span, when traced: the commit links to it


class Writer:
    def __init__(
        self,
        engine: AsyncEngine,
        graph_factory: Callable[[], IdentityGraph],
        profiles: ProfileWriter,
        cache: ProfileCache,
        *,
        max_batch: int = 5000,
        commit_slice: int = 64,
        commit_window_ms: float = 0.0,
        quarantine_budget_bytes: int = 256 * 1024 * 1024,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: WriterLease | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._engine = engine
        self._graph_factory = graph_factory
        self._max_batch = max_batch
        self._slice = max(1, commit_slice)
        self._window = commit_window_ms / 1000
        self._clock = clock
        self._quarantine_budget = quarantine_budget_bytes
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._held: _Job | None = None  # a run() job met while collecting a batch: goes next
        self._task: asyncio.Task | None = None
        self._conn: WriterConnection | None = None
        self.graph: IdentityGraph = graph_factory()  # replaced by the persisted one at start()
        self._profiles = profiles
        self._observers: tuple[BatchObserver, ...] = ()
        self._version = 0
        self.cache = cache
        self._settled = asyncio.Event()
        self._settled.set()
        self.failed: str | None = None  # set when the writer had to stop taking writes for good
        self.unavailable: str | None = None  # set while the database cannot be reached
        self._lease = lease or WriterLease(engine)
        # The last commit failed and none has succeeded since (disk full, read-only
        # volume, ...): (cause, UTC time of the first failure of the streak).
        self.write_failure: tuple[str, datetime] | None = None
        self.failed_commits = 0  # since start
        self._carried: _Job | None = None  # an exclusive job met while filling a batch
        self._slices: deque[_Job] = deque()  # slices of large requests, waiting their turn
        self._small_seen_at = float("-inf")  # loop time of the last small request
        # Told of every transaction after it ends (metrics); must be cheap and never raise.
        self.commit_listeners: list[Callable[[CommitReport], None]] = []
        # Told what each transaction changed, after its commit and before its requests are
        # answered (other workers' caches: replica/publisher.py); awaited, so keep it short.
        self.announcers: list[Callable[[Announcement], Awaitable[None]]] = []
        self._tracer = tracer  # None: not traced, and nothing on the path pays for tracing

    @property
    def queued(self) -> int:
        """Requests (or slices of one) waiting for a transaction: the writer's backlog."""
        return self._queue.qsize() + len(self._slices) + (self._carried is not None)

    def observe(self, *observers: BatchObserver) -> None:
        """The side branches, in the order they see each batch; before start()."""
        if self._task is not None:
            raise RuntimeError("observers are added before the writer starts")
        self._observers += observers

    async def start(self) -> None:
        """Take the database's writer lease (DatabaseHeld if another process has it), load
        the identity graph and the side branches' state, and start committing."""
        await self._lease.acquire("it owns the writer; ask it through its admin API instead")
        try:
            await self._connect()
        except BaseException:
            await self._lease.release()
            raise
        self._task = asyncio.create_task(self._run(), name="contextsvc-writer")

    async def _connect(self) -> None:
        self._conn = await connect_writer(self._engine)
        await self._reload()

    async def stop(self) -> None:
        """Finish everything already queued, then close."""
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            try:
                await self._conn.close()
            except Exception:  # the database went away under it: nothing left to close
                await self._conn.invalidate()
        await self._lease.release()

    @property
    def running(self) -> bool:
        """Taking writes now: started, not stopped for good, not waiting for the database."""
        return self._task is not None and not self._task.done() and self.failed is None and self.unavailable is None

    def _refuse_if_down(self) -> None:
        if self.failed is not None:
            raise Unavailable(self.failed)
        if self.unavailable is not None:
            raise Unavailable(self.unavailable, details={"retry_after_s": 1})
        if self._task is None or self._task.done():
            raise Unavailable("the writer is not running")

    async def settled(self) -> None:
        """Wait until no batch is between identity resolution and commit."""
        await self._settled.wait()

    async def holds_lease(self) -> bool:
        """Whether this writer still holds the database's writer lease (and has not failed):
        a leader that lost it must stop leading (api/app.py)."""
        return self.failed is None and await self._lease.still_held()

    async def lookup(self, kind: str, value: str) -> list[str]:
        """The surviving individuals an identifier names, as committed: when the batch in
        flight is changing one of them (a merge, a new individual), the answer waits for
        that batch's commit instead of showing a half-applied graph."""
        found = self.graph.lookup(kind, value)
        if self.graph.touched.intersection(found):
            await self.settled()
            found = self.graph.lookup(kind, value)
        return found

    async def submit(self, work: list[Work]) -> list[ItemResult]:
        """Commit the work; answers once all of it is durable.

        While small requests are flowing (one arrived in the last second), a larger request
        is committed in slices, at most one slice per transaction, and requests that arrive
        meanwhile go into the next transaction ahead of the remaining slices: a single call
        behind a 5,000-call batch waited ~0.5 s, now one slice. Alone, a large request
        commits whole: slicing costs throughput (more, smaller transactions). If a slice
        fails, earlier ones stay committed: retrying the request finds them as duplicates."""
        if self._tracer is None:
            return await self._submit(work, None)
        # The request's wait for its commit, as a span; the commit's own span links to it.
        with self._tracer.start_as_current_span("writer.submit", attributes={"contextsvc.items": len(work)}) as span:
            return await self._submit(work, span.get_span_context())

    async def _submit(self, work: list[Work], span: trace.SpanContext | None) -> list[ItemResult]:
        self._refuse_if_down()
        loop = asyncio.get_running_loop()
        now = loop.time()
        if len(work) <= self._slice:
            self._small_seen_at = now
        if len(work) <= self._slice or now - self._small_seen_at > 1.0:
            future = loop.create_future()
            self._queue.put_nowait(_Job(work, future, span=span))
            return await future
        futures: list[asyncio.Future[list[ItemResult]]] = []
        for start in range(0, len(work), self._slice):
            futures.append(loop.create_future())
            self._queue.put_nowait(_Job(work[start : start + self._slice], futures[-1], is_slice=True, span=span))
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        results: list[ItemResult] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):  # the first failed slice fails the request
                raise outcome
            results.extend(outcome)
        return results

    async def run(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(connection)` (synchronous SQLAlchemy Core) alone in a writer transaction,
        serialised with ingest; returns its result once committed. A DomainError from fn
        rolls back and is raised as is; any other failure is Unavailable."""
        return await self.run_exclusive(lambda conn, _context, _now: MaintenanceOutcome(fn(conn), {}, set()))

    async def run_exclusive(self, operation):
        """Run a maintenance operation (erasure, retention) alone in one transaction, in
        queue order with ingest; returns its result once committed."""
        self._refuse_if_down()
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job([], future, operation))
        return await future

    async def _reload(self) -> None:
        assert self._conn is not None
        # Forget everything that may hold uncommitted changes before anything can fail.
        self._profiles.forget()
        self.cache.clear()
        await self._conn.begin()
        self.graph = await self._conn.run(load_graph, self._graph_factory)
        self._version = await self._conn.run(_last_version)
        for observer in self._observers:
            await self._conn.run(observer.load)
        await self._conn.rollback()

    async def _next_batch(self) -> list[_Job]:
        """Whatever has queued (up to max_batch calls) plus at most one slice of a large
        request; an exclusive operation runs alone."""
        if self._carried is not None:
            job, self._carried = self._carried, None
            return [job]
        jobs: list[_Job] = []
        if not self._slices:
            first = await self._queue.get()
            if first.operation is not None:
                return [first]
            (self._slices if first.is_slice else jobs).append(first)
        size = sum(len(job.work) for job in jobs)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._window
        while size < self._max_batch:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if job.operation is not None:
                self._carried = job  # runs alone, as the next batch
                break
            if job.is_slice:
                self._slices.append(job)  # in order: a request's slices commit one by one
            else:
                jobs.append(job)
                size += len(job.work)
        if self._slices:
            jobs.append(self._slices.popleft())
        return jobs

    async def _run(self) -> None:
        while True:
            if self.unavailable is not None:
                await self._recover()
            if self.failed:
                self._fail_queued()
                return
            jobs = await self._next_batch()
            self._settled.clear()
            started = time.perf_counter()
            failed = True
            try:
                await self._traced_commit(jobs)
                failed = False
            except Exception as exc:  # the batch is lost as a whole: nobody in it was acknowledged
                refused = exc if jobs[0].operation is not None and isinstance(exc, DomainError) else None
                failed = refused is None  # a refused operation (e.g. erasing no one) is not a store failure
                if refused is None:
                    self._record_failure(exc, jobs)
                try:
                    assert self._conn is not None  # the commit that failed ran on it
                    await self._conn.rollback()
                    await self._reload()  # the graph saw uncommitted identity changes
                except Exception as reload_exc:
                    # A graph holding rolled-back changes would corrupt identity: take no
                    # writes until it is reloaded from the database (health reports it).
                    self.unavailable = f"the call store is unreachable: {_cause(reload_exc)}"
                # Answered only now, so a client retrying at once meets a clean state.
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(
                            refused or Unavailable("the call store could not commit; retry the request")
                        )
            finally:
                self.graph.touched.clear()
                self._settled.set()
                for _ in jobs:
                    self._queue.task_done()
                self._report(jobs, time.perf_counter() - started, failed)
            if self.unavailable is not None:
                self._fail_queued()  # they would wait for the database: answer 503 now

    async def _recover(self) -> None:
        """Reconnect and reload until the database is back (retrying with backoff), so the
        service heals on its own; writes meanwhile get 503 with a retry hint."""
        delay = 0.1
        log.error("writer waiting for the database: %s", self.unavailable)
        while True:
            try:
                if self._conn is not None:
                    await self._conn.invalidate()
                if not await self._lease.renew():
                    self.failed = "another process took this database's writer lease while it was unreachable"
                    log.error(self.failed)
                    return
                await self._connect()
                self.unavailable = None
                log.warning("writer reconnected to the database; taking writes again")
                return
            except Exception as exc:
                self.unavailable = f"the call store is unreachable: {_cause(exc)}"
                self._fail_queued()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _record_failure(self, exc: Exception, jobs: list[_Job]) -> None:
        """One structured line per failed commit, with the cause; the traceback only at the
        first failure of a streak (every request of a full disk would repeat it)."""
        cause = _cause(exc)
        first = self.write_failure is None
        since = self._clock() if self.write_failure is None else self.write_failure[1]
        self.write_failure = (cause, since)
        self.failed_commits += 1
        log.error(
            "group commit failed: cause=%r requests=%d items=%d failing_since=%s failed_commits=%d",
            cause,
            len(jobs),
            sum(len(job.work) for job in jobs),
            since.isoformat(),
            self.failed_commits,
            exc_info=exc if first else None,
        )

    def _fail_queued(self) -> None:
        reason = self.failed or self.unavailable or "the writer stopped"
        while self._slices:
            self._slices.popleft().future.set_exception(Unavailable(reason))
            self._queue.task_done()
        if self._carried is not None:
            self._carried.future.set_exception(Unavailable(reason))
            self._carried = None
            self._queue.task_done()
        while not self._queue.empty():
            job = self._queue.get_nowait()
            job.future.set_exception(Unavailable(reason))
            self._queue.task_done()

    def _report(self, jobs: list[_Job], seconds: float, failed: bool) -> None:
        if not self.commit_listeners:
            return
        items = sum(len(job.work) for job in jobs)
        report = CommitReport(len(jobs), items, seconds, failed, jobs[0].operation is not None)
        for listener in self.commit_listeners:
            try:
                listener(report)
            except Exception:  # metrics must never take the writer down
                log.exception("commit listener %r failed", listener)

    async def _traced_commit(self, jobs: list[_Job]) -> None:
        if self._tracer is None:
            return await self._commit(jobs)
        spans = [job.span for job in jobs if job.span is not None and job.span.is_valid]
        # A child of the first request it answers (so a lone request's trace shows its
        # commit); every other request it answers is a link.
        parent = trace.set_span_in_context(trace.NonRecordingSpan(spans[0])) if spans else None
        attributes = {"contextsvc.requests": len(jobs), "contextsvc.items": sum(len(job.work) for job in jobs)}
        links = [trace.Link(context) for context in spans[1:]]
        with self._tracer.start_as_current_span("writer.commit", context=parent, links=links, attributes=attributes):
            await self._commit(jobs)

    async def _announce(self, announcement: Announcement) -> None:
        for announcer in self.announcers:
            try:
                await announcer(announcement)
            except Exception:  # the transaction is durable: its answer stands
                log.exception("announcer %r failed", announcer)

    def _after_commit(self, changes) -> None:
        if changes is None:
            return
        for observer in self._observers:
            try:
                observer.after_commit(changes)
            except Exception:  # the batch is durable; an observer's hiccup must not undo the answer
                log.exception("observer %r failed after commit", observer)

    async def _commit(self, jobs: list[_Job]) -> None:
        assert self._conn is not None
        work = [item for job in jobs for item in job.work]
        now = self._clock()
        await self._conn.begin(None if jobs[0].operation is not None else len(work))
        context = BatchContext(self.graph, self._profiles, self._version + 1, self._observers, self._quarantine_budget)
        if jobs[0].operation is not None:
            done = await self._conn.run(jobs[0].operation, context, now)
            await self._conn.commit()
            self.write_failure = None
            self._version = context.version
            if done.reload:  # it rewrote more than it can tell the caches about
                await self._reload()
            else:
                self.cache.publish(done.published, done.removed)
                self._after_commit(done.changes)
            people = frozenset(done.published.keys() | done.removed)
            await self._announce(Announcement(people, forget=True, everything=done.reload))
            if not jobs[0].future.done():
                jobs[0].future.set_result(done.result)
            return
        outcome = await self._conn.run(apply_batch, context, work, now)
        await self._conn.commit()
        self.write_failure = None
        self._version = context.version
        # Published before anyone is answered: a read after an acknowledgement sees it.
        self.cache.publish(outcome.published, outcome.removed)
        self._after_commit(outcome.changes)
        if self.announcers and (outcome.published or outcome.removed or outcome.linked):
            people = frozenset(outcome.published.keys() | outcome.removed)
            await self._announce(Announcement(people, tuple(outcome.linked)))
        results = outcome.results
        offset = 0
        for job in jobs:
            if not job.future.done():  # a cancelled request still had its work committed
                job.future.set_result(results[offset : offset + len(job.work)])
            offset += len(job.work)


def _last_version(conn) -> int:
    return conn.execute(select(func.max(t.profiles.c.version))).scalar() or 0


def _cause(exc: BaseException) -> str:
    """What failed, in one line, without the statement and its parameters (they hold
    callers' data)."""
    inner = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
    reason = inner if isinstance(inner, BaseException) else exc
    lines = str(reason).strip().splitlines()
    return f"{type(reason).__name__}: {lines[0] if lines else ''}"[:300]
