"""Which Tasks and VoiceCalls are one call, and that call's id. Pure.

Salesforce records a phone call as a Task (TaskSubtype Call: the logged activity, with the
Call Result), a VoiceCall (the telephony record), or both. The Object Reference documents
one link between them, `VoiceCall.ActivityId` -> Task. `VendorCallKey` is the provider's
id for the call leg and `Task.CallObject` is whatever the CTI adapter put there (often
empty, sometimes a call-centre name shared by every Task): equal values are only a hint.
So, one call per real call whatever an org holds:

1. A VoiceCall whose ActivityId names a mirrored call Task belongs to that Task. When
   several do (the legs of a transferred call), the lowest VoiceCall Id is the Task's; the
   other legs are calls of their own.
2. Otherwise a VoiceCall belongs to the Task whose CallObject equals its VendorCallKey,
   when that value is on exactly one Task and one VoiceCall and no ActivityId already
   gave the Task a VoiceCall.
3. Everything else is a call on its own (a Task logged by hand, a VoiceCall never logged).

A call's id is its telephony key when that key names this call and nothing else in the
org — the VoiceCall's VendorCallKey, else the Task's CallObject — so a call a CTI adapter
also posted under that id is the same call; otherwise `sf-<Task Id>` (or `sf-<VoiceCall
Id>`), unique by construction. The result depends only on the records, never on the
order they were read in: the mirror regroups every record a change can affect.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec


class CallLink(msgspec.Struct, frozen=True):
    """What grouping needs of one live Task or VoiceCall."""

    sobject: str  # Task | VoiceCall
    record_id: str
    key: str | None  # Task.CallObject or VoiceCall.VendorCallKey; None when empty
    activity_id: str | None = None  # VoiceCall.ActivityId


def link_key(value: object) -> str | None:
    """CallObject / VendorCallKey as a matching key: blank is no key."""
    if not isinstance(value, str):
        return None
    return value.strip() or None


def assign_calls(links: Iterable[CallLink]) -> dict[str, str]:
    """Record id -> call id for every record given. Pass every record sharing a key,
    an ActivityId or a Task with any record given (the mirror's component), or the
    answer may differ from the whole org's."""
    records = sorted(links, key=lambda link: link.record_id)
    tasks = {link.record_id: link for link in records if link.sobject == "Task"}
    voices = [link for link in records if link.sobject == "VoiceCall"]
    tasks_by_key: dict[str, list[CallLink]] = {}
    voices_by_key: dict[str, list[CallLink]] = {}
    for task in tasks.values():
        if task.key:
            tasks_by_key.setdefault(task.key, []).append(task)
    for voice in voices:
        if voice.key:
            voices_by_key.setdefault(voice.key, []).append(voice)

    voice_of: dict[str, CallLink] = {}  # Task id -> its VoiceCall
    unlinked: list[CallLink] = []
    for voice in voices:  # in Id order: the lowest Id claims the Task first
        if voice.activity_id in tasks:
            voice_of.setdefault(voice.activity_id, voice)
        else:
            unlinked.append(voice)
    claimed = set(voice_of)  # Tasks an ActivityId gave a VoiceCall
    for voice in unlinked:
        if not voice.key:
            continue
        same_key = tasks_by_key.get(voice.key, [])
        if len(same_key) == 1 and len(voices_by_key[voice.key]) == 1 and same_key[0].record_id not in claimed:
            voice_of[same_key[0].record_id] = voice

    def owns(key: str | None, task: CallLink | None, voice: CallLink | None) -> bool:
        if not key:
            return False
        return all(t is task for t in tasks_by_key.get(key, ())) and all(v is voice for v in voices_by_key.get(key, ()))

    grouped = {voice.record_id for voice in voice_of.values()}
    calls: list[tuple[CallLink | None, CallLink | None]] = [
        (task, voice_of.get(task_id)) for task_id, task in tasks.items()
    ]
    calls += [(None, voice) for voice in voices if voice.record_id not in grouped]
    assigned: dict[str, str] = {}
    for call_task, call_voice in calls:
        candidates = (call_voice.key if call_voice else None, call_task.key if call_task else None)
        call_id = next((key for key in candidates if owns(key, call_task, call_voice)), None)
        if call_id is None:
            first = call_task or call_voice
            assert first is not None  # every call has its Task, its VoiceCall or both
            call_id = f"sf-{first.record_id}"
        for record in (call_task, call_voice):
            if record is not None:
                assigned[record.record_id] = call_id
    return assigned
