"""GET /v1/individuals/{lookup}: the unified person, identifiers with their rules, merges."""

from __future__ import annotations

from litestar import Controller, Request, delete, get
from litestar.params import FromPath

from contextsvc.api.auth import api_key_of, disclosure_for, presented_key
from contextsvc.api.services import person_reads, readers_of, service_of
from contextsvc.api.serving import guard_lookup
from contextsvc.identity import IndividualView, disclosed, individual, parse_lookup
from contextsvc.pipeline import ErasureReport


class IndividualsController(Controller):
    path = "/v1/individuals"
    tags = ["identity"]

    @get(
        "/{lookup:str}",
        opt={"scope": "context:read", "errors": (409, 422, 429)},
        summary="A unified person by id or any identifier",
    )
    async def get_individual(self, request: Request, lookup: FromPath[str]) -> IndividualView:
        """`lookup` is an individual id, a Contact/Lead id (15 or 18 chars), an email or a phone.
        A merged-away id or identifier answers with the surviving person. Phones and emails
        (identifiers, evidence) are masked unless the key has pii:read."""
        service = readers_of(request)
        key = parse_lookup(lookup, service.settings.default_region)
        await guard_lookup(service, api_key_of(request), key)  # as for the context: masked keys at a bounded rate
        reads = await person_reads(service)
        view = await individual(service.engine, await reads.resolve(key))
        if key.kind == "individual_id" and view.id != key.value:
            view.requested_id = key.value
        # Name, company and title as the profile has them: per attribute, the newest call
        # that carried it, exact across merges and late arrivals.
        _, profile = await reads.profiles.state(view.id)
        for name in ("first_name", "last_name", "company", "title"):
            setattr(view, name, getattr(profile.person, name))
        settings = service.settings
        return disclosed(view, disclosure_for(api_key_of(request), settings.notes_max_chars, settings.default_region))

    @delete(
        "/{lookup:str}",
        opt={"scope": "admin", "errors": (409, 422)},
        status_code=200,
        summary="Erase a person: calls, identifiers, profile, quarantined items, caches",
    )
    async def erase_individual(self, request: Request, lookup: FromPath[str]) -> ErasureReport:
        """Right to erasure. Runs through the writer, in order with ingest; afterwards no
        lookup finds the person and an audit row records the counts, not the data."""
        service = service_of(request)
        individual_id = await service.reads.resolve(parse_lookup(lookup, service.settings.default_region))
        return await service.erase(individual_id, presented_key(request) or "")
