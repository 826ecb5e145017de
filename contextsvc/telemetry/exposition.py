"""What the composition root wires in (`Telemetry`), and the /metrics text of a running
service (`ServiceMetrics`): the event instruments plus the state read at scrape time."""

from __future__ import annotations

from opentelemetry.trace import Tracer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from contextsvc.activation import EventHub
from contextsvc.context import ContextMemo
from contextsvc.pipeline import Writer
from contextsvc.salesforce import SalesforceJob
from contextsvc.segments import Segments
from contextsvc.telemetry.instruments import Instruments
from contextsvc.telemetry.state import DatabaseState, MemoryState

# Without the charset: Litestar adds it to every text/ media type.
CONTENT_TYPE = CONTENT_TYPE_LATEST.split("; charset")[0]


class Telemetry:
    """Instruments (None: metrics off) and a tracer (None: tracing off) for one service."""

    __slots__ = ("instruments", "tracer")

    def __init__(self, instruments: Instruments | None = None, tracer: Tracer | None = None) -> None:
        self.instruments = instruments
        self.tracer = tracer


class ServiceMetrics:
    """The state collectors of one running service on its instruments' registry."""

    def __init__(
        self,
        instruments: Instruments,
        writer: Writer,
        memo: ContextMemo,
        hub: EventHub,
        segments: Segments,
        engine: AsyncEngine,
        salesforce: SalesforceJob | None = None,
    ) -> None:
        self.registry = instruments.registry
        self.database = DatabaseState(engine)
        self.memory = MemoryState(writer, memo, hub, segments, salesforce)
        self.registry.register(self.memory)
        self.registry.register(self.database)

    async def exposition(self) -> bytes:
        """The Prometheus text format, the database's part read now."""
        await self.database.refresh()
        return generate_latest(self.registry)

    def close(self) -> None:
        self.registry.unregister(self.memory)
        self.registry.unregister(self.database)
