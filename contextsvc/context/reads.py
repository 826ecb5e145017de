"""The context read every surface shares (GET /v1/context, the agent action, MCP tools):
lookup -> individual -> profile state -> memoised context, as the caller may see it.

Identity comes from the writer's graph (Writer.lookup waits for a batch in flight that is
changing the person) or, on a follower, the committed rows; the profile from a cache or
one row; the context from the memo when the same (person, version, day, shape,
disclosure) was served.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol

from opentelemetry.trace import Tracer

from contextsvc.context.assemble import CallContext, SegmentRef, assemble_with_window
from contextsvc.context.memo import ContextMemo, MemoKey, RenderedContext
from contextsvc.context.privacy import redact
from contextsvc.context.prompt import render
from contextsvc.errors import Conflict, NotFound
from contextsvc.identity import LookupKey
from contextsvc.pipeline import ProfileReads
from contextsvc.privacy import Disclosure
from contextsvc.profile import ProfileState
from contextsvc.reachability import NO_INPUTS, Inputs
from contextsvc.timeutil import day_of, micros


class IdentitySource(Protocol):
    """Who an identifier names: the writer's graph (Writer.lookup), or on a worker that does
    not hold the writer the committed rows (replica/identity.py)."""

    async def lookup(self, kind: str, value: str) -> list[str]: ...


class SegmentLabels(Protocol):
    """The segment definitions a context is labelled with (segments.SegmentView)."""

    @property
    def version(self) -> int: ...

    def labels(self, context: CallContext) -> list[SegmentRef]: ...


class SegmentSource(Protocol):
    """Whatever holds the current definitions, replaced as a whole after each commit."""

    @property
    def view(self) -> SegmentLabels: ...


class ReachabilitySource(Protocol):
    """Whatever holds the reachability inputs (DNC lists, markets) for a UTC day."""

    def for_day(self, day: int) -> Inputs: ...


class ContextReads:
    __slots__ = ("identity", "profiles", "memo", "segments", "reachability", "tracer")

    def __init__(
        self,
        identity: IdentitySource,
        profiles: ProfileReads,
        memo: ContextMemo,
        segments: SegmentSource | None,
        reachability: ReachabilitySource | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.identity, self.profiles, self.memo, self.segments = identity, profiles, memo, segments
        self.reachability = reachability
        self.tracer = tracer  # None: not traced (a memo hit never starts a span either way)

    async def resolve(self, key: LookupKey) -> str:
        """The one individual a lookup names; NotFound, or Conflict when several share it."""
        found = await self.identity.lookup(key.kind, key.value)
        label = key.kind.replace("_", " ")
        if not found:
            raise NotFound(
                f"no one is known by {label} {key.value}", details={"lookup": {"kind": key.kind, "value": key.value}}
            )
        if len(found) > 1:
            raise Conflict(
                f"{label} {key.value} is shared by {len(found)} people; look one of them up by individual id",
                code="ambiguous_lookup",
                details={"lookup": {"kind": key.kind, "value": key.value}, "candidates": found},
            )
        return found[0]

    async def read(
        self, key: LookupKey, as_of: datetime, recent: int, max_tokens: int, disclosure: Disclosure
    ) -> RenderedContext:
        return await self.context(await self.resolve(key), as_of, recent, max_tokens, disclosure)

    async def context(
        self, individual_id: str, as_of: datetime, recent: int, max_tokens: int, disclosure: Disclosure
    ) -> RenderedContext:
        """The context served for (individual, as_of, recent, max_tokens) as `disclosure`
        lets the caller see it, prompt included; `.json(as_of)` gives the response body.
        It lists the person's segments at as_of: a function of the context itself and the
        segment definitions, whose version is part of the memo key."""
        version, state = await self.profiles.state(individual_id)
        as_of_us = micros(as_of)
        labels = self.segments.view if self.segments is not None else None
        # Market figures: the snapshot of today's (wall-clock) UTC day, whatever as_of.
        reach = self.reachability.for_day(int(time.time()) // 86_400) if self.reachability is not None else NO_INPUTS
        if state.last_call is not None and state.last_call[0] > as_of_us:
            history = await self.profiles.history(individual_id, as_of_us)
            return self._assemble(individual_id, history, as_of, recent, max_tokens, disclosure, labels, reach)
        key: MemoKey = (
            individual_id,
            version,
            day_of(as_of_us),
            recent,
            max_tokens,
            disclosure,
            labels.version if labels else 0,
            reach.version,
        )
        rendered = self.memo.get(key)
        if rendered is None or not rendered.holds_at(as_of_us):  # the calling window it was made in
            rendered = self._assemble(individual_id, state, as_of, recent, max_tokens, disclosure, labels, reach)
            self.memo.put(key, rendered)
        return rendered

    def _assemble(
        self,
        individual_id: str,
        state: ProfileState,
        as_of: datetime,
        recent: int,
        max_tokens: int,
        disclosure: Disclosure,
        labels: SegmentLabels | None,
        reach: Inputs,
    ) -> RenderedContext:
        if self.tracer is None:
            return _rendered(individual_id, state, as_of, recent, max_tokens, disclosure, labels, reach)
        # Attributes say how big the work was, never whose context it is.
        attributes = {"contextsvc.calls": state.calls, "contextsvc.day_buckets": len(state.buckets)}
        with self.tracer.start_as_current_span("context.assemble", attributes=attributes):
            return _rendered(individual_id, state, as_of, recent, max_tokens, disclosure, labels, reach)

    def forget(self, individual_ids: set[str]) -> None:
        """Erased people, or calls purged: drop what the memo holds of them."""
        self.memo.forget(individual_ids)


def _rendered(
    individual_id: str,
    state: ProfileState,
    as_of: datetime,
    recent: int,
    max_tokens: int,
    disclosure: Disclosure,
    segments: SegmentLabels | None,
    reach: Inputs,
) -> RenderedContext:
    context, window = assemble_with_window(individual_id, state, as_of, recent, reach)
    if segments is not None:  # membership is a function of the whole context, before masking
        context.segments = segments.labels(context)
    context = redact(context, disclosure)
    context.prompt, context.prompt_tokens = render(context, max_tokens, local_time_slot=True)
    return RenderedContext.of(context, (window.valid_from_us, window.valid_until_us))
