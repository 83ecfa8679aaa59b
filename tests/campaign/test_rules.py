"""The pure rules, alone: titles, contacts, channels, rotation and the schedule."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from accountflow.campaign import (
    CampaignConfig,
    CampaignContact,
    CampaignSnapshot,
    ContactRole,
    Touch,
    available_channels,
    extract_contacts,
    next_touch_due,
    prioritize,
    select_channel,
    select_contact,
    title_score,
)
from accountflow.datasets import path as data_path
from accountflow.errors import InputError
from accountflow.io import load_accounts
from accountflow.models import Channel
from tests.campaign.helpers import make_lead

TITLE_SCORES: list[tuple[str | None, int]] = [
    ("CEO", 100),
    ("Co-Founder & ceo", 100),
    ("Chief Executive", 100),
    ("Chief Executive Officer", 100),
    ("CTO", 95),
    ("cio", 95),
    ("CFO", 95),
    ("COO", 95),
    ("Chief Revenue Officer", 95),
    ("Chief Information Security Officer", 95),
    ("VP Engineering", 80),
    ("Vice President, Data", 80),
    ("SVP Sales", 80),
    ("Director", 70),
    ("Director of Product", 70),
    ("Head of Analytics", 70),
    ("Engineering Manager", 50),
    ("Lead Data Engineer", 40),
    ("Team Lead", 40),
    ("Doctor", 0),
    ("Leadership Coach", 0),
    ("Chief of Staff", 0),
    ("Actor", 0),
    ("Directorate clerk", 0),
    ("", 0),
    (None, 0),
]


def test_title_score_on_whole_words() -> None:
    # one test over the table (each test pays the suite's per-test state-dir setup)
    wrong = [(t, title_score(t), s) for t, s in TITLE_SCORES if title_score(t) != s]
    assert wrong == []


def test_director_is_not_a_cto() -> None:
    assert title_score("Director") == 70 < title_score("CTO") == 95


def test_prioritize_by_title_and_ties_keep_input_order() -> None:
    people = [
        CampaignContact(contact_id=i, email=f"{i}@x.example", title=t)
        for i, t in [
            ("a", "Manager"),
            ("b", "CEO"),
            ("c", "Analyst"),
            ("d", "Manager"),
            ("e", "Director of Product"),
            ("f", "Intern"),
        ]
    ]
    assert [p.contact_id for p in prioritize(people)] == ["b", "e", "a", "d", "c", "f"]


def test_extract_contacts_lead_first_with_roles() -> None:
    extracted = extract_contacts(make_lead())
    assert [c.email for c in extracted.contacts] == [
        "marcus@harborline.example",
        "priya@harborline.example",
        "tom@harborline.example",
    ]
    assert [c.role for c in extracted.contacts] == [
        ContactRole.primary,
        ContactRole.secondary,
        ContactRole.tertiary,
    ]
    assert [c.score for c in extracted.contacts] == [95, 70, 40]
    assert extracted.rejected == []


def test_extract_contacts_rejects_dedupes_and_fills_in() -> None:
    lead = make_lead(
        account_contacts=[
            {"name": "No Mail", "title": "VP"},
            {"name": "Bad Mail", "email": "not-an-email"},
            {"name": "Shouty Marcus", "email": "MARCUS@Harborline.example"},
            {"email": "anon@harborline.example", "title": "Manager"},
            {"name": "Odd", "email": "odd@harborline.example", "fax": "123"},
            {"name": "Sam Park", "email": "sam@harborline.example", "id": "crm-7"},
            {"name": "Ann Lee", "email": "ann@harborline.example"},
        ]
    )
    extracted = extract_contacts(lead)
    reasons = {r.index: r.reason for r in extracted.rejected}
    assert reasons[1] == "no email address"
    assert reasons[2] == "malformed email 'not-an-email'"
    assert reasons[3].startswith("duplicate of marcus@harborline.example")
    assert reasons[5] == "unknown field 'fax'"
    emails = [c.email for c in extracted.contacts]
    assert emails == [
        "marcus@harborline.example",
        "anon@harborline.example",
        "sam@harborline.example",
        "ann@harborline.example",
    ]
    anon = extracted.contacts[1]
    assert anon.name == "Unknown" and anon.contact_id.startswith("ct_")
    assert anon.role == ContactRole.secondary
    assert extracted.contacts[2].contact_id == "crm-7"
    assert extracted.contacts[3].role == ContactRole.tertiary
    # generated ids are stable: the same email gets the same id in another run
    assert extract_contacts(lead).contacts[1].contact_id == anon.contact_id


def test_first_usable_contact_is_primary_when_the_lead_has_no_email() -> None:
    extracted = extract_contacts(make_lead(email=None))
    assert extracted.rejected[0].index == 0
    assert extracted.contacts[0].email == "priya@harborline.example"
    assert extracted.contacts[0].role == ContactRole.primary


def test_extract_contacts_from_an_account() -> None:
    account = next(
        a
        for a in load_accounts(data_path("accounts_demo.jsonl")).accounts
        if a.account_id == "acc-002"
    )
    extracted = extract_contacts(account)
    assert extracted.contacts[0].name == "Elaine Foster"  # the account's primary contact
    assert extracted.contacts[0].role == ContactRole.primary
    assert len(extracted.contacts) == 3


def test_a_bad_lead_field_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown field 'first_name'"):
        extract_contacts(make_lead(first_name="Marcus"))


def _contact(**kw: object) -> CampaignContact:
    return CampaignContact(contact_id="x", email="x@y.example", **kw)  # type: ignore[arg-type]


def test_available_channels_need_phone_or_profile() -> None:
    assert available_channels(_contact()) == [Channel.email]
    assert available_channels(_contact(phone="+1555")) == [Channel.email, Channel.sms, Channel.call]
    assert available_channels(_contact(linkedin_url="https://linkedin.example/in/x")) == [
        Channel.email,
        Channel.linkedin,
    ]


def test_select_channel_escalates_after_attempts() -> None:
    contact = _contact(phone="+1555")
    seen: list[Channel] = []
    for _ in range(8):
        seen.append(select_channel(seen, contact, CampaignConfig()))
    assert seen == [
        Channel.email,
        Channel.email,
        Channel.sms,
        Channel.sms,
        Channel.call,
        Channel.call,
        Channel.email,
        Channel.email,
    ]  # exhausted -> email


def test_select_channel_skips_channels_the_contact_lacks() -> None:
    seen: list[Channel] = []
    for _ in range(4):
        seen.append(select_channel(seen, _contact(), {}))
    assert seen == [Channel.email] * 4  # no phone: never sms or call


def test_select_channel_follows_custom_escalation_and_attempts() -> None:
    contact = _contact(phone="+1555", linkedin_url="https://linkedin.example/in/x")
    config = {"channel_escalation": ["linkedin", "call", "email"], "attempts_per_channel": 1}
    seen: list[Channel] = []
    for _ in range(4):
        seen.append(select_channel(seen, contact, config))
    assert seen == [Channel.linkedin, Channel.call, Channel.email, Channel.email]
    touches = [Touch(touch_number=1, contact_id="x", channel=Channel.linkedin)]
    assert select_channel(touches, contact, config) == Channel.call  # touches count too


def _people(n: int) -> list[CampaignContact]:
    titles = ["CEO", "VP Sales", "Director", "Manager", "Lead"]
    return [
        CampaignContact(contact_id=f"p{i}", email=f"p{i}@x.example", title=titles[i])
        for i in range(n)
    ]


def _rotate(
    people: list[CampaignContact], touches: int, limit: int = 3, excluded: set[str] | None = None
) -> list[str]:
    done: list[Touch] = []
    for k in range(touches):
        snap = CampaignSnapshot(
            contacts=people, touches=done, excluded=excluded or set(), max_concurrent_contacts=limit
        )
        chosen = select_contact(snap)
        assert chosen is not None
        done.append(Touch(touch_number=k + 1, contact_id=chosen.contact_id, channel="email"))
    return [t.contact_id for t in done]


def test_rotation_top_three_times_then_others_then_back() -> None:
    assert _rotate(_people(3), 7) == ["p0", "p0", "p0", "p1", "p2", "p0", "p0"]


def test_rotation_respects_max_concurrent_contacts() -> None:
    assert _rotate(_people(5), 7, limit=3) == ["p0", "p0", "p0", "p1", "p2", "p0", "p0"]
    assert _rotate(_people(5), 5, limit=1) == ["p0"] * 5
    assert _rotate(list(reversed(_people(3))), 5, limit=2) == ["p0", "p0", "p0", "p1", "p0"]


def test_rotation_never_selects_excluded_contacts() -> None:
    assert _rotate(_people(3), 5, excluded={"p0"}) == ["p1", "p1", "p1", "p2", "p1"]
    snap = CampaignSnapshot(contacts=_people(2), excluded={"p0", "p1"})
    assert select_contact(snap) is None


def test_schedule_uses_intervals_then_repeats_the_last() -> None:
    cfg = CampaignConfig(touchpoint_intervals=[2, 3], response_timeout=0)
    t = datetime(2026, 11, 2, 9)
    assert next_touch_due(t, 1, cfg) == t + timedelta(days=2)
    assert next_touch_due(t, 2, cfg) == t + timedelta(days=3)
    assert next_touch_due(t, 5, cfg) == t + timedelta(days=3)


def test_schedule_waits_for_the_response_timeout() -> None:
    t = datetime(2026, 11, 2, 9)
    fast = CampaignConfig(touchpoint_intervals=[1], response_timeout=0)
    patient = CampaignConfig(touchpoint_intervals=[1], response_timeout=72)
    assert next_touch_due(t, 1, fast) == t + timedelta(days=1)
    assert next_touch_due(t, 1, patient) == t + timedelta(hours=72)


def test_schedule_skips_weekends_with_business_days_only() -> None:
    friday = datetime(2026, 11, 6, 9)
    calendar = CampaignConfig(touchpoint_intervals=[2], response_timeout=0)
    business = CampaignConfig(touchpoint_intervals=[2], response_timeout=0, business_days_only=True)
    assert next_touch_due(friday, 1, calendar) == datetime(2026, 11, 8, 9)  # Sunday
    assert next_touch_due(friday, 1, business) == datetime(2026, 11, 10, 9)  # Tuesday
    long_wait = business.model_copy(update={"response_timeout": 24 * 8})
    assert next_touch_due(friday, 1, long_wait) == datetime(2026, 11, 16, 9)  # Sat -> Monday
