"""Output rules: channel lengths, placeholders, names and the company, as the model is told."""

from __future__ import annotations

from accountflow import rules
from accountflow.models import Channel, ColleagueMessage, OutreachMessage, OutreachPlan

NAME = "Dr. Emily Lee"
COMPANY = "Acme Corp"


def _message(channel: Channel, body: str | None = None, subject: str | None = None) -> dict:
    body = body if body is not None else f"Hi Emily, a note for Acme about {channel.value}."
    if channel == Channel.email and subject is None:
        subject = "An idea for Acme"
    return {"channel": channel, "subject": subject, "body": body}


def _plan(**overrides: dict) -> OutreachPlan:
    messages = [overrides.get(c.value, _message(c)) for c in Channel]
    return OutreachPlan(messages=[OutreachMessage(**m) for m in messages])


def _padded(length: int) -> str:
    """A body that names Emily and Acme, exactly `length` characters long."""
    start = "Hi Emily, Acme "
    return start + "x" * (length - len(start))


def test_a_good_plan_has_no_problems() -> None:
    assert rules.check_outreach(_plan(), NAME, COMPANY) == []


def test_sms_limit_is_160_characters() -> None:
    assert rules.check_outreach(_plan(sms=_message(Channel.sms, _padded(160))), NAME, COMPANY) == []
    problems = rules.check_outreach(_plan(sms=_message(Channel.sms, _padded(161))), NAME, COMPANY)
    assert len(problems) == 1
    assert "sms" in problems[0] and "161" in problems[0] and "160" in problems[0]


def test_linkedin_limit_is_300_characters() -> None:
    ok = _plan(linkedin=_message(Channel.linkedin, _padded(300)))
    assert rules.check_outreach(ok, NAME, COMPANY) == []
    long = _plan(linkedin=_message(Channel.linkedin, _padded(301)))
    problems = rules.check_outreach(long, NAME, COMPANY)
    assert len(problems) == 1 and "linkedin" in problems[0] and "300" in problems[0]


def test_email_and_call_bodies_have_no_length_limit() -> None:
    plan = _plan(
        email=_message(Channel.email, _padded(2000)), call=_message(Channel.call, _padded(900))
    )
    assert rules.check_outreach(plan, NAME, COMPANY) == []


def test_email_subject_limit_is_80_characters() -> None:
    ok = _plan(email=_message(Channel.email, subject="Acme " + "s" * 75))
    assert rules.check_outreach(ok, NAME, COMPANY) == []
    long = _plan(email=_message(Channel.email, subject="Acme " + "s" * 76))
    problems = rules.check_outreach(long, NAME, COMPANY)
    assert len(problems) == 1
    assert "email" in problems[0] and "subject" in problems[0] and "80" in problems[0]


def test_empty_email_subject() -> None:
    for subject in ("", "   "):
        plan = _plan(email=_message(Channel.email, subject=subject))
        assert rules.check_outreach(plan, NAME, COMPANY) == ["email: the subject is empty"]


def test_missing_and_duplicate_channels() -> None:
    messages = [
        _message(Channel.email),
        _message(Channel.linkedin),
        _message(Channel.linkedin),
        _message(Channel.call),
    ]
    plan = OutreachPlan(messages=[OutreachMessage(**m) for m in messages])
    problems = rules.check_outreach(plan, NAME, COMPANY)
    assert len(problems) == 2
    assert any("missing" in p and "sms" in p for p in problems)
    assert any("more than one" in p and "linkedin" in p for p in problems)


def test_every_problem_names_its_channel() -> None:
    plan = _plan(
        email=_message(Channel.email, "Hello there, [Name]!", subject="Quick idea"),
        call=_message(Channel.call, "Hi Emily, calling about your team."),
    )
    problems = rules.check_outreach(plan, NAME, COMPANY)
    assert any(p.startswith("email:") and "[Name]" in p for p in problems)
    assert any(p.startswith("email:") and "by name" in p for p in problems)
    assert any(p.startswith("email:") and "company" in p for p in problems)
    assert any(p.startswith("call:") and COMPANY in p for p in problems)
    assert not any(p.startswith(("sms", "linkedin")) for p in problems)


# ---------------------------------------------------------------- placeholders


def test_placeholders_are_found() -> None:
    cases = {
        "Hi [Name], welcome": "[Name]",
        "Hi {{first_name}}, welcome": "{{first_name}}",
        "A note for {company} today": "{company}",
        "A note for <company> today": "<company>",
        "We offer [specific value proposition].": "[specific value proposition]",
    }
    for text, expected in cases.items():
        assert expected in rules.placeholders(text), text


