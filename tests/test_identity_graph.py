"""Identity resolution rules, exercised on the pure graph (no I/O)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from contextsvc.identity.graph import IndividualRow
from contextsvc.identity.identifiers import normalise_salesforce_id
from tests.helpers import graph, person

CONTACT = normalise_salesforce_id("0035e00000ABcdE")
CONTACT_2 = normalise_salesforce_id("0035e00000ZZzzZ")
LEAD = normalise_salesforce_id("00Q5e00000XyZab")
LEAD_2 = normalise_salesforce_id("00Q5e00000QqQqQ")


def test_same_salesforce_record_is_one_person_whatever_else_changes():
    g = graph()
    a = g.resolve("c1", person(salesforce_id=CONTACT, salesforce_kind="contact", first_name="Bob", last_name="Smith"))
    b = g.resolve("c2", person(salesforce_id=CONTACT, salesforce_kind="contact", email="new@else.com"))
    assert a.individual_id == b.individual_id
    assert b.rule == "salesforce_id"


def test_same_email_is_one_person():
    g = graph()
    a = g.resolve("c1", person(email="bob@acme.com", last_name="Smith"))
    b = g.resolve("c2", person(email="bob@acme.com"))
    assert a.individual_id == b.individual_id and b.rule == "email"


def test_same_phone_is_one_person_when_names_agree():
    g = graph()
    a = g.resolve("c1", person(phone="+12125550142", first_name="Robert", last_name="Smith"))
    b = g.resolve("c2", person(phone="+12125550142", first_name="Bob", last_name="Smith"))
    c = g.resolve("c3", person(phone="+12125550142"))  # inbound caller id only
    assert a.individual_id == b.individual_id == c.individual_id
    assert (b.rule, c.rule) == ("phone", "phone")


def test_a_phone_does_not_link_people_whose_names_differ():
    g = graph()
    a = g.resolve("c1", person(phone="+12125550100", first_name="Ann", last_name="Lee"))
    b = g.resolve("c2", person(phone="+12125550100", first_name="Raj", last_name="Patel"))
    assert a.individual_id != b.individual_id


def test_lead_conversion_joins_the_lead_and_its_contact():
    g = graph()
    lead = g.resolve("c1", person(salesforce_id=LEAD, salesforce_kind="lead", email="bob@gmail.com", last_name="Smith"))
    contact = g.resolve(
        "c2", person(salesforce_id=CONTACT, salesforce_kind="contact", last_name="Smith", first_name="Robert")
    )
    assert lead.individual_id != contact.individual_id  # no evidence yet
    evidence = g.resolve(
        "c3", person(salesforce_id=CONTACT, salesforce_kind="contact", converted_lead_id=LEAD, last_name="Smith")
    )
    assert len(evidence.merges) == 1
    merge = evidence.merges[0]
    assert {merge.survivor_id, merge.merged_id} == {lead.individual_id, contact.individual_id}
    assert merge.rule == "lead_conversion" and merge.evidence["lead_id"] == LEAD
    assert g.survivor(lead.individual_id) == g.survivor(contact.individual_id) == evidence.individual_id
    # The lead's own identifiers now lead to the survivor too.
    assert g.resolve("c4", person(email="bob@gmail.com")).individual_id == evidence.individual_id


def test_lead_and_contact_sharing_an_email_are_merged():
    g = graph()
    lead = g.resolve("c1", person(salesforce_id=LEAD, salesforce_kind="lead", email="ann@corp.com"))
    contact = g.resolve("c2", person(salesforce_id=CONTACT, salesforce_kind="contact", phone="+12125550111"))
    both = g.resolve("c3", person(salesforce_id=CONTACT, salesforce_kind="contact", email="ANN@corp.com".lower()))
    assert [m.rule for m in both.merges] == ["email"]
    assert g.survivor(lead.individual_id) == g.survivor(contact.individual_id)


def test_switchboard_stops_linking_once_more_than_k_people_use_it():
    g = graph(shared_line_threshold=3)
    board = "+12125550000"
    people = [
        g.resolve(f"c{i}", person(phone=board, first_name=first, last_name=last, company="Acme")).individual_id
        for i, (first, last) in enumerate(
            [("Ann", "Lee"), ("Raj", "Patel"), ("Tom", "Ng"), ("Eve", "Diaz"), ("Li", "Wu")]
        )
    ]
    assert len(set(people)) == 5, "five different people at one switchboard stay five people"
    assert g.is_shared_line(board)
    # An inbound call from the switchboard with nothing else cannot be pinned on anyone.
    anonymous = g.resolve("c9", person(phone=board))
    assert anonymous.individual_id not in people
    assert anonymous.rule == "unattributed_phone"
    assert g.resolve("c10", person(phone=board)).individual_id == anonymous.individual_id


def test_listed_shared_numbers_never_link():
    g = graph(shared_phones={"+18005550199"})
    a = g.resolve("c1", person(phone="+18005550199"))
    b = g.resolve("c2", person(phone="+18005550199", first_name="Bob", last_name="Smith"))
    assert a.individual_id != b.individual_id


def test_nickname_plus_last_name_plus_company_is_one_person():
    g = graph()
    a = g.resolve(
        "c1", person(email="robert.smith@acme.com", first_name="Robert", last_name="Smith", company="Acme Inc")
    )
    b = g.resolve("c2", person(phone="+12125550177", first_name="Bob", last_name="Smith", company="ACME"))
    assert b.individual_id == a.individual_id
    assert b.rule == "fuzzy_name" and b.evidence["company"] == "acme"


def test_typo_in_first_name_matches_by_email_domain():
    g = graph()
    a = g.resolve("c1", person(email="michael.o@acme.com", first_name="Michael", last_name="Obrien"))
    b = g.resolve("c2", person(email="mike.obrien@acme.com", first_name="Micheal", last_name="O'Brien"))
    assert b.individual_id == a.individual_id and b.evidence["email_domain"] == "acme.com"


def test_different_people_at_one_company_are_not_merged():
    g = graph()
    # Lookalikes that are different people (one letter apart, same initial, short names),
    # plus a near-identical surname. (Jack~John is not here: Jack *is* a nickname of John.)
    names = [
        ("John", "Smith"),
        ("Jane", "Smith"),
        ("Mark", "Smith"),
        ("Mary", "Smith"),
        ("Brian", "Smith"),
        ("Bruce", "Smith"),
        ("Jon", "Smyth"),
    ]
    ids = {
        g.resolve(
            f"c{i}", person(phone=f"+1212555010{i}", first_name=first, last_name=last, company="Acme")
        ).individual_id
        for i, (first, last) in enumerate(names)
    }
    assert len(ids) == len(names)


def test_two_distinct_contacts_with_lookalike_names_stay_apart():
    g = graph()
    a = g.resolve(
        "c1",
        person(salesforce_id=CONTACT, salesforce_kind="contact", first_name="Chris", last_name="Lee", company="Acme"),
    )
    b = g.resolve(
        "c2",
        person(
            salesforce_id=CONTACT_2,
            salesforce_kind="contact",
            first_name="Christopher",
            last_name="Lee",
            company="Acme",
        ),
    )
    assert a.individual_id != b.individual_id


def test_fuzzy_rule_needs_a_shared_company_or_domain():
    g = graph()
    a = g.resolve("c1", person(first_name="Robert", last_name="Smith", company="Acme"))
    b = g.resolve("c2", person(first_name="Bob", last_name="Smith", company="Globex"))
    c = g.resolve("c3", person(first_name="Bob", last_name="Smith", email="bob@gmail.com"))
    assert len({a.individual_id, b.individual_id, c.individual_id}) == 3


def test_calls_without_identifiers_are_unidentified():
    assert graph().resolve("c1", person()).individual_id is None


def test_merge_reports_each_absorbed_person_once():
    g = graph()
    a = g.resolve("c1", person(salesforce_id=LEAD, salesforce_kind="lead"))
    b = g.resolve("c2", person(email="x@y.com"))
    c = g.resolve("c3", person(phone="+12125550123"))
    d = g.resolve("c4", person(salesforce_id=LEAD, salesforce_kind="lead", email="x@y.com", phone="+12125550123"))
    assert d.individual_id == a.individual_id  # the oldest survives
    assert sorted(m.merged_id for m in d.merges) == sorted([b.individual_id, c.individual_id])
    assert {m.rule for m in d.merges} == {"email", "phone"}


# --- restore: the persisted links rebuild an equivalent graph ----------------------------

people_strategy = st.builds(
    lambda sf, email, phone, name, company: person(
        salesforce_id=sf and normalise_salesforce_id(sf),
        salesforce_kind=sf and ("lead" if sf.startswith("00Q") else "contact"),
        email=email,
        phone=phone,
        first_name=name and name[0],
        last_name=name and name[1],
        company=company,
    ),
    st.one_of(st.none(), st.sampled_from(["0035e00000AAAAA", "0035e00000BBBBB", "00Q5e00000CCCCC", "00Q5e00000DDDDD"])),
    st.one_of(st.none(), st.sampled_from(["a@acme.com", "b@acme.com", "c@gmail.com"])),
    st.one_of(st.none(), st.sampled_from(["+12125550001", "+12125550002", "+12125550003"])),
    st.one_of(
        st.none(),
        st.sampled_from([("Bob", "Smith"), ("Robert", "Smith"), ("Ann", "Lee"), ("Anne", "Lee"), ("Raj", "Patel")]),
    ),
    st.one_of(st.none(), st.sampled_from(["Acme", "Globex"])),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(people_strategy, min_size=1, max_size=25), st.lists(people_strategy, min_size=1, max_size=10))
def test_a_graph_restored_from_its_links_resolves_like_the_original(history, probes):
    live = graph(shared_line_threshold=2)
    individuals: dict[str, str] = {}
    links = []
    shared: list[str] = []  # what the writer stores in shared_lines as they are detected
    for i, who in enumerate(history):
        res = live.resolve(f"h{i}", who)
        if res.created:
            individuals[res.individual_id] = res.created
        links += [(link.individual_id, link.kind, link.value, link.display) for link in res.links]
        shared += res.shared_lines
    rows = [
        IndividualRow(i, kind, None if live.survivor(i) == i else live.survivor(i)) for i, kind in individuals.items()
    ]
    restored = graph(first_id=len(individuals) + 1, shared_line_threshold=2)
    restored.restore(rows, links, shared)
    for i, who in enumerate(probes):
        a, b = live.resolve(f"p{i}", who), restored.resolve(f"p{i}", who)
        assert (a.rule, bool(a.merges), a.created) == (b.rule, bool(b.merges), b.created)
        if not a.created:
            assert live.survivor(a.individual_id) == restored.survivor(b.individual_id)


def test_a_fuzzy_lookalike_never_joins_two_different_contacts_anchored_by_another_rule():
    g = graph()
    robert = g.resolve(
        "c1",
        person(
            salesforce_id=CONTACT, salesforce_kind="contact", first_name="Robert", last_name="Smith", company="Acme"
        ),
    )
    bob = g.resolve(
        "c2",
        person(
            salesforce_id=CONTACT_2,
            salesforce_kind="contact",
            first_name="Bob",
            last_name="Smith",
            company="Acme",
            email="bob@acme.com",
        ),
    )
    call = g.resolve("c3", person(email="bob@acme.com", first_name="Bob", last_name="Smith", company="Acme"))
    assert call.individual_id == bob.individual_id and not call.merges
    assert g.survivor(robert.individual_id) != g.survivor(bob.individual_id)
