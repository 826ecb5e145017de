"""The simulated world: accounts, the true people in them, and the messy CRM records
(Leads, Contacts, duplicates, conversions, switchboards) through which calls name them."""

from __future__ import annotations

import random
from functools import lru_cache
from itertools import accumulate

import msgspec
from faker import Faker

from contextsvc.identity import normalise_salesforce_id
from simulator.scenario import Scenario

INDUSTRIES = ["Software", "Manufacturing", "Healthcare", "Financial Services", "Retail", "Logistics", "Education"]
# (market region, the accounts' time zone, country, how their numbers start). Every number
# of an account's people is in the account's zone, as phonenumbers' area-code data says.
REGIONS = [
    ("US-East", "America/New_York", "US", ("+1212", "+1646", "+1617", "+1404", "+1305", "+1215")),
    ("US-Central", "America/Chicago", "US", ("+1312", "+1773", "+1214", "+1713", "+1512", "+1612")),
    ("US-West", "America/Los_Angeles", "US", ("+1415", "+1213", "+1310", "+1206", "+1503", "+1619")),
    ("EMEA", "Europe/London", "GB", ("+44207",)),
    ("EMEA", "Europe/Berlin", "DE", ("+4930",)),
]
DNC_LIST = "Simulated national DNC"
SEGMENTS = [("SMB", 0.5), ("Mid-Market", 0.35), ("Enterprise", 0.15)]
TITLES = [
    "VP Sales",
    "Director of Operations",
    "CFO",
    "IT Manager",
    "Head of Procurement",
    "COO",
    "Sales Operations Manager",
    "CTO",
    "Office Manager",
    "Marketing Director",
]
NICKNAMES = {
    "Robert": "Bob",
    "William": "Bill",
    "Elizabeth": "Liz",
    "Michael": "Mike",
    "James": "Jim",
    "Katherine": "Kate",
    "Jennifer": "Jen",
    "Richard": "Rick",
    "Thomas": "Tom",
    "Christopher": "Chris",
    "Margaret": "Peggy",
    "Joseph": "Joe",
    "Daniel": "Dan",
    "Patricia": "Pat",
    "Anthony": "Tony",
    "Steven": "Steve",
    "Matthew": "Matt",
    "Andrew": "Andy",
    "Nicholas": "Nick",
    "Samuel": "Sam",
}
_ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Account(msgspec.Struct):
    id: str  # Salesforce Account id (001…)
    name: str
    domain: str
    industry: str
    region: str
    time_zone: str  # IANA: where the account and its people are
    country: str
    segment: str
    switchboard: str | None  # E.164 main number shared by several people


class Record(msgspec.Struct, omit_defaults=True):
    """One CRM record of a person, exactly as calls linked to it will name them."""

    record_id: str  # 18-char Salesforce id
    kind: str  # contact | lead
    first_name: str
    last_name: str
    company: str
    title: str | None = None
    email: str | None = None
    phone: str | None = None  # as written in the CRM (any format)
    converted_lead_id: str | None = None  # set on a Contact converted from a Lead
    id_as_sent: str | None = None  # 15- or 18-char form the CTI sends


class Person(msgspec.Struct):
    id: str  # ground-truth person id
    first_name: str
    last_name: str
    title: str
    account: int
    email: str
    phone: str | None  # direct E.164 line, or None (reached through the switchboard)
    bad_number: bool
    reachability: float
    records: list[Record]


class Rep(msgspec.Struct):
    id: str  # Salesforce User id (005…)
    team: str


class World(msgspec.Struct):
    accounts: list[Account]
    people: list[Person]
    reps: list[Rep]
    dnc: list[str] = []  # E.164 numbers on DNC_LIST: some prospects' direct lines, and strangers' numbers


def salesforce_id(rng: random.Random, prefix: str) -> str:
    return normalise_salesforce_id(prefix + "".join(rng.choice(_ID_CHARS) for _ in range(12)))


def _phone(rng: random.Random, prefixes: tuple[str, ...] = REGIONS[0][3], used: set[str] | None = None) -> str:
    """A number in the account's zone (a NANP area code, or a London / Berlin number), and
    with `used`, one nobody has yet: a few area codes hold only tens of millions of
    numbers, so thousands of draws would otherwise collide now and then."""
    while True:
        number = f"{rng.choice(prefixes)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        if used is None or number not in used:
            if used is not None:
                used.add(number)
            return number


def prefixes_of(account: Account) -> tuple[str, ...]:
    return next(r[3] for r in REGIONS if r[1] == account.time_zone)


_STYLES = ["e164", "nanp", "digits", "spaced", "extension"]


@lru_cache(maxsize=8)
def _format_weights(formats) -> list[float]:
    return list(accumulate(getattr(formats, style) for style in _STYLES))


def written(e164: str, rng: random.Random, scenario: Scenario) -> str:
    """An E.164 number the way CRMs and dialers write it (docs/sources.md, S49)."""
    style = rng.choices(_STYLES, cum_weights=_format_weights(scenario.population.phone_formats))[0]
    if not e164.startswith("+1"):
        return e164 if style == "e164" else "00" + e164[1:]
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return {
        "e164": e164,
        "nanp": f"({area}) {exchange}-{line}",
        "digits": f"{area}{exchange}{line}",
        "spaced": rng.choice(
            [f"{area}.{exchange}.{line}", f"+1 {area} {exchange} {line}", f"001 {area} {exchange} {line}"]
        ),
        "extension": f"({area}) {exchange}-{line} x{rng.randint(10, 999)}",
    }[style]