def test_ordinary_text_has_no_placeholders() -> None:
    for text in (
        "Hi Emily (and team), could we talk (briefly) on Tuesday?",
        "Costs dropped 30% (from $4B) after the merger; e-mail me at ann@acme.example.",
        "If x < 3 and y > 2, the {} is empty.",
    ):
        assert rules.placeholders(text) == [], text


def test_placeholder_in_a_message_is_a_problem() -> None:
    plan = _plan(linkedin=_message(Channel.linkedin, "Hi Emily, Acme and {company} are alike"))
    problems = rules.check_outreach(plan, NAME, COMPANY)
    assert problems == ["linkedin: unfilled placeholder '{company}'; write the real text instead"]


# ---------------------------------------------------------------- names


NAME_CASES = [
    ("Hi Emily, quick question", "Dr. Emily Lee", True),
    ("Dear Dr. Lee, quick question", "Dr. Emily Lee", True),
    ("HI EMILY!", "Dr. Emily Lee", True),
    ("Hi Dr., quick question", "Dr. Emily Lee", False),
    ("Hi there, quick question", "Dr. Emily Lee", False),
    ("张伟您好，我们想和您聊聊。", "张伟", True),
    ("李娜您好", "张伟", False),
    ("Hola José, ¿qué tal?", "José Álvarez", True),
    ("Estimado Sr. Álvarez:", "José Álvarez", True),
    ("Also, a quick question", "Al", False),
    ("Hi Al, a quick question", "Al", True),
    ("Hi Emilyanne, a quick question", "Dr. Emily Lee", False),
    ("Hi Sean,", "O'Brien, Sean", True),
]


def test_mentions_name() -> None:
    wrong = [c for c in NAME_CASES if rules.mentions_name(c[0], c[1]) is not c[2]]
    assert wrong == []


def test_accented_name_inside_another_word_does_not_count() -> None:
    # "José" is not a separate word in "Joséphine", just as "Al" is not one in "Also".
    assert rules.mentions_name("Bonjour Joséphine,", "José Álvarez") is False


# ---------------------------------------------------------------- company


def test_company_forms_drop_legal_suffixes() -> None:
    assert rules.company_forms("Acme Corp.") == ["Acme Corp.", "Acme"]
    assert rules.company_forms("Acme, Inc.") == ["Acme, Inc.", "Acme"]
    assert rules.company_forms("Foo Co. Ltd") == ["Foo Co. Ltd", "Foo Co.", "Foo"]
    assert rules.company_forms("Group") == ["Group"]  # a suffix alone is the whole name
    assert rules.company_forms("Harborline Freight") == ["Harborline Freight"]


COMPANY_CASES = [
    ("A note for Acme about data", "Acme Corp", True),
    ("A note for Acme about data", "Acme Corp.", True),
    ("A NOTE FOR ACME CORP.", "Acme Corp.", True),
    ("A note for Globex about data", "Acme Corp", False),
    ("A note for Harborline about data", "Harborline Freight", False),
    ("A note for Lumenpay", "Lumenpay", True),
]


def test_mentions_company() -> None:
    wrong = [c for c in COMPANY_CASES if rules.mentions_company(c[0], c[1]) is not c[2]]
    assert wrong == []


def test_company_may_appear_in_the_email_subject_only() -> None:
    plan = _plan(email=_message(Channel.email, "Hi Emily, a quick idea.", subject="Acme idea"))
    assert rules.check_outreach(plan, NAME, COMPANY) == []
    plan = _plan(email=_message(Channel.email, "Hi Emily, a quick idea.", subject="An idea"))
    assert rules.check_outreach(plan, NAME, COMPANY) == [
        "email: does not name the company (Acme Corp)"
    ]


def test_unrelated_company_fails_outreach() -> None:
    problems = rules.check_outreach(_plan(), NAME, "Globex Industries")
    assert len(problems) == 4
    assert all("Globex Industries" in p for p in problems)


# ---------------------------------------------------------------- colleague reference


def _colleague(body: str, referring_name: str = "Priya Natarajan") -> ColleagueMessage:
    return ColleagueMessage(
        target_name="Tom Brannigan",
        referring_name=referring_name,
        topic="freshness alerts",
        subject="Freshness alerts at Harborline Freight",
        body=body,
    )


def test_colleague_message_must_name_the_referrer() -> None:
    good = _colleague("Hi Tom, your colleague Priya asked us about freshness alerts.")
    assert rules.check_colleague(good, "Harborline Freight") == []

    missing = _colleague("Hi Tom, a colleague of yours asked us about freshness alerts.")
    problems = rules.check_colleague(missing, "Harborline Freight")
    assert len(problems) == 1
    assert "colleague" in problems[0] and "Priya Natarajan" in problems[0]


