"""The identity graph: which identifiers belong to which unified person, and why.

Pure and in-memory. The writer owns one graph, feeds it each call's normalised Person and
persists what resolve() reports (new individuals, links, merges). At start-up the graph
is restored from those persisted rows, so it never holds anything the store does not.

Rules, strongest first (each link records the rule and its evidence):
  salesforce_id   the same Contact/Lead record
  lead_conversion a Contact that names the Lead it was converted from
  email           the same normalised email
  phone           the same E.164 number — unless the number is a shared line (seen with
                  more than K people, or listed as shared) or the names on it disagree
  fuzzy_name      nickname/typo-tolerant first name + exact last name + the same company
                  or company email domain, unless both sides are different records of the
                  same Salesforce object (Salesforce already keeps those apart)
When one call's evidence points at several people, they are merged into the oldest.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from typing import Literal

import msgspec

from contextsvc.calls import Person
from contextsvc.identity.identifiers import company_domain, company_key, name_key
from contextsvc.identity.names import first_names_match

IdentifierKind = Literal["salesforce_id", "email", "phone", "name", "company"]
IndividualKind = Literal["person", "shared_line"]


class Link(msgspec.Struct, gc=False, frozen=True):
    individual_id: str
    kind: str  # IdentifierKind
    value: str  # normalised: 18-char id, lower-case email, E.164, "first|last" keys, company key
    display: str | None
    rule: str
    evidence: dict


class Merge(msgspec.Struct, gc=False, frozen=True):
    survivor_id: str
    merged_id: str
    rule: str
    evidence: dict


class Resolution(msgspec.Struct, gc=False, frozen=True):
    individual_id: str | None  # None: the call names nobody we could identify
    rule: str
    evidence: dict
    created: IndividualKind | None = None  # kind of individual created for this call
    links: tuple[Link, ...] = ()
    merges: tuple[Merge, ...] = ()
    shared_lines: tuple[str, ...] = ()  # phones that became shared lines on this call


class IndividualRow(msgspec.Struct, frozen=True):
    id: str
    kind: str
    merged_into: str | None = None


class IdFactory:
    """Time-ordered ids (microseconds + randomness): the oldest person sorts first."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> str:
        stamp = max(time.time_ns() // 1000, self._last + 1)
        self._last = stamp
        return f"ind_{stamp:014x}{secrets.randbits(24):06x}"


class _Facts:
    __slots__ = (
        "id",
        "kind",
        "salesforce_ids",
        "emails",
        "phones",
        "names",
        "first_names",
        "last_names",
        "companies",
        "domains",
    )

    def __init__(self, individual_id: str, kind: str) -> None:
        self.id = individual_id
        self.kind = kind
        self.salesforce_ids: dict[str, str] = {}  # id -> contact | lead
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self.names: set[tuple[str, str]] = set()  # (first, last) keys seen together
        self.first_names: set[str] = set()
        self.last_names: set[str] = set()
        self.companies: set[str] = set()
        self.domains: set[str] = set()

    def absorb(self, other: _Facts) -> None:
        self.salesforce_ids.update(other.salesforce_ids)
        for name in ("emails", "phones", "names", "first_names", "last_names", "companies", "domains"):
            getattr(self, name).update(getattr(other, name))


class _Evidence(msgspec.Struct, gc=False, frozen=True):
    """A Person reduced to the keys the rules compare."""

    salesforce_id: str | None
    salesforce_kind: str | None
    converted_lead_id: str | None
    email: str | None
    phone: str | None
    first: str
    last: str
    company: str
    domain: str | None

    @classmethod
    def of(cls, who: Person) -> _Evidence:
        return cls(
            salesforce_id=who.salesforce_id,
            salesforce_kind=who.salesforce_kind,
            converted_lead_id=who.converted_lead_id,
            email=who.email,
            phone=who.phone,
            first=name_key(who.first_name or ""),
            last=name_key(who.last_name or ""),
            company=company_key(who.company or ""),
            domain=company_domain(who.email) if who.email else None,
        )


def _org_keys(companies: Iterable[str | None], domains: Iterable[str | None]) -> list[str]:
    """Index keys for organisations: companies as c:…, company email domains as d:…"""
    return [f"c:{c}" for c in companies if c] + [f"d:{d}" for d in domains if d]


class IdentityGraph:
    def __init__(
        self,
        *,
        shared_line_threshold: int = 3,
        shared_phones: Iterable[str] = (),
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.shared_line_threshold = shared_line_threshold
        self.listed_shared = frozenset(shared_phones)
        self._new_id = new_id or IdFactory()
        self._facts: dict[str, _Facts] = {}
        self._merged_into: dict[str, str] = {}
        self._by_sfid: dict[str, str] = {}
        self._by_email: dict[str, str] = {}
        self._by_phone: dict[str, set[str]] = {}
        # (last name, "c:"company | "d:"domain) -> people: the only pairs fuzzy_name can match,
        # so a call costs the handful of same-surname colleagues, not every Smith.
        self._by_surname_org: dict[tuple[str, str], set[str]] = {}
        self._line_by_phone: dict[str, str] = {}
        self._shared: set[str] = set()  # sticky: once a shared line, always one
        # Individuals created or merged by the batch in flight: readers wait for its commit
        # before trusting a lookup that lands on one of them (the writer clears the set).
        self.touched: set[str] = set()

    # --- queries ---------------------------------------------------------------------

    def survivor(self, individual_id: str) -> str:
        seen = individual_id
        while seen in self._merged_into:
            seen = self._merged_into[seen]
        if seen != individual_id:
            self._merged_into[individual_id] = seen  # path compression
        return seen

    def exists(self, individual_id: str) -> bool:
        return individual_id in self._facts or individual_id in self._merged_into

    def people_with_phone(self, e164: str) -> set[str]:
        owners = self._by_phone.get(e164)
        if not owners:
            return set()
        if len(owners) == 1:  # the common case: one person's own number
            return {self.survivor(next(iter(owners)))}
        return {self.survivor(p) for p in owners}

    def is_shared_line(self, e164: str) -> bool:
        if e164 in self.listed_shared or e164 in self._shared:
            return True
        people = {p for p in self.people_with_phone(e164) if self._facts[p].kind == "person"}
        if len(people) > self.shared_line_threshold:
            self._shared.add(e164)
            return True
        return False

    def __len__(self) -> int:
        return len(self._facts)

    def lookup(self, kind: str, value: str) -> list[str]:
        """Surviving individuals known by this identifier (several for a shared number)."""
        if kind == "individual_id":
            return [self.survivor(value)] if self.exists(value) else []
        index = {"salesforce_id": self._by_sfid, "email": self._by_email}.get(kind)
        if index is not None:
            found = index.get(value)
            return [self.survivor(found)] if found else []
        if kind == "phone":
            owners = self.people_with_phone(value)
            people = [p for p in owners if self._facts[p].kind == "person"]
            return sorted(people or owners)
        return []

    # --- resolution ------------------------------------------------------------------

    def resolve(self, call_id: str, who: Person) -> Resolution:
        ev = _Evidence.of(who)
        if not (ev.salesforce_id or ev.email or ev.phone or ev.last or ev.first):
            return Resolution(None, "unidentified", {"reason": "the call carries no usable identifier"})

        matches = self._strong_matches(ev)
        phone_note: dict = {}
        if ev.phone:
            phone_note = self._phone_match(ev, ev.phone, matches)
        self._fuzzy_match(ev, matches)

        created: IndividualKind | None = None
        merges: list[Merge] = []
        if matches:
            # The strongest rule (first found) explains the call; the oldest individual
            # survives; each merge is explained by the rule that reached the other side.
            primary = next(iter(matches))
            rule, evidence = matches[primary]
            survivor = min(matches)
            for other in sorted(matches):
                if other != survivor:
                    because = matches[other if other != primary else survivor]
                    merges.append(
                        self._merge(
                            survivor, other, because[0], {**because[1], "anchored_by": rule, "call_id": call_id}
                        )
                    )
        elif ev.phone and phone_note and not (ev.salesforce_id or ev.email or ev.last or ev.first):
            # Only a number, and the number cannot say who: the call belongs to the line.
            line = self._line_for(ev.phone)
            if line is None:
                survivor, created = self._create("shared_line"), "shared_line"
                self._line_by_phone[ev.phone] = survivor
            else:
                survivor = line
            rule, evidence = "unattributed_phone", phone_note
        else:
            survivor, created = self._create("person"), "person"
            rule, evidence = "new", {"reason": "no existing person matches this call's identifiers"}

        links, shared = self._attach(survivor, ev, who, call_id, rule)
        if created or merges:
            # Only these can make a lookup answer something not yet committed; a person who
            # merely gains a call still has a consistent committed profile to serve.
            self.touched.add(survivor)
            self.touched.update(m.merged_id for m in merges)
        return Resolution(
            survivor,
            rule,
            {**evidence, "call_id": call_id},
            created=created,
            links=tuple(links),
            merges=tuple(merges),
            shared_lines=tuple(shared),
        )

    def _strong_matches(self, ev: _Evidence) -> dict[str, tuple[str, dict]]:
        matches: dict[str, tuple[str, dict]] = {}

        def add(individual_id: str | None, rule: str, evidence: dict) -> None:
            if individual_id is not None:
                matches.setdefault(self.survivor(individual_id), (rule, evidence))

        if ev.salesforce_id:
            add(self._by_sfid.get(ev.salesforce_id), "salesforce_id", {"salesforce_id": ev.salesforce_id})
        if ev.converted_lead_id:
            add(
                self._by_sfid.get(ev.converted_lead_id),
                "lead_conversion",
                {"lead_id": ev.converted_lead_id, "contact_id": ev.salesforce_id},
            )
        if ev.email:
            add(self._by_email.get(ev.email), "email", {"email": ev.email})
        return matches

    def _phone_match(self, ev: _Evidence, phone: str, matches: dict[str, tuple[str, dict]]) -> dict:
        """Link by phone (the call's, `ev.phone`) when it is safe; otherwise say why not
        (evidence for a line call)."""
        if self.is_shared_line(phone):
            return {"phone": phone, "reason": "shared line: the number is used by several people"}
        candidates = [
            p for p in self.people_with_phone(phone) if self._facts[p].kind == "person" and not self._conflicts(p, ev)
        ]
        if len(candidates) > 1 and ev.first and ev.last:
            candidates = [p for p in candidates if self._name_matches(p, ev)]
        if len(candidates) == 1:
            matches.setdefault(candidates[0], ("phone", {"phone": phone}))
            return {}
        if len(candidates) > 1:
            return {"phone": phone, "reason": f"ambiguous: the number belongs to {len(candidates)} people"}
        return {} if not self._by_phone.get(phone) else {"phone": phone, "reason": "the number belongs to someone else"}

    def _fuzzy_match(self, ev: _Evidence, matches: dict[str, tuple[str, dict]]) -> None:
        if not (ev.first and ev.last and (ev.company or ev.domain)):
            return
        candidates: set[str] = set()
        for org in _org_keys([ev.company], [ev.domain]):
            candidates.update(self.survivor(p) for p in self._by_surname_org.get((ev.last, org), ()))
        lookalikes = [p for p in sorted(candidates) if not self._conflicts(p, ev) and self._name_matches(p, ev)]
        found = [p for p in lookalikes if p not in matches and not any(self._records_clash(p, m) for m in matches)]
        # Two lookalikes at one company (counting one already matched by another rule):
        # the name cannot say which, so it links neither.
        if len(found) == 1 and len(lookalikes) == 1 + sum(p in matches for p in lookalikes):
            facts = self._facts[found[0]]
            same_company = bool(ev.company) and ev.company in facts.companies
            matches[found[0]] = (
                "fuzzy_name",
                {
                    "first_name": ev.first,
                    "matched_first_names": sorted(facts.first_names),
                    "last_name": ev.last,
                    **({"company": ev.company} if same_company else {"email_domain": ev.domain}),
                },
            )

    def _name_matches(self, individual_id: str, ev: _Evidence) -> bool:
        facts = self._facts[individual_id]
        return ev.last in facts.last_names and any(first_names_match(ev.first, f) for f in facts.first_names)

    def _records_clash(self, a: str, b: str) -> bool:
        """Both are known by different records of the same Salesforce object."""
        kinds_a = {
            kind for sfid, kind in self._facts[a].salesforce_ids.items() if sfid not in self._facts[b].salesforce_ids
        }
        kinds_b = {
            kind for sfid, kind in self._facts[b].salesforce_ids.items() if sfid not in self._facts[a].salesforce_ids
        }
        return bool(kinds_a & kinds_b)

    def _conflicts(self, individual_id: str, ev: _Evidence) -> bool:
        """Evidence that this call is about somebody else than that person."""
        facts = self._facts[individual_id]
        if (
            ev.salesforce_id
            and ev.salesforce_id not in facts.salesforce_ids
            and ev.salesforce_kind in facts.salesforce_ids.values()
        ):
            return True  # two different Contacts (or Leads): Salesforce keeps them apart
        if ev.last and facts.last_names and ev.last not in facts.last_names:
            return True
        return bool(
            ev.first and facts.first_names and not any(first_names_match(ev.first, f) for f in facts.first_names)
        )

    # --- mutation --------------------------------------------------------------------

    def _create(self, kind: IndividualKind) -> str:
        individual_id = self._new_id()
        self._facts[individual_id] = _Facts(individual_id, kind)
        return individual_id

    def _line_for(self, phone: str) -> str | None:
        line = self._line_by_phone.get(phone)
        return self.survivor(line) if line else None

    def _merge(self, survivor: str, merged: str, rule: str, evidence: dict) -> Merge:
        self._facts[survivor].absorb(self._facts.pop(merged))
        self._merged_into[merged] = survivor
        self._index_surname_org(self._facts[survivor])
        return Merge(survivor, merged, rule, evidence)

    def _attach(self, individual_id: str, ev: _Evidence, who: Person, call_id: str, rule: str):
        """Record every identifier of this call on the person; report the new ones."""
        facts = self._facts[individual_id]
        links: list[Link] = []
        evidence = {"call_id": call_id, "matched_by": rule}

        def link(kind: str, value: str, display: str | None, link_rule: str = rule) -> None:
            links.append(Link(individual_id, kind, value, display, link_rule, evidence))

        if ev.salesforce_id and ev.salesforce_id not in facts.salesforce_ids:
            facts.salesforce_ids[ev.salesforce_id] = ev.salesforce_kind or ""
            self._by_sfid[ev.salesforce_id] = individual_id
            link("salesforce_id", ev.salesforce_id, ev.salesforce_kind)
        if ev.converted_lead_id and ev.converted_lead_id not in facts.salesforce_ids:
            facts.salesforce_ids[ev.converted_lead_id] = "lead"
            self._by_sfid[ev.converted_lead_id] = individual_id
            link("salesforce_id", ev.converted_lead_id, "lead", "lead_conversion")
        if ev.email and ev.email not in facts.emails:
            facts.emails.add(ev.email)
            self._by_email[ev.email] = individual_id
            if ev.domain:
                facts.domains.add(ev.domain)
            link("email", ev.email, who.email)
        shared: list[str] = []
        if ev.phone and ev.phone not in facts.phones:
            was_shared = self.is_shared_line(ev.phone)
            facts.phones.add(ev.phone)
            self._by_phone.setdefault(ev.phone, set()).add(individual_id)
            link("phone", ev.phone, who.phone)
            if not was_shared and self.is_shared_line(ev.phone):
                shared.append(ev.phone)
        if ev.last and (ev.first, ev.last) not in facts.names:
            self._add_name(facts, ev.first, ev.last)
            link("name", f"{ev.first}|{ev.last}", " ".join(filter(None, [who.first_name, who.last_name])))
        if ev.company and ev.company not in facts.companies:
            facts.companies.add(ev.company)
            link("company", ev.company, who.company)
        if any(made.kind in ("name", "company", "email") for made in links):
            self._index_surname_org(facts)
        return links, shared

    def _add_name(self, facts: _Facts, first: str, last: str) -> None:
        facts.names.add((first, last))
        if first:
            facts.first_names.add(first)
        facts.last_names.add(last)

    def _index_surname_org(self, facts: _Facts) -> None:
        for last in facts.last_names:
            for org in _org_keys(facts.companies, facts.domains):
                self._by_surname_org.setdefault((last, org), set()).add(facts.id)

    def forget(self, individual_ids: Iterable[str]) -> None:
        """Erase these individuals (a survivor and everyone merged into it) and every
        identifier they hold, as if they had never been seen."""
        ids = set(individual_ids)
        for individual_id in ids:
            self._merged_into.pop(individual_id, None)
            facts = self._facts.pop(individual_id, None)
            if facts is None:
                continue
            for index, values in ((self._by_sfid, facts.salesforce_ids), (self._by_email, facts.emails)):
                for value in values:
                    if index.get(value) in ids:
                        del index[value]
            for phone in facts.phones:
                owners = self._by_phone.get(phone, set())
                owners.difference_update(ids)
                if not owners:
                    self._by_phone.pop(phone, None)
                if self._line_by_phone.get(phone) in ids:
                    del self._line_by_phone[phone]
            for last in facts.last_names:
                for org in _org_keys(facts.companies, facts.domains):
                    self._by_surname_org.get((last, org), set()).difference_update(ids)
        self.touched.update(ids)

    # --- restore from the store ------------------------------------------------------

    def restore(
        self,
        individuals: Iterable[IndividualRow],
        links: Iterable[tuple[str, str, str, str | None]],
        shared_lines: Iterable[str] = (),
    ) -> None:
        """Rebuild from persisted rows: (id, kind, merged_into), (individual_id, kind,
        value, display), and the numbers detected as shared lines (sticky: merges later
        lower the count of people on a number, but a switchboard stays a switchboard)."""
        self._shared.update(shared_lines)
        for row in individuals:
            self._facts[row.id] = _Facts(row.id, row.kind)
            if row.merged_into:
                self._merged_into[row.id] = row.merged_into
        for individual_id, kind, value, display in links:
            self._replay_link(individual_id, kind, value, display)
        for merged in list(self._merged_into):
            survivor = self.survivor(merged)
            if merged in self._facts:
                self._facts[survivor].absorb(self._facts.pop(merged))
        for facts in self._facts.values():
            self._index_surname_org(facts)

    def _replay_link(self, individual_id: str, kind: str, value: str, display: str | None) -> None:
        facts = self._facts[individual_id]
        if kind == "salesforce_id":
            facts.salesforce_ids[value] = display or ""
            self._by_sfid[value] = individual_id
        elif kind == "email":
            facts.emails.add(value)
            self._by_email[value] = individual_id
            domain = company_domain(value)
            if domain:
                facts.domains.add(domain)
        elif kind == "phone":
            facts.phones.add(value)
            self._by_phone.setdefault(value, set()).add(individual_id)
            if facts.kind == "shared_line":
                self._line_by_phone[value] = individual_id
        elif kind == "name":
            first, last = value.split("|", 1)
            self._add_name(facts, first, last)
        elif kind == "company":
            facts.companies.add(value)
