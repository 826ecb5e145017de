"""Scenario parameters (seed/scenarios/*.toml), with --set overrides from the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import msgspec

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "seed" / "scenarios"


class PhoneFormats(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    e164: float
    nanp: float
    digits: float
    spaced: float
    extension: float


class Population(msgspec.Struct, forbid_unknown_fields=True):
    accounts: int
    people_per_account: tuple[int, int]
    reps: int
    teams: int
    lead_share: float
    duplicate_share: float
    converted_lead_share: float
    switchboard_share: float
    nickname_share: float
    typo_share: float
    email_case_share: float
    unlinked_call_share: float
    no_disposition_share: float
    bad_number_share: float
    phone_formats: PhoneFormats
    dnc_share: float = 0.03  # prospects whose direct line is on the simulated do-not-call list


class Outbound(msgspec.Struct, forbid_unknown_fields=True):
    dials_per_rep_per_day: tuple[float, float]
    max_attempts: int
    reachability: tuple[float, float]
    other_human: float
    voicemail: float
    leave_voicemail: float
    busy: float
    outcomes: dict[str, float]
    talk_mixture: list[tuple[float, float]]
    talk_sigma: float
    answer_seconds: float
    voicemail_ring_seconds: float
    no_answer_ring_seconds: float
    voicemail_message_seconds: tuple[float, float]
    second_attempt_hours: float
    later_gap_days: tuple[int, int]
    hour_multiplier: dict[int, float]
    weekday_multiplier: list[float]


class Inbound(msgspec.Struct, forbid_unknown_fields=True):
    calls_per_day: float
    weekday_index: list[float]
    peak_to_trough: float
    day_level_cv: float
    talk_median_seconds: float
    talk_sigma: float
    patience_mean_seconds: float
    agents: int
    transfer_share: float
    known_caller_share: float
    queues: list[str]
    service_level_seconds: float
    callback_offer_share: float
    callback_acceptance: float
    callback_answer_share: float


class WebLeads(msgspec.Struct, forbid_unknown_fields=True):
    per_day: float
    response_delay: dict[str, float]
    first_attempt_contact: dict[str, float]


class Degradation(msgspec.Struct, forbid_unknown_fields=True):
    """One rep's call logging degrades from a given day (what the quality monitor must catch)."""

    rep: int = -1  # index into the reps (0-based); -1: nobody degrades
    from_day: int = 0  # scenario day (0 = start) from which the rep's calls degrade
    no_disposition_share: float = 1.0  # share of the rep's calls then logged without a disposition
    unlinked_share: float = 1.0  # share then logged without their Lead/Contact (caller id only)


class SalesforceOrg(msgspec.Struct, forbid_unknown_fields=True):
    """How `generate --salesforce` records the calls: the shapes real orgs hold, and the
    changes made between a first and a second sync (salesforce/changes.ndjson)."""

    # Calls linked to a Lead/Contact, by how the CTI adapter and the rep recorded them.
    task_without_call_object: float = 0.15  # CTI Task with an empty CallObject: its VoiceCall names it by ActivityId
    different_call_object: float = 0.05  # CallObject holds another id than the VoiceCall's VendorCallKey
    voice_without_activity: float = 0.10  # VoiceCall without ActivityId: only VendorCallKey = CallObject links it
    task_without_voice: float = 0.10  # CTI Task without a VoiceCall (a CTI adapter without Salesforce Voice)
    voice_without_task: float = 0.05  # a call the rep never logged: VoiceCall only (abandoned calls always)
    manual_log: float = 0.08  # an outbound dial logged by hand: Task without CallType, CallObject or duration
    log_delay_minutes: tuple[int, int] = (1, 30)  # how long after the call a manual log is saved (uniform)
    # Before the first sync, per call in the org.
    deleted_before_first_sync: float = 0.01  # its Task is in the recycle bin (queryAll returns it, IsDeleted)
    late_voice_call: float = 0.01  # its VoiceCall commits late: read by the second sync, SystemModstamp older
    late_by_seconds: int = 30  # than the first sync's watermark by this much (within the connector's lookback)
    # Between the two syncs, per call in the org.
    undeleted: float = 0.5  # share of the recycle bin's Tasks restored
    edited_call_result: float = 0.02  # the rep fills in or corrects the Call Result (to the true outcome)
    deleted_task: float = 0.01  # its Task is deleted (a VoiceCall, if any, still records the call)
    reparented: float = 0.05  # of the calls logged by hand: first logged on a colleague, then moved to the right person
    converted_duplicates: float = 0.5  # of the people with both a Lead and a Contact: the Lead converted into it
    reassigned_reps: int = 1  # reps whose Tasks move to another rep in one mass update (one SystemModstamp)


class Scenario(msgspec.Struct, forbid_unknown_fields=True):
    seed: int
    days: int
    start: str
    population: Population
    outbound: Outbound
    inbound: Inbound
    web_leads: WebLeads
    degradation: Degradation = msgspec.field(default_factory=Degradation)
    salesforce: SalesforceOrg = msgspec.field(default_factory=SalesforceOrg)


def _set(data: dict, dotted: str, raw: str) -> None:
    *path, leaf = dotted.split(".")
    node = data
    for part in path:
        if not isinstance(node.get(part), dict):
            raise SystemExit(f"--set {dotted}: no section {part!r}")
        node = node[part]
    if leaf not in node:
        raise SystemExit(f"--set {dotted}: unknown parameter {leaf!r}; known: {', '.join(sorted(node))}")
    try:  # a TOML value (8, 0.5, [50, 15], "text"); anything else is taken as plain text
        value = msgspec.toml.decode(f"v = {raw}".encode())["v"]
    except msgspec.DecodeError:
        value = raw
    node[leaf] = value.isoformat() if isinstance(value, datetime) else value


def load(name_or_path: str = "default", overrides: Sequence[str] = ()) -> Scenario:
    path = Path(name_or_path)
    if not path.exists():
        path = SCENARIO_DIR / f"{name_or_path}.toml"
    data = msgspec.toml.decode(path.read_bytes())
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set takes key=value, got {item!r}")
        _set(data, key.strip(), value.strip())
    try:
        return msgspec.convert(data, Scenario, strict=False)  # TOML keys are strings: "8" -> 8
    except msgspec.ValidationError as exc:
        raise SystemExit(f"scenario {path.name}: {exc}") from None
