"""Call traffic: outbound cadences and an inbound queue, day by day, in time order.

Each simulated call yields the CallEvent body the API accepts and its ground truth (the
true person behind it, and whether the call carries enough evidence to identify them).
Everything is drawn from one seeded random.Random, so a scenario and seed give the same
calls byte for byte.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate

import msgspec

from contextsvc.timeutil import zone
from simulator.population import Person, Record, World, _phone, prefixes_of, salesforce_id, written
from simulator.scenario import Scenario

# Outcomes that end a cadence (SmartReach: positive and negative outcomes end it).
CADENCE_ENDS = {"meeting_booked", "interested", "send_info", "not_interested", "do_not_call", "referral", "hung_up"}
FREE_TEXT = {
    "no_answer": "No Answer",
    "voicemail_left": "Left VM",
    "busy": "Busy",
    "not_interested": "Not Interested",
    "call_back_later": "Call back later",
    "meeting_booked": "Meeting Set",
}
STAGES = ["Qualification", "Needs Analysis", "Value Proposition", "Proposal/Price Quote", "Negotiation/Review"]


class Truth(msgspec.Struct, omit_defaults=True, tag="call", tag_field="type"):
    call_id: str
    person: str | None  # the true person, None for an internal call
    attributable: bool  # the event carries evidence that identifies the person
    outcome: str = ""  # what really happened (picklist code), logged or not
    record_id: str | None = None  # the CRM record the call was linked to
    degraded: bool = False  # logged by the degrading rep after the degradation began
    p_connect: float | None = None  # outbound: the chance this dial had of reaching them


class SimCall(msgspec.Struct):
    event: dict
    truth: Truth


class _Cadence:
    __slots__ = ("person", "attempts", "due", "first_contact")

    def __init__(self, person: int, due: datetime, first_contact: float | None = None) -> None:
        self.person = person
        self.attempts = 0
        self.due: datetime | None = due  # None: the cadence has ended
        self.first_contact = first_contact  # web leads: chance the first call reaches them


# Rep response delay buckets for web leads, in seconds (docs/sources.md: S11, S22).
DELAY_BUCKETS = {
    "within_5_min": (30, 300),
    "within_30_min": (300, 1800),
    "within_60_min": (1800, 3600),
    "within_24_h": (3600, 86_400),
    "later": (86_400, 4 * 86_400),
}


class Traffic:
    def __init__(self, world: World, scenario: Scenario) -> None:
        self.world = world
        self.s = scenario
        self.rng = random.Random(scenario.seed * 7919 + 1)
        self._p_connect: float | None = None
        # Numbers already someone's: a web lead never gets one (they would join that person).
        self.numbers = {n for n in [*(p.phone for p in world.people), *(a.switchboard for a in world.accounts)] if n}
        self.start = datetime.fromisoformat(scenario.start.replace("Z", "+00:00")).astimezone(UTC)
        self.sequence = 0
        reps = len(world.reps)
        self.book = [[i for i, p in enumerate(world.people) if p.account % reps == r] for r in range(reps)]
        self.next_new = [0] * reps
        self.active: list[list[_Cadence]] = [[] for _ in range(reps)]
        self.opportunity: dict[int, list] = {}  # account -> [id, stage index]
        self.unknown_callers: list[Person] = []
        self.web_leads: list[Person] = []
        # Cumulative weights once, not on every draw.
        outcomes = scenario.outbound.outcomes
        self.outcome_codes, self.outcome_cum = list(outcomes), list(accumulate(outcomes.values()))
        mixture = scenario.outbound.talk_mixture
        self.talk_medians, self.talk_cum = [m for _, m in mixture], list(accumulate(w for w, _ in mixture))
        # A separate stream of draws, so a degraded scenario differs from the clean one only
        # in what the degrading rep logs.
        d = scenario.degradation
        self.degraded_rep = world.reps[d.rep].id if 0 <= d.rep < len(world.reps) else None
        self.degraded_from = self.start + timedelta(days=d.from_day)
        self.degrade_rng = random.Random(scenario.seed * 7919 + 2)

    def degradation_truth(self) -> dict | None:
        """The truth line describing the degradation, when the scenario has one."""
        if self.degraded_rep is None:
            return None
        d = self.s.degradation
        return {
            "type": "degradation",
            "rep": self.degraded_rep,
            "from": _iso(self.degraded_from),
            "no_disposition_share": d.no_disposition_share,
            "unlinked_share": d.unlinked_share,
        }

    # --- helpers ---------------------------------------------------------------------

    def _call_id(self) -> str:
        self.sequence += 1
        return f"SIM-{self.s.seed}-{self.sequence:08d}"

    def _disposition(self, code: str) -> str | None:
        roll = self.rng.random()
        if roll < self.s.population.no_disposition_share:
            return None
        if roll > 0.85 and code in FREE_TEXT:
            return FREE_TEXT[code]  # a rep typing the Salesforce "Call Result" by hand
        return code

    def _who(self, person: Person, record: Record | None, phone: str | None) -> tuple[dict, bool]:
        if record is None:
            who: dict[str, str | None] = {"phone": phone} if phone else {}
            return who, bool(phone) and phone_is_personal(person, self.world)
        who = {
            "salesforce_id": record.id_as_sent,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "company": record.company,
        }
        for name in ("email", "phone", "title", "converted_lead_id"):
            value = getattr(record, name)
            if value:
                who[name] = value
        account = self.world.accounts[person.account]
        if account.country != "US":  # the European CTI adapter sends the zone its users set
            who["time_zone"] = account.time_zone
        return who, True

    def _related(self, person: Person) -> dict:
        account = self.world.accounts[person.account]
        related = {"account_id": account.id}
        opportunity = self.opportunity.get(person.account)
        if opportunity:
            related["opportunity_id"], related["opportunity_stage"] = opportunity[0], STAGES[opportunity[1]]
        return related

    def _talk(self) -> int:
        median = self.rng.choices(self.talk_medians, cum_weights=self.talk_cum)[0]
        return max(3, int(self.rng.lognormvariate(math.log(median), self.s.outbound.talk_sigma)))

    # --- outbound --------------------------------------------------------------------

    def _dial(self, rep_index: int, cadence: _Cadence, at: datetime) -> SimCall:
        o = self.s.outbound
        person = self.world.people[cadence.person]
        account = self.world.accounts[person.account]
        cadence.attempts += 1
        local = at.astimezone(zone(account.time_zone))  # DST included
        multiplier = o.hour_multiplier.get(local.hour, 0.8) * o.weekday_multiplier[min(local.weekday(), 4)]
        p_connect = min(0.95, person.reachability * multiplier)
        if cadence.first_contact is not None and cadence.attempts == 1:
            p_connect = cadence.first_contact  # speed to lead: how fast the rep called back
        if person.bad_number:
            p_connect = 0.0
        self._p_connect = p_connect
        ring = 0
        talk = 0
        if person.bad_number:
            code = "bad_number"
            ring = 3
        else:
            roll = self.rng.random()
            if roll < p_connect:
                code = self.rng.choices(self.outcome_codes, cum_weights=self.outcome_cum)[0]
                ring = int(self.rng.lognormvariate(math.log(o.answer_seconds), 0.4))
                talk = self._talk() if code != "meeting_booked" else int(self.rng.lognormvariate(math.log(330), 0.4))
            else:
                rest = (roll - p_connect) / (1 - p_connect)
                if rest < o.other_human:
                    code = self.rng.choice(["gatekeeper", "gatekeeper", "wrong_person"])
                    ring, talk = int(o.answer_seconds), self.rng.randint(10, 60)
                elif rest < o.other_human + o.voicemail:
                    leave = self.rng.random() < o.leave_voicemail * (1.0 if cadence.attempts <= 2 else 0.5)
                    code = "voicemail_left" if leave else "voicemail_no_message"
                    ring = int(self.rng.lognormvariate(math.log(o.voicemail_ring_seconds), 0.2))
                    talk = int(self.rng.uniform(*o.voicemail_message_seconds)) if leave else 0
                elif rest < o.other_human + o.voicemail + o.busy:
                    code, ring = "busy", 2
                else:
                    code, ring = "no_answer", int(o.no_answer_ring_seconds)
        if code == "meeting_booked":
            opportunity = self.opportunity.setdefault(person.account, [_opportunity_id(self.rng), 0])
            opportunity[1] = min(opportunity[1] + 1, len(STAGES) - 1)
        linked = self.rng.random() >= self.s.population.unlinked_call_share
        record = person.records[int(self.rng.random() * len(person.records))] if linked else None
        dialled = None if record else person.phone or self.world.accounts[person.account].switchboard
        who, attributable = self._who(person, record, written(dialled, self.rng, self.s) if dialled else None)
        extra = {
            "attempt_number": cadence.attempts,
            "rep_id": self.world.reps[rep_index].id,
            "related": self._related(person),
        }
        if code == "meeting_booked":
            extra["notes"] = "Meeting booked; send calendar invite and agenda."
        self._reschedule(cadence, code, at)
        return self._call("outbound", at, ("ring_seconds", ring), talk, code, who, extra, person, record, attributable)

    def _call(
        self,
        direction: str,
        at: datetime,
        waited: tuple[str, int],
        talk: int,
        code: str,
        who: dict,
        extra: dict,
        person: Person,
        record: Record | None,
        attributable: bool,
    ) -> SimCall:
        """The CallEvent body as a CTI adapter would post it, and its ground truth."""
        call_id = self._call_id()
        wait_field, wait = waited
        event = {
            "call_id": call_id,
            "direction": direction,
            "started_at": _iso(at),
            "ended_at": _iso(at + timedelta(seconds=wait + talk)),
            "duration_seconds": wait + talk,
            "talk_seconds": talk,
            wait_field: wait,
            "who": who,
            "source": "simulator",
            **extra,
        }
        disposition = self._disposition(code)
        degraded = (
            self.degraded_rep is not None and extra.get("rep_id") == self.degraded_rep and at >= self.degraded_from
        )
        if degraded:
            d = self.s.degradation
            if self.degrade_rng.random() < d.no_disposition_share:
                disposition = None
            if record is not None and self.degrade_rng.random() < d.unlinked_share:
                event["who"] = who = {"phone": who["phone"]} if "phone" in who else {}
                record, attributable = None, bool(who) and phone_is_personal(person, self.world)
        if disposition:
            event["disposition"] = disposition
        p_connect = self._p_connect if direction == "outbound" else None
        return SimCall(
            event,
            Truth(call_id, person.id, attributable, code, record.record_id if record else None, degraded, p_connect),
        )

    def _reschedule(self, cadence: _Cadence, code: str, at: datetime) -> None:
        o = self.s.outbound
        if code in CADENCE_ENDS or code == "bad_number" or cadence.attempts >= o.max_attempts:
            cadence.due = None
            return
        if cadence.attempts == 1:
            gap = timedelta(hours=self.rng.expovariate(1 / o.second_attempt_hours))
        else:
            low, high = o.later_gap_days
            gap = timedelta(days=min(7, low + int(self.rng.random() * (high - low + 1)) + cadence.attempts // 3))
        cadence.due = at + max(gap, timedelta(hours=2))

    def _outbound_day(self, day: datetime) -> list[SimCall]:
        if day.weekday() >= 5:
            return []
        calls = []
        end_of_day = day + timedelta(days=1)
        mean, sd = self.s.outbound.dials_per_rep_per_day
        for rep_index in range(len(self.world.reps)):
            dials = max(0, int(self.rng.gauss(mean, sd)))
            active = self.active[rep_index]
            due = [c for c in active if c.due is not None and c.due < end_of_day]
            book = self.book[rep_index]
            while len(due) < dials and book:
                # New prospects enter the cadence; once the book is worked through, the
                # oldest prospects come round again (nurture), so dials stay steady.
                cadence = _Cadence(book[self.next_new[rep_index] % len(book)], day)
                self.next_new[rep_index] += 1
                active.append(cadence)
                due.append(cadence)
            # Fresh web leads are called when the rep gets to them (their due time); the rest
            # of the day's dials are spread over 8:00–17:00 in the rep's own (US-Central) time.
            fresh = [
                c for c in due if c.first_contact is not None and c.attempts == 0 and c.due is not None and c.due >= day
            ]
            for cadence in fresh:
                assert cadence.due is not None  # `fresh` holds only cadences with a due time
                calls.append(self._dial(rep_index, cadence, cadence.due))
            worklist = [c for c in due if c not in fresh][: max(0, dials - len(fresh))]
            for n, cadence in enumerate(worklist):
                minute = 14 * 60 + int(540 * (n + self.rng.random()) / max(dials, 1))
                calls.append(
                    self._dial(rep_index, cadence, day + timedelta(minutes=minute, seconds=int(self.rng.random() * 60)))
                )
            self.active[rep_index] = [c for c in active if c.due is not None]
        return calls

    def _web_leads(self, day: datetime) -> None:
        """Web-form leads arrive in business hours; each rep responds after a delay drawn
        from the reference mix, or never (docs/sources.md: speed to lead, S10, S11, S22)."""
        w = self.s.web_leads
        if day.weekday() >= 5:
            return
        buckets = list(w.response_delay)
        for _ in range(_poisson(self.rng, w.per_day)):
            arrival = day + timedelta(seconds=self.rng.uniform(13, 22) * 3600)
            person = self._new_web_lead()
            bucket = self.rng.choices(buckets, [w.response_delay[b] for b in buckets])[0]
            if bucket == "never":
                continue
            low, high = DELAY_BUCKETS[bucket]
            rep = person.account % len(self.world.reps)
            self.active[rep].append(
                _Cadence(
                    len(self.world.people) - 1,
                    arrival + timedelta(seconds=self.rng.uniform(low, high)),
                    w.first_attempt_contact[bucket],
                )
            )

    def _new_web_lead(self) -> Person:
        people, accounts = self.world.people, self.world.accounts
        account_index = self.rng.randrange(len(accounts))
        first = people[self.rng.randrange(len(people))].first_name
        last = people[self.rng.randrange(len(people))].last_name
        person_id = f"W{len(self.web_leads) + 1:06d}"
        email = f"{first.lower()}.{last.lower()}.{person_id.lower()}@{accounts[account_index].domain}".replace("'", "")
        phone = _phone(self.rng, prefixes_of(accounts[account_index]), self.numbers)
        record = Record(
            record_id=salesforce_id(self.rng, "00Q"),
            kind="lead",
            first_name=first,
            last_name=last,
            company=accounts[account_index].name,
            email=email,
            phone=written(phone, self.rng, self.s),
        )
        record.id_as_sent = record.record_id
        person = Person(
            person_id,
            first,
            last,
            "",
            account_index,
            email,
            phone,
            False,
            self.rng.betavariate(*self.s.outbound.reachability),
            [record],
        )
        people.append(person)
        self.web_leads.append(person)
        return person

    # --- inbound ---------------------------------------------------------------------

    def _inbound_day(self, day: datetime) -> list[SimCall]:
        i = self.s.inbound
        level = i.calls_per_day * i.weekday_index[day.weekday()]
        shape = i.day_level_cv
        level *= self.rng.gammavariate(1 / shape**2, shape**2) if shape > 0 else 1
        arrivals = sorted(day + timedelta(seconds=self._arrival_second()) for _ in range(_poisson(self.rng, level)))
        agents_free = [day] * i.agents
        heapq.heapify(agents_free)
        calls = []
        callbacks: list[tuple] = []
        for at in arrivals:
            free_at = heapq.heappop(agents_free)
            wait = max(0.0, (free_at - at).total_seconds())
            patience = self.rng.expovariate(1 / i.patience_mean_seconds)
            person, record, phone = self._caller()
            queue = self.rng.choice(i.queues)
            offered = wait > i.service_level_seconds and self.rng.random() < i.callback_offer_share
            if offered and self.rng.random() < i.callback_acceptance:
                # The caller leaves a callback request; the agent who frees up first calls back.
                heapq.heappush(agents_free, free_at)
                code, talk, hold = "callback_scheduled", 0, int(i.service_level_seconds)
                callbacks.append((free_at, person, record, phone, queue))
            elif wait > patience:
                heapq.heappush(agents_free, free_at)
                code, talk, hold = "abandoned", 0, int(patience)
            else:
                talk = max(20, int(self.rng.lognormvariate(math.log(i.talk_median_seconds), i.talk_sigma)))
                code = "transferred" if self.rng.random() < i.transfer_share else "resolved"
                hold = int(wait)
                heapq.heappush(agents_free, at + timedelta(seconds=wait + talk + 45))  # + after-call work
            who, attributable = self._who(person, record, phone)
            extra: dict[str, object] = {"queue": queue}
            if code != "abandoned":
                extra["rep_id"] = self.world.reps[self.rng.randrange(len(self.world.reps))].id
                if person.account >= 0:
                    extra["related"] = self._related(person)
            calls.append(
                self._call("inbound", at, ("hold_seconds", hold), talk, code, who, extra, person, record, attributable)
            )
        for at, person, record, phone, queue in callbacks:
            calls.append(self._callback(at, person, record, phone, queue, agents_free))
        return calls

    def _callback(
        self,
        requested: datetime,
        person: Person,
        record: Record | None,
        phone: str,
        queue: str,
        agents_free: list[datetime],
    ) -> SimCall:
        """An agent returns a queued callback when one frees up; some are missed."""
        i = self.s.inbound
        at = max(requested, heapq.heappop(agents_free)) + timedelta(seconds=30)
        if self.rng.random() < i.callback_answer_share:
            talk = max(20, int(self.rng.lognormvariate(math.log(i.talk_median_seconds), i.talk_sigma)))
            code, ring = (
                ("transferred" if self.rng.random() < i.transfer_share else "resolved"),
                int(self.s.outbound.answer_seconds),
            )
        else:
            talk, code, ring = 0, "no_answer", int(self.s.outbound.no_answer_ring_seconds)
        heapq.heappush(agents_free, at + timedelta(seconds=ring + talk + 45))
        who, attributable = self._who(person, record, phone)
        extra: dict[str, object] = {
            "queue": queue,
            "rep_id": self.world.reps[self.rng.randrange(len(self.world.reps))].id,
        }
        if person.account >= 0:
            extra["related"] = self._related(person)
        return self._call("outbound", at, ("ring_seconds", ring), talk, code, who, extra, person, record, attributable)

    def _arrival_second(self) -> float:
        """A time of day from the double-peaked intraday shape (peaks 10:00–11:30 and
        15:30–17:30 US-Eastern, trough at lunch), by rejection sampling."""
        peak = self.s.inbound.peak_to_trough
        while True:
            hour = self.rng.uniform(8, 18)
            weight = 1 + (peak - 1) * max(math.exp(-((hour - 10.75) ** 2) / 0.8), math.exp(-((hour - 16.5) ** 2) / 0.8))
            if self.rng.random() * peak <= weight:
                return (hour + 5) * 3600  # US-Eastern business hours in UTC

    def _caller(self) -> tuple[Person, Record | None, str]:
        if self.rng.random() < self.s.inbound.known_caller_share or not self.world.people:
            person = self.world.people[self.rng.randrange(len(self.world.people))]
            phone = person.phone or self.world.accounts[person.account].switchboard or person.records[0].phone
            if phone is None:  # build_world gives every record a phone
                raise ValueError(f"{person.id} has no number to call from")
            record = self.rng.choice(person.records) if self.rng.random() < 0.6 else None
            return person, record, written(phone, self.rng, self.s) if phone.startswith("+") else phone
        # A caller the CRM has never seen: known to us only by caller id. Some call again.
        if self.unknown_callers and self.rng.random() < 0.3:
            person = self.rng.choice(self.unknown_callers)
        else:
            person = Person(
                f"U{len(self.unknown_callers) + 1:06d}",
                "",
                "",
                "",
                -1,
                "",
                f"+1{self.rng.randint(201, 989)}{self.rng.randint(200, 999)}{self.rng.randint(0, 9999):04d}",
                False,
                0.0,
                [],
            )
            self.unknown_callers.append(person)
        if person.phone is None:  # unknown callers are made with a number: caller id is all we know
            raise ValueError(f"{person.id} has no caller id")
        return person, None, written(person.phone, self.rng, self.s)

    # --- the stream ------------------------------------------------------------------

    def calls(self) -> Iterator[SimCall]:
        """Every call of the scenario, day by day, ordered by start time then call id."""
        for offset in range(self.s.days):
            day = self.start + timedelta(days=offset)
            self._web_leads(day)
            today = self._outbound_day(day) + self._inbound_day(day)
            today.sort(key=lambda c: (c.event["started_at"], c.event["call_id"]))
            yield from today


def phone_is_personal(person: Person, world: World) -> bool:
    """A call carrying only a phone identifies its person only on a personal line."""
    return person.phone is not None


def _opportunity_id(rng: random.Random) -> str:
    return salesforce_id(rng, "006")


def _poisson(rng: random.Random, mean: float) -> int:
    # Normal approximation is fine at contact-centre volumes; exact inversion when small.
    if mean > 50:
        return max(0, int(round(rng.gauss(mean, math.sqrt(mean)))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _iso(at: datetime) -> str:
    return at.isoformat()  # whole seconds, +00:00; several times faster than strftime
