"""Realised rates of a generated scenario beside the reference table's targets and ranges
(the ranges beside each default in seed/scenarios/default.toml; sources in docs/sources.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import msgspec

from contextsvc.ingest import Picklist
from contextsvc.settings import REPO_ROOT
from simulator.traffic import SimCall

PICKLIST = Picklist.load(REPO_ROOT / "seed" / "dispositions.toml")


class Rate(msgspec.Struct):
    name: str
    value: float
    target: str
    low: float
    high: float
    source: str

    @property
    def within(self) -> bool:
        return self.low <= self.value <= self.high


def calibrate(calls: Iterable[SimCall]) -> list[Rate]:
    """Rates from the true outcomes (what happened), except the logging-quality rows."""
    outbound = first_dials = first_connects = inbound = connects = voicemail = meetings = 0
    abandoned = no_disposition = unlinked = callbacks = missed_callbacks = 0
    web_first_dials = web_first_connects = 0
    connected_talk: list[int] = []
    first_connect_attempt: dict[str, int] = {}
    for call in calls:
        event, outcome = call.event, call.truth.outcome
        no_disposition += "disposition" not in event
        unlinked += "salesforce_id" not in event["who"]
        if event["direction"] == "inbound":
            inbound += 1
            abandoned += outcome == "abandoned"
            continue
        if "attempt_number" not in event:  # an agent returning a queued callback, not a dial
            callbacks += 1
            missed_callbacks += outcome == "no_answer"
            continue
        outbound += 1
        person = call.truth.person
        if person is None:  # Traffic makes no internal calls: every dial has its true person
            raise ValueError(f"{event['call_id']}: a dial without a true person")
        if person.startswith("W") and event["attempt_number"] == 1:
            web_first_dials += 1
            web_first_connects += PICKLIST.meaning(outcome).connect
        connect = PICKLIST.meaning(outcome).connect
        first = event["attempt_number"] == 1
        first_dials += first
        first_connects += first and connect
        voicemail += outcome in ("voicemail_left", "voicemail_no_message")
        meetings += outcome == "meeting_booked"
        if connect:
            connects += 1
            connected_talk.append(event["talk_seconds"])
            first_connect_attempt.setdefault(person, event["attempt_number"])
    total = outbound + inbound + callbacks
    attempts = sorted(first_connect_attempt.values())
    return [
        Rate(
            "right-party connect, first dial", first_connects / max(first_dials, 1), "≈0.08", 0.045, 0.13, "S1, S2, S3"
        ),
        Rate(
            "right-party connect, all dials",
            connects / max(outbound, 1),
            "lower: reachable prospects leave",
            0.03,
            0.13,
            "S2, S14",
        ),
        Rate("voicemail reached per dial", voicemail / max(outbound, 1), "0.42", 0.28, 0.55, "S8, S52, S53"),
        Rate("meetings per dial", meetings / max(outbound, 1), "≈1/420", 1 / 1000, 1 / 150, "S2"),
        Rate("meetings per connect", meetings / max(connects, 1), "0.03", 0.01, 0.06, "S19, S3b, S2"),
        Rate(
            "mean connected talk seconds",
            sum(connected_talk) / max(len(connected_talk), 1),
            "≈75",
            50,
            130,
            "S6, S4c, S8",
        ),
        Rate(
            "median attempts to first connect", attempts[len(attempts) // 2] if attempts else 0, "1–3", 1, 4, "S2, S14"
        ),
        Rate("inbound abandonment", abandoned / max(inbound, 1), "≈0.05", 0.03, 0.15, "S62, S29"),
        Rate("calls logged without disposition", no_disposition / max(total, 1), "0.20", 0.05, 0.6, "S37, S66"),
        Rate(
            "web leads reached on the first attempt",
            web_first_connects / max(web_first_dials, 1),
            "≈0.17 (delay mix × contact by delay)",
            0.05,
            0.35,
            "S10, S11",
        ),
        Rate("queued callbacks missed", missed_callbacks / max(callbacks, 1), "0.2", 0.05, 0.4, "A"),
        Rate(
            "calls not linked to a Lead/Contact",
            unlinked / max(total, 1),
            "0.05 outbound; more inbound",
            0.01,
            0.35,
            "A",
        ),
    ]


def counts(calls: Iterable[SimCall]) -> Counter:
    return Counter(c.event["direction"] for c in calls)
