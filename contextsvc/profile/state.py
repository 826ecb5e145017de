"""ProfileState: one person's call history, reduced to what a context read needs.

Adding a call is O(1) amortised (a day bucket, a few counters, a bounded recent list).
The state is a pure function of the person's set of calls: build() computes it from
scratch, and add() keeps it equal to build() for every arrival order. The two cases
add() cannot do exactly in place — an out-of-order connect that moves the first or last
connect, and any retraction (a replaced call version, a merge) — are reported so the
caller rebuilds that one person from the call log.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from contextsvc.profile.facts import CallFact
from contextsvc.timeutil import day_of

RECENT_KEEP = 50  # last N calls kept in full
BUCKET_DAYS = 400  # day buckets kept, counted back from the person's newest call
NOTES_KEEP = 280
UNMAPPED_KEEP = 20

Key = tuple[int, str]  # (started_at µs, call_id)


class CallCounts(msgspec.Struct, gc=False):
    """Counts over a set of calls: one day's bucket, or a window summed from buckets."""

    calls: int = 0
    outbound: int = 0
    inbound: int = 0
    connects: int = 0
    talk_seconds: int = 0
    dispositions: dict[str, int] = {}

    def absorb(self, other: CallCounts) -> None:
        self.calls += other.calls
        self.outbound += other.outbound
        self.inbound += other.inbound
        self.connects += other.connects
        self.talk_seconds += other.talk_seconds
        for code, count in other.dispositions.items():
            self.dispositions[code] = self.dispositions.get(code, 0) + count


class DayBucket(CallCounts, array_like=True):
    def add(self, fact: CallFact) -> None:
        self.calls += 1
        self.outbound += fact.direction == "outbound"
        self.inbound += fact.direction == "inbound"
        self.connects += fact.connect
        self.talk_seconds += fact.talk_seconds
        if fact.disposition:
            self.dispositions[fact.disposition] = self.dispositions.get(fact.disposition, 0) + 1


class RecentCall(msgspec.Struct, gc=False, omit_defaults=True):
    call_id: str
    started_at: int
    direction: str
    connect: bool
    disposition: str | None = None
    disposition_text: str | None = None
    talk_seconds: int = 0
    duration_seconds: int | None = None
    rep_id: str | None = None
    notes: str | None = None
    opportunity_id: str | None = None
    opportunity_stage: str | None = None
    recording_url: str | None = None


class RelatedRecord(msgspec.Struct, gc=False):
    id: str
    kind: str  # account | opportunity | case
    last_touched_at: int
    calls: int = 0
    stage: str | None = None
    stage_key: Key | None = None  # the newest call that named a stage


ATTRIBUTES = ("first_name", "last_name", "company", "title", "time_zone")
HOUR_US = 3_600_000_000


class PersonInfo(msgspec.Struct, gc=False, omit_defaults=True):
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    time_zone: str | None = None  # the newest who.time_zone a call named
    attribute_keys: dict[str, Key] = {}  # per attribute, the newest call that carried it
    salesforce_ids: list[str] = []
    emails: list[str] = []
    phones: list[str] = []