def test_colleague_message_checks_target_and_company_too() -> None:
    message = _colleague("Hello, your colleague Priya asked about [topic].")
    problems = rules.check_colleague(message, "Globex")
    assert any("by name" in p and "Tom Brannigan" in p for p in problems)
    assert any("[topic]" in p for p in problems)
    assert any("company" in p and "Globex" in p for p in problems)


def test_greeting_must_address_the_contact_first() -> None:
    from accountflow.models import ColleagueMessage, OutreachMessage

    late = OutreachMessage(
        channel=Channel.linkedin, body=f"Loved the news at {COMPANY}.\nAnyway, Emily: hi!"
    )
    assert any("first line must greet" in p for p in rules.check_message(late, NAME, COMPANY))
    swapped = ColleagueMessage(
        target_name="Tom Brannigan",
        referring_name="Priya Natarajan",
        topic="alerts",
        subject="s",
        body=f"Hi Priya,\n\nYour colleague Tom Brannigan asked us about alerts at {COMPANY}.",
    )
    problems = rules.check_colleague(swapped, COMPANY)
    assert any("greets Priya Natarajan, who asked us" in p for p in problems)
    right = swapped.model_copy(
        update={
            "body": f"Hi Tom, your colleague Priya Natarajan asked us about alerts at {COMPANY}."
        }
    )
    assert rules.check_colleague(right, COMPANY) == []


def test_colleague_message_must_not_cast_the_reader_as_the_one_who_asked() -> None:
    """The embedded model wrote to Sunita: "Your colleague Isaac Brenner, Head of Data, asked us
    about X. Your colleague Sunita Pillai, BI Developer, asked you about X." (lab-041)."""
    good = _colleague(
        "Hi Tom, your colleague Priya asked us about freshness alerts at Harborline Freight."
    )
    assert rules.check_colleague(good, "Harborline Freight") == []
    for body in (
        "Hi Tom, your colleague Priya asked us about freshness. Your colleague Tom Brannigan, "
        "BI Developer, asked you about it at Harborline Freight.",
        "Hi Tom, Priya asked about freshness at Harborline Freight. Tom Brannigan asked too.",
    ):
        problems = rules.check_colleague(_colleague(body), "Harborline Freight")
        assert any("is the reader" in p for p in problems), body
    subject = _colleague(
        "Hi Tom, your colleague Priya asked us about freshness at Harborline Freight."
    )
    subject.subject = "Tom Brannigan asked about freshness"
    assert any("is the reader" in p for p in rules.check_colleague(subject, "Harborline Freight"))


def test_a_subject_naming_the_reader_by_first_name_as_the_asker_is_flagged() -> None:
    """lab-046's subject to Harriet Cho: "Harriet asked us about partner settlement files"."""
    message = _colleague("Hi Tom, your colleague Priya asked us about it at Harborline Freight.")
    message.subject = "Tom asked us about freshness alerts"
    assert any("is the reader" in p for p in rules.check_colleague(message, "Harborline Freight"))
    same_first = _colleague(
        "Hi Tom, your colleague Tom asked us about it at Harborline Freight.",
        referring_name="Tom Okafor",
    )
    same_first.subject = "Tom asked us about freshness alerts"
    assert not any(
        "is the reader" in p for p in rules.check_colleague(same_first, "Harborline Freight")
    )


def test_a_subject_casting_the_reader_as_asker_is_replaced_from_the_data() -> None:
    """lab-046: "Harriet asked us about ..." to Harriet becomes "<referrer> asked us about ..."."""
    import dspy
    from dspy.utils.dummies import DummyLM

    from accountflow.config import load_seller
    from accountflow.models import Account, Contact, Inquiry
    from accountflow.modules import ColleagueReferrer

    account = Account(
        account_id="a",
        company_name="Harborline Freight",
        contacts=[
            Contact(contact_id="r", name="Priya Natarajan", email="p@h.example"),
            Contact(contact_id="t", name="Tom Brannigan", email="t@h.example"),
        ],
        inquiry=Inquiry(contact_id="r", topic="freshness alerts"),
    )
    referrer, target = account.contacts
    body = "Your colleague Priya Natarajan asked us about freshness alerts at Harborline Freight."
    lm = DummyLM([{"subject": "Tom asked about freshness alerts", "body": body}])
    with dspy.context(lm=lm):
        message, _ = ColleagueReferrer(max_rule_retries=0).write(
            account, target, referrer, "freshness alerts", load_seller()
        )
    assert message.subject == "Priya asked us about freshness alerts"
