"""Writing a scenario out: NDJSON of CallEvents as the API accepts them, plus ground truth.

Streamed: calls are encoded as they are generated, so memory stays flat whatever the
number of calls. The truth file lists every person and identity record first, then one
line per call.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec

from simulator.population import World
from simulator.traffic import SimCall, Traffic

_encode = msgspec.json.Encoder().encode_into


def person_lines(world: World, person, **flags) -> Iterator[dict]:
    """A true person and each of their CRM records, as truth lines."""
    yield {
        "type": "person",
        "id": person.id,
        "account": world.accounts[person.account].id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone": person.phone,
        **flags,
    }
    for record in person.records:
        yield {"type": "record", "person": person.id, **msgspec.to_builtins(record)}


def truth_header(world: World) -> Iterator[dict]:
    for account in world.accounts:
        yield {"type": "account", **msgspec.to_builtins(account)}
    for person in world.people:
        yield from person_lines(world, person)
    for rep in world.reps:
        yield {"type": "rep", **msgspec.to_builtins(rep)}


def write(
    world: World,
    traffic: Traffic,
    calls_path: Path,
    truth_path: Path,
    limit: int | None = None,
    on_progress=None,
    salesforce=None,
) -> int:
    """Stream the scenario to NDJSON; `salesforce` (a SalesforceWriter) also gets every call
    and, at the end, the people, accounts and opportunities as they then stand."""
    buffer = bytearray()
    written = 0
    with open(calls_path, "wb") as calls_out, open(truth_path, "wb") as truth_out:
        degradation = traffic.degradation_truth()
        for line in (*truth_header(world), *([degradation] if degradation else [])):
            _encode(line, buffer)
            truth_out.write(buffer + b"\n")
        call: SimCall
        events = bytearray()
        truths = bytearray()
        for call in traffic.calls():
            _encode(call.event, buffer)
            events += buffer
            events += b"\n"
            _encode(call.truth, buffer)  # tagged: {"type": "call", ...}
            truths += buffer
            truths += b"\n"
            written += 1
            if salesforce is not None:
                salesforce.call(call)
            if len(events) > 1 << 20:
                calls_out.write(events)
                truth_out.write(truths)
                events.clear()
                truths.clear()
                if on_progress:
                    on_progress(written)
            if limit and written >= limit:
                break
        calls_out.write(events)
        truth_out.write(truths)
        if salesforce is not None and written:
            salesforce.people(world, traffic, call.event["ended_at"])
        for person in traffic.web_leads:  # people who appeared during the simulation
            for line in person_lines(world, person, web_lead=True):
                _encode(line, buffer)
                truth_out.write(buffer + b"\n")
        for person in traffic.unknown_callers:
            _encode({"type": "person", "id": person.id, "phone": person.phone, "unknown_caller": True}, buffer)
            truth_out.write(buffer + b"\n")
    return written