# gc=False on this module's structs (and on Call, CallFact and the other per-call structs):
# they are plain acyclic data, and untracked objects keep full garbage collections short —
# the writer and cache hold hundreds of thousands of them.
class ProfileState(msgspec.Struct, gc=False, omit_defaults=True):
    calls: int = 0
    outbound: int = 0
    inbound: int = 0
    internal: int = 0
    connects: int = 0
    talk_seconds: int = 0
    first_call: Key | None = None
    last_call: Key | None = None
    first_connect: Key | None = None
    last_connect: Key | None = None
    last_outbound: Key | None = None
    # outbound calls up to and including the first connect (all outbound while none)
    outbound_to_first_connect: int = 0
    outbound_since_last_connect: int = 0
    dispositions: dict[str, int] = {}
    flag_last: dict[str, Key] = {}  # newest call carrying each disposition flag
    buckets: dict[int, DayBucket] = {}  # UTC day number -> bucket
    # Outbound calls per UTC hour (hours since the epoch) -> [calls, connects], over the same
    # days as `buckets`. Hours, not local hours: the person's time zone may be learnt later,
    # and converting at read time keeps the state a function of the calls alone and exact
    # across DST changes (reachability/best.py).
    outbound_hours: dict[int, list[int]] = {}
    recent: list[RecentCall] = []  # newest first
    related: dict[str, RelatedRecord] = {}
    quality: dict[str, int] = {}
    unmapped: dict[str, int] = {}  # disposition text -> count
    person: PersonInfo = msgspec.field(default_factory=PersonInfo)

    # --- building ------------------------------------------------------------------

    def add(self, fact: CallFact) -> bool:
        """Fold one call in. False: the state is no longer exact; rebuild this person."""
        key = fact.key
        last_call = self.last_call
        if last_call is None or key > last_call:
            newest, last_call = True, key
        else:
            newest = False
        exact = self._attempts(fact, key, newest)
        self.calls += 1
        self.outbound += fact.direction == "outbound"
        self.inbound += fact.direction == "inbound"
        self.internal += fact.direction == "internal"
        self.connects += fact.connect
        self.talk_seconds += fact.talk_seconds
        self.first_call = key if self.first_call is None else min(self.first_call, key)
        self.last_call = last_call
        if fact.connect:
            self.first_connect = key if self.first_connect is None else min(self.first_connect, key)
            self.last_connect = key if self.last_connect is None else max(self.last_connect, key)
        if fact.direction == "outbound":
            self.last_outbound = key if self.last_outbound is None else max(self.last_outbound, key)
        if fact.disposition:
            self.dispositions[fact.disposition] = self.dispositions.get(fact.disposition, 0) + 1
        elif fact.disposition_text:
            text = fact.disposition_text
            if text in self.unmapped or len(self.unmapped) < UNMAPPED_KEEP:
                self.unmapped[text] = self.unmapped.get(text, 0) + 1
            elif not newest:
                exact = False  # the kept texts are the oldest ones; an older new text changes which
        for flag in fact.flags:
            if flag not in self.flag_last or key > self.flag_last[flag]:
                self.flag_last[flag] = key
        for issue in fact.quality:
            self.quality[issue] = self.quality.get(issue, 0) + 1
        self._bucket(fact, last_call)
        self._recent(fact, key)
        self._related(fact, key)
        self._person(fact, key)
        return exact

    def _attempts(self, fact: CallFact, key: Key, newest: bool) -> bool:
        outbound = fact.direction == "outbound"
        if newest:
            if outbound:
                if self.first_connect is None:
                    self.outbound_to_first_connect += 1
                self.outbound_since_last_connect += 1
            if fact.connect:
                self.outbound_since_last_connect = 0
            return True
        if fact.connect and (
            self.first_connect is None
            or self.last_connect is None  # set together with first_connect
            or key < self.first_connect
            or key > self.last_connect
        ):
            return False  # the first or last connect moves: counts before/after it must be redone
        if outbound:
            if self.first_connect is None or key < self.first_connect:
                self.outbound_to_first_connect += 1
            if self.last_connect is None or key > self.last_connect:
                self.outbound_since_last_connect += 1
        return True

    def _bucket(self, fact: CallFact, last_call: Key) -> None:
        horizon = day_of(last_call[0]) - BUCKET_DAYS  # days at or before it are dropped
        if fact.day <= horizon:
            return  # older than the retained window: lifetime counters still count it
        bucket = self.buckets.get(fact.day)
        if bucket is None:
            bucket = self.buckets[fact.day] = DayBucket(dispositions={})
            # A new day may have moved the horizon; the check is per new day, not per call.
            for day in [d for d in self.buckets if d <= horizon]:
                del self.buckets[day]
            last_dropped_hour = (horizon + 1) * 24 - 1
            for hour in [h for h in self.outbound_hours if h <= last_dropped_hour]:
                del self.outbound_hours[hour]
        bucket.add(fact)
        if fact.direction == "outbound":
            counts = self.outbound_hours.get(fact.started_at // HOUR_US)
            if counts is None:
                counts = self.outbound_hours[fact.started_at // HOUR_US] = [0, 0]
            counts[0] += 1
            counts[1] += fact.connect

    def _recent(self, fact: CallFact, key: Key) -> None:
        if len(self.recent) >= RECENT_KEEP and key < (self.recent[-1].started_at, self.recent[-1].call_id):
            return
        notes = fact.notes
        if notes and len(notes) > NOTES_KEEP:
            notes = notes[: NOTES_KEEP - 1].rstrip() + "…"
        entry = RecentCall(
            fact.call_id,
            fact.started_at,
            fact.direction,
            fact.connect,
            fact.disposition,
            None if fact.disposition else fact.disposition_text,
            fact.talk_seconds,
            fact.duration_seconds,
            fact.rep_id,
            notes,
            fact.opportunity_id,
            fact.opportunity_stage,
            fact.recording_url,
        )
        position = 0
        while position < len(self.recent) and (self.recent[position].started_at, self.recent[position].call_id) > key:
            position += 1
        self.recent.insert(position, entry)
        del self.recent[RECENT_KEEP:]

    def _related(self, fact: CallFact, key: Key) -> None:
        for kind, record_id, stage in (
            ("account", fact.account_id, None),
            ("opportunity", fact.opportunity_id, fact.opportunity_stage),
            ("case", fact.case_id, None),
        ):
            if not record_id:
                continue
            record = self.related.get(record_id)
            if record is None:
                record = self.related[record_id] = RelatedRecord(record_id, kind, fact.started_at)
            record.calls += 1
            record.last_touched_at = max(record.last_touched_at, fact.started_at)
            if stage and (record.stage_key is None or key > record.stage_key):
                record.stage, record.stage_key = stage, key

    def _person(self, fact: CallFact, key: Key) -> None:
        person = self.person
        for values, value in (
            (person.salesforce_ids, fact.salesforce_id),
            (person.emails, fact.email),
            (person.phones, fact.phone),
        ):
            if value and value not in values:
                values.append(value)
                values.sort()
        for name in ATTRIBUTES:
            value = getattr(fact, name)
            if value and (name not in person.attribute_keys or key > person.attribute_keys[name]):
                setattr(person, name, value)
                person.attribute_keys[name] = key


def build(facts: Iterable[CallFact]) -> ProfileState:
    """The state of a set of calls, from scratch (oldest first, so every add is exact)."""
    state = ProfileState(person=PersonInfo(), outbound_hours={})
    for fact in sorted(facts, key=lambda f: f.key):
        state.add(fact)
    return state


encode_state = msgspec.msgpack.Encoder().encode
decode_state = msgspec.msgpack.Decoder(ProfileState).decode
