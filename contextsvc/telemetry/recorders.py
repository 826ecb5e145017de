"""What turns the service's events into instrument updates: a batch observer for ingest
results, merges and shared lines; a writer commit listener; a webhook attempt listener.

All of them run after the fact (after COMMIT, after a delivery round is recorded), off
the path of any request, and do a handful of counter increments per batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from contextsvc.activation import outbox
from contextsvc.ingest import CallWork
from contextsvc.pipeline import BatchChanges, BatchObserver, CommitReport
from contextsvc.telemetry.instruments import Instruments


class IngestMetrics(BatchObserver):
    """Every committed item by result and source; merges by rule; shared lines detected."""

    def __init__(self, instruments: Instruments) -> None:
        self.instruments = instruments

    def after_commit(self, changes: BatchChanges) -> None:
        by_label: Counter[tuple[str, str | None]] = Counter(
            (result.status, item.call.source if isinstance(item, CallWork) else None)
            for item, result in zip(changes.work, changes.results, strict=True)
        )
        items, sources = self.instruments.ingest_items, self.instruments.sources
        for (status, source), count in by_label.items():
            items.labels(status, sources(source)).inc(count)
        for merge in changes.merges:
            self.instruments.merges.labels(merge.rule).inc()
        if changes.shared_lines:
            self.instruments.shared_lines.inc(len(changes.shared_lines))


def commit_recorder(instruments: Instruments):
    """A Writer commit listener: commit duration by kind, batch size, failures."""
    ingest = instruments.commit_seconds.labels("ingest")
    operation = instruments.commit_seconds.labels("operation")

    def record(report: CommitReport) -> None:
        if report.failed:
            instruments.commit_failures.inc()
            return
        (operation if report.operation else ingest).observe(report.seconds)
        if not report.operation:
            instruments.batch_items.observe(report.items)

    return record


def webhook_recorder(instruments: Instruments, max_attempts: int):
    """A WebhookDispatcher attempt listener: outcomes, and latency of each delivery."""
    delivered = instruments.webhook_attempts.labels("delivered")
    retry = instruments.webhook_attempts.labels("retry")
    dead = instruments.webhook_attempts.labels("dead")

    def record(rows: Sequence[outbox.Due], attempts: Sequence[outbox.Attempt]) -> None:
        for row, attempt in zip(rows, attempts, strict=True):
            if attempt.ok:
                delivered.inc()
                instruments.webhook_latency.observe(max(0, attempt.at_us - row.created_at) / 1e6)
            elif attempt.attempts >= max_attempts:
                dead.inc()
            else:
                retry.inc()

    return record