def _variant_first(first: str, rng: random.Random, scenario: Scenario) -> str:
    roll = rng.random()
    if roll < scenario.population.nickname_share and first in NICKNAMES:
        return NICKNAMES[first]
    if roll > 1 - scenario.population.typo_share and len(first) >= 6:
        i = rng.randrange(1, len(first) - 2)
        return first[:i] + first[i + 1] + first[i] + first[i + 2 :]  # transposition typo
    return first


def _email_variant(email: str, rng: random.Random, scenario: Scenario) -> str:
    if rng.random() < scenario.population.email_case_share:
        local, domain = email.split("@")
        return f"{local.capitalize()}@{domain.upper() if rng.random() < 0.5 else domain}"
    return email


def build_world(scenario: Scenario) -> World:
    rng = random.Random(scenario.seed)
    fake = Faker("en_US")
    fake.seed_instance(scenario.seed)
    pop = scenario.population
    accounts = []
    used_numbers: set[str] = set()
    for i in range(pop.accounts):
        name = fake.company()
        region, time_zone, country, prefixes = rng.choice(REGIONS)
        slug = "".join(c for c in name.lower().split(",")[0].split()[0] if c.isalnum()) or "acct"
        accounts.append(
            Account(
                id=salesforce_id(rng, "001"),
                name=name,
                domain=f"{slug}{i}.com",
                industry=rng.choice(INDUSTRIES),
                region=region,
                time_zone=time_zone,
                country=country,
                segment=rng.choices([s for s, _ in SEGMENTS], [w for _, w in SEGMENTS])[0],
                switchboard=_phone(rng, prefixes, used_numbers) if rng.random() < pop.switchboard_share else None,
            )
        )
    alpha, beta = scenario.outbound.reachability
    people: list[Person] = []
    used_emails: set[str] = set()
    for a, account in enumerate(accounts):
        for _ in range(rng.randint(*pop.people_per_account)):
            first = rng.choice(list(NICKNAMES)) if rng.random() < 0.3 else fake.first_name()
            last = fake.last_name()
            email = f"{first.lower()}.{last.lower()}@{account.domain}".replace("'", "")
            while email in used_emails:
                email = email.replace("@", f"{rng.randint(1, 9)}@", 1)
            used_emails.add(email)
            direct = (
                None if account.switchboard and rng.random() < 0.5 else _phone(rng, prefixes_of(account), used_numbers)
            )
            person = Person(
                id=f"P{len(people) + 1:06d}",
                first_name=first,
                last_name=last,
                title=rng.choice(TITLES),
                account=a,
                email=email,
                phone=direct,
                bad_number=direct is not None and rng.random() < pop.bad_number_share,
                reachability=0.0 if rng.random() < 0.10 else rng.betavariate(alpha, beta),
                records=[],
            )
            person.records = _records(person, account, rng, scenario, used_numbers)
            people.append(person)
    reps = [Rep(salesforce_id(rng, "005"), f"Team {1 + i % pop.teams}") for i in range(pop.reps)]
    return World(accounts, people, reps, _dnc_list(people, scenario))


def _dnc_list(people: list[Person], scenario: Scenario) -> list[str]:
    """A do-not-call list naming some prospects' direct lines and numbers of people who are
    not prospects. Its own random stream: the rest of the world does not change with it."""
    rng = random.Random(scenario.seed * 7919 + 19)
    listed = [p.phone for p in people if p.phone and rng.random() < scenario.population.dnc_share]
    strangers = [_phone(rng, REGIONS[i % len(REGIONS)][3]) for i in range(200)]
    return sorted(set(listed + strangers))


def _records(person: Person, account: Account, rng: random.Random, scenario: Scenario, used: set[str]) -> list[Record]:
    pop = scenario.population
    phone = person.phone or account.switchboard or _phone(rng, prefixes_of(account), used)

    def record(kind: str, **extra) -> Record:
        record_id = salesforce_id(rng, "003" if kind == "contact" else "00Q")
        return Record(
            record_id=record_id,
            kind=kind,
            first_name=_variant_first(person.first_name, rng, scenario),
            last_name=person.last_name,
            company=account.name,
            title=person.title if rng.random() < 0.8 else None,
            email=_email_variant(person.email, rng, scenario),
            phone=written(phone, rng, scenario),
            id_as_sent=record_id if rng.random() < 0.7 else record_id[:15],
            **extra,
        )

    roll = rng.random()
    if roll < pop.converted_lead_share:
        # A Lead (with a personal email, so nothing but the conversion joins them) that
        # became a Contact: calls on the Contact carry the Lead id as evidence.
        lead = record("lead")
        lead.email = f"{person.first_name.lower()}.{person.id[1:]}@gmail.com"  # unique: one person's address
        lead.phone = written(_phone(rng, prefixes_of(account), used), rng, scenario)
        contact = record("contact", converted_lead_id=lead.record_id)
        return [lead, contact]
    primary = record("lead" if rng.random() < pop.lead_share else "contact")
    if roll > 1 - pop.duplicate_share:
        # The duplicate shares the person's email (perhaps in another case): Salesforce's
        # standard Lead-vs-Contact rule warns but saves it (docs/sources.md, S45).
        duplicate = record("contact" if primary.kind == "lead" else "lead")
        return [primary, duplicate]
    return [primary]
