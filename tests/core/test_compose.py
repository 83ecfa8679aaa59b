"""What must be exact is assembled in code: greetings by the name people go by, the seller's
signature and introduction, the model's own greeting and sign-off cut away."""

from __future__ import annotations

import pytest

from accountflow.compose import assemble, core_text, greeting_name
from accountflow.config import load_seller
from accountflow.models import Channel, Contact

SELLER = load_seller()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Marcus Reed", "Marcus"),
        ("Dr. Andrew Lee", "Dr. Lee"),
        ("Prof Maria Rossi", "Prof. Rossi"),
        ("Ms. Tanaka", "Ms. Tanaka"),
        ("Mr. John Smith Jr.", "John"),
        ("陈志强", "陈志强"),  # family name first: the full name, never a "first name"
        ("小林 健一", "小林 健一"),
        ("José Ángel Núñez", "José"),
        ("Özlem Yılmaz", "Özlem"),
        ("فاطمة الزهراء العلي", "فاطمة"),
        (None, "there"),
    ],
)
def test_greeting_name(name: str | None, expected: str) -> None:
    assert greeting_name(Contact(name=name)) == expected


def test_a_given_greeting_name_wins() -> None:
    assert greeting_name(Contact(name="Li Na", greeting_name="Ms. Li")) == "Ms. Li"


def test_each_channel_is_framed_and_signed_by_the_seller() -> None:
    contact = Contact(name="Marcus Reed")
    email = assemble(Channel.email, contact, SELLER, "Harborline Freight moved to Snowflake.")
    assert email.startswith("Hi Marcus,\n\n")
    assert email.endswith("Best,\nMaya Chen\nAccount Executive, Mid-Market\nNorthwind Data")
    sms = assemble(Channel.sms, contact, SELLER, "Any stale dashboards?")
    assert sms == "Hi Marcus, this is Maya from Northwind Data. Any stale dashboards?"
    call = assemble(Channel.call, contact, SELLER, "I'm calling about the move.")
    assert call.startswith("Hi Marcus, this is Maya Chen from Northwind Data. ")
    assert assemble(Channel.linkedin, contact, SELLER, "Happy to connect.").endswith(" - Maya")


def test_the_models_greeting_introduction_and_signoff_are_cut() -> None:
    contact = Contact(name="Marcus Reed")
    text = (
        "Hi Marcus Reed from Northwind Data,\nThis is Maya Chen from Northwind Data. "
        "Harborline moved to Snowflake.\n\nBest regards,\nMarcus Reed\nNorthwind Data"
    )
    assert core_text(text, contact, SELLER) == "Harborline moved to Snowflake."
    assert core_text("Dear [Name], hello there.", contact, SELLER) == "Hello there."


def test_an_overlong_sms_or_linkedin_note_is_cut_back_to_whole_sentences() -> None:
    from accountflow.compose import fit_length
    from accountflow.rules import LIMITS

    contact = Contact(name="Marcus Reed")
    first = "Is Harborline Freight seeing stale dashboards since the Snowflake move?"
    long = f"{first} Teams often find out from an angry VP. We fix that fast and cheaply too."
    for channel in (Channel.sms, Channel.linkedin):
        core = fit_length(channel, contact, SELLER, long * (1 if channel == Channel.sms else 3))
        assert len(assemble(channel, contact, SELLER, core)) <= LIMITS[channel]
        assert core.startswith(first) and core.endswith((".", "?"))
    # what fits is untouched; a first sentence too long on its own is left to the rule check
    assert fit_length(Channel.sms, contact, SELLER, first) == first
    huge = "word " * 60 + "end."
    assert fit_length(Channel.sms, contact, SELLER, huge) == huge
    # one run-on sentence is cut at its last clause boundary that fits, keeping its end mark
    run_on = (
        "Are stale reports showing up at Harborline Freight since the Snowflake move, "
        "which can leave dispatch teams looking at yesterday's ETAs while the data team hunts "
        "for the broken load?"
    )
    cut = fit_length(Channel.sms, contact, SELLER, run_on)
    assert cut == "Are stale reports showing up at Harborline Freight since the Snowflake move?"
    assert len(assemble(Channel.sms, contact, SELLER, cut)) <= LIMITS[Channel.sms]
    assert fit_length(Channel.email, contact, SELLER, long * 9) == long * 9


def test_a_run_on_sms_is_replaced_by_a_sentence_of_the_email_to_the_same_contact() -> None:
    """The writer's own flow: email first, then the SMS whose run-on cannot be cut gets the
    email's sentence that fits, with the company named, and passes the rules."""
    import dspy
    from dspy.utils.dummies import DummyLM

    from accountflow.models import Account, AccountAnalysis
    from accountflow.modules import Personalizer

    account = Account(
        account_id="a",
        company_name="Harborline Freight",
        description="Harborline Freight moved its shipment data to Snowflake in 2026.",
        contacts=[
            Contact(
                contact_id="c",
                name="Marcus Reed",
                email="m@h.example",
                phone="+12125550100",
                is_primary=True,
            )
        ],
    )
    analysis = AccountAnalysis(
        fit_score=80, fit_rationale="r", approach="relationship_building", confidence=1
    )
    email_body = (
        "Harborline Freight moved its shipment data to Snowflake in 2026. "
        "Would a short call on freshness checks after the move help?"
    )
    run_on = "Harborline Freight " + "moved its shipment data to Snowflake and " * 6 + "more."
    lm = DummyLM(
        [
            {"subject": "Snowflake move", "body": email_body},
            {"message": run_on},
            {"message": run_on},
        ]
    )
    writer = Personalizer(max_rule_retries=0)
    with dspy.context(lm=lm):
        contact = account.contacts[0]
        writer.write(Channel.email, account, contact, analysis, SELLER)
        spare = [
            "Short and not enough.",  # under five words
            "Harborline Freight moved to BigQuery, a demo's fact.",  # breaks grounding
            "Harborline Freight moved its shipment data to Snowflake in 2026.",
        ]
        sms, retries = writer.write(Channel.sms, account, contact, analysis, SELLER, spare=spare)
    assert "moved its shipment data to Snowflake in 2026." in sms.body and retries == 0
    assert len(sms.body) <= 160


def test_an_sms_or_call_opener_without_the_company_gets_it_named_in_code() -> None:
    from accountflow.compose import with_company

    company = "Crestmed Health Partners"
    question = "Any stale data since the Databricks move?"
    assert with_company(Channel.sms, question, company) == f"About {company}: {question}"
    assert with_company(Channel.call, question, company).startswith(
        f"I'm calling about {company}. "
    )
    named = f"Any stale data at {company} since the Databricks move?"
    assert with_company(Channel.sms, named, company) == named
    assert with_company(Channel.linkedin, question, company) == f"About {company}: {question}"
    assert with_company(Channel.email, question, company) == question
    assert with_company(Channel.sms, "", company) == ""
    # lab-045 on the embedded model: "I'm calling about X. I'm calling about the BigQuery trial"
    own = "I'm calling about the BigQuery trial at Santaines.example. Do you have a minute?"
    assert with_company(Channel.call, own, "Viñedos Santa Inés") == (
        "I'm calling about Viñedos Santa Inés: the BigQuery trial at Santaines.example. "
        "Do you have a minute?"
    )


def test_a_colleague_reference_without_the_colleague_gets_it_stated_in_code() -> None:
    from accountflow.compose import with_referrer

    priya = Contact(name="Priya Natarajan", title="Director of Data")
    core = "Harborline Freight's dashboards may matter to you too. Open to a short call?"
    out = with_referrer(core, priya, "freshness alerts after the Snowflake cutover.")
    assert out == (
        "Your colleague Priya Natarajan, Director of Data, asked us about freshness alerts "
        f"after the Snowflake cutover. {core}"
    )
    named = "Priya asked us about alerts. Open to a call?"
    assert with_referrer(named, priya, "alerts") == named
    assert with_referrer("", priya, "alerts") == ""


def test_an_email_or_note_that_asks_nothing_ends_with_the_sellers_call_to_action() -> None:
    from accountflow.compose import with_ask
    from accountflow.rules import LIMITS

    contact = Contact(name="Marcus Reed")
    facts = "Harborline Freight moved its shipment data to Snowflake in 2026."
    ask = SELLER.call_to_action
    assert with_ask(Channel.email, contact, SELLER, facts) == f"{facts} {ask}"
    asked = f"{facts} Is freshness on your list this quarter?"
    assert with_ask(Channel.email, contact, SELLER, asked) == asked  # it asks already
    assert with_ask(Channel.sms, contact, SELLER, facts) == f"{facts} {SELLER.sms_call_to_action}"
    assert with_ask(Channel.call, contact, SELLER, facts) == facts  # a call: its own question
    full = (
        "Harborline Freight moved its shipment and billing data from Oracle to Snowflake in "
        "2026. More text."
    )
    assert len(assemble(Channel.sms, contact, SELLER, full)) <= LIMITS[Channel.sms]
    first = full.removesuffix(" More text.")
    # no room for the ask: the last sentence makes room, a sentence of five words or more stays
    assert with_ask(Channel.sms, contact, SELLER, full) == f"{first} {SELLER.sms_call_to_action}"
    long = facts + " More text." * 19
    assert len(assemble(Channel.linkedin, contact, SELLER, long)) <= LIMITS[Channel.linkedin]
    noted = with_ask(Channel.linkedin, contact, SELLER, long)
    assert noted.endswith(f"More text. {ask}") and long.startswith(noted.removesuffix(f" {ask}"))
    assert len(assemble(Channel.linkedin, contact, SELLER, noted)) <= LIMITS[Channel.linkedin]
    one = (
        "Harborline Freight moved its shipment, billing, dock and yard data from Oracle to "
        "Snowflake in 2026."
    )
    assert len(assemble(Channel.sms, contact, SELLER, one)) <= LIMITS[Channel.sms]
    assert with_ask(Channel.sms, contact, SELLER, one) == one  # one sentence, no room: as is


def test_a_sentence_casting_the_reader_as_the_asker_is_dropped_and_the_referrer_stated() -> None:
    """lab-041 on the embedded model, written to Sunita: the sentence naming her as the
    colleague who asked goes; the real referrer's sentence stays (or is stated from data)."""
    from accountflow.compose import with_referrer

    isaac = Contact(name="Isaac Brenner", title="Head of Data")
    sunita = Contact(name="Sunita Pillai", title="BI Developer")
    topic = "duplicate detection on loaded rate tables"
    core = (
        "Your colleague Isaac Brenner, Head of Data, asked us about duplicate detection. "
        "Your colleague Sunita Pillai, BI Developer, asked you about duplicate detection. "
        "You work with the same data at Corbel Freight Audit."
    )
    out = with_referrer(core, isaac, topic, sunita)
    assert "Sunita" not in out and out.startswith("Your colleague Isaac Brenner")
    only_wrong = "Your colleague Sunita Pillai asked you about it. Beacon can help at Corbel."
    out = with_referrer(only_wrong, isaac, topic, sunita)
    assert out == (
        "Your colleague Isaac Brenner, Head of Data, asked us about duplicate detection on "
        "loaded rate tables. Beacon can help at Corbel."
    )


def test_a_sentence_written_twice_is_kept_once() -> None:
    contact = Contact(name="Douglas Hart")
    rule = "A federal rule requires new prior-authorization metrics from 2027."
    text = f"{rule} Claims data is modeled in Snowflake with dbt. {rule}"
    assert core_text(text, contact, SELLER) == (
        f"{rule} Claims data is modeled in Snowflake with dbt."
    )
    once = f"{rule} Claims data is modeled in Snowflake with dbt."
    assert core_text(once, contact, SELLER) == once


def test_a_sentence_that_says_an_earlier_one_again_is_dropped() -> None:
    contact = Contact(name="Marcus Reed")
    first = "Harborline Freight moved its shipment data to Snowflake in Q2 2026."
    again = "Harborline moved its data to Snowflake in Q2."
    ask = "Would a short call help?"
    assert core_text(f"{first} {again} {ask}", contact, SELLER) == f"{first} {ask}"
    other = "Dispatchers saw stale ETA dashboards twice in August."
    assert core_text(f"{first} {other}", contact, SELLER) == f"{first} {other}"


def test_an_email_that_offers_nothing_gets_the_closest_value_proposition() -> None:
    from accountflow.compose import with_offer

    facts = "Harborline Freight moved to Snowflake in Q2 2026. Would a short call help?"
    pains = "stale ETA dashboards: dispatchers saw stale data before anyone noticed"
    out = with_offer(Channel.email, SELLER, facts, pains)
    assert out == (
        "Harborline Freight moved to Snowflake in Q2 2026. Beacon: catch stale, missing or "
        "duplicated data within minutes, before business users notice a broken dashboard. "
        "Would a short call help?"
    )
    assert with_offer(Channel.email, SELLER, out, pains) == out  # it offers something now
    named = "Harborline Freight moved to Snowflake. Beacon watches it. Worth a call?"
    assert with_offer(Channel.email, SELLER, named, pains) == named
    assert with_offer(Channel.sms, SELLER, facts, pains) == facts  # email only: no room
    # acc-002: the account's own words "data", "quality", "reporting" are not an offer
    own = "Its quality-measure reporting to CMS is built from 60 Airflow pipelines. Worth a call?"
    assert "Beacon: audit-ready" in with_offer(Channel.email, SELLER, own, "")
    audit = with_offer(Channel.email, SELLER, "Crestmed reports to HIPAA auditors.", "")
    assert "Beacon: audit-ready data quality history" in audit


def test_a_month_in_a_message_is_a_claim_the_data_must_back() -> None:
    from accountflow.grounding import ungrounded

    evidence = "Granite Peak models claims data in Snowflake with dbt."
    sms = "Any stale reports at Granite Peak since the Snowflake migration in March?"
    assert ungrounded(sms, evidence) == ["March"]
    assert ungrounded(sms, evidence + " The move finished in March 2026.") == []


def _harborline() -> tuple[object, object]:
    from accountflow.models import Account, AccountAnalysis

    account = Account(
        account_id="a",
        company_name="Harborline Freight",
        description="Harborline Freight moved its shipment data to Snowflake in 2026. "
        "Shippers read ETA dashboards in its portal.",
        contacts=[
            Contact(contact_id="c", name="Marcus Reed", email="m@h.example", is_primary=True)
        ],
    )
    analysis = AccountAnalysis(
        fit_score=80, fit_rationale="r", approach="relationship_building", confidence=1
    )
    return account, analysis


def test_a_demo_fact_that_survives_the_retries_is_cut_from_the_email_not_sent() -> None:
    """acc-004 on the embedded model: all three attempts kept the seed demo's "BigQuery" in one
    sentence and the account failed; the other sentences were sound."""
    import dspy
    from dspy.utils.dummies import DummyLM

    from accountflow.modules import Personalizer

    account, analysis = _harborline()
    leaked = {
        "subject": "Harborline Freight and the BigQuery move",
        "body": "Harborline Freight moved its shipment data to Snowflake in 2026. "
        "Its billing data also moved to BigQuery in March. "
        "Shippers read ETA dashboards in the portal every day.",
    }
    writer = Personalizer(max_rule_retries=1)
    with dspy.context(lm=DummyLM([leaked, leaked])):
        email, retries = writer.write(
            Channel.email,
            account,
            account.contacts[0],
            analysis,
            SELLER,  # type: ignore[attr-defined]
        )
    assert retries == 1  # the feedback retry came first; the cut is the last resort
    assert "BigQuery" not in f"{email.subject} {email.body}"
    assert "moved its shipment data to Snowflake in 2026." in email.body
    assert email.subject == "A question for Harborline Freight"
    assert email.body.startswith("Hi Marcus,")


def test_an_email_that_is_only_demo_facts_still_fails_after_the_retries() -> None:
    import dspy
    from dspy.utils.dummies import DummyLM

    from accountflow.errors import RuleViolationError
    from accountflow.modules import Personalizer

    account, analysis = _harborline()
    leaked = {
        "subject": "The BigQuery move",
        "body": "Your billing data moved to BigQuery in March, as Lakeshore Dental did.",
    }
    writer = Personalizer(max_rule_retries=1)
    with dspy.context(lm=DummyLM([leaked, leaked])), pytest.raises(RuleViolationError) as exc:
        writer.write(Channel.email, account, account.contacts[0], analysis, SELLER)  # type: ignore[attr-defined]
    assert "BigQuery" in str(exc.value)


def test_a_long_subject_is_cut_at_a_word_never_inside_one() -> None:
    from accountflow.compose import fit_subject

    subject = "Lakeshore Dental Partners: " + "keeping scheduling and billing data fresh " * 2
    cut = fit_subject(subject.strip())
    assert len(cut) <= 80 and subject.startswith(cut) and not cut.endswith((" ", ":"))
    assert cut.split()[-1] in subject.split()
    assert fit_subject("Short one") == "Short one"


def test_an_sms_that_is_only_the_ask_gets_a_sentence_of_the_email() -> None:
    """The README command's SMS: "Hi Marcus, this is Maya from Northwind Data. About Harborline
    Freight: Would a 20-minute call next week be useful?" said nothing about the account."""
    import dspy
    from dspy.utils.dummies import DummyLM

    from accountflow.compose import only_the_ask
    from accountflow.modules import Personalizer

    account, analysis = _harborline()
    company = "Harborline Freight"
    assert only_the_ask(
        Channel.sms,
        f"About {company}: Would a 20-minute call next week be useful?",
        company,
        SELLER,
    )
    assert not only_the_ask(
        Channel.sms, "Harborline moved its shipment data in 2026.", company, SELLER
    )
    assert not only_the_ask(
        Channel.email, "Would a 20-minute call next week be useful?", company, SELLER
    )
    email = {
        "subject": "Snowflake move",
        "body": "Harborline Freight moved its shipment data to Snowflake in 2026. "
        "Would a short call help?",
    }
    lm = DummyLM([email, {"message": "Would a 20-minute call next week be useful?"}])
    writer = Personalizer(max_rule_retries=1)
    contact = account.contacts[0]  # type: ignore[attr-defined]
    contact.phone = "+12125550100"
    with dspy.context(lm=lm):
        writer.write(Channel.email, account, contact, analysis, SELLER)
        spare = ["Harborline Freight moved its shipment data to Snowflake in 2026."]
        sms, retries = writer.write(Channel.sms, account, contact, analysis, SELLER, spare=spare)
    assert "moved its shipment data to Snowflake in 2026." in sms.body and retries == 0


def test_an_sms_that_stays_only_the_ask_is_sent_not_failed() -> None:
    import dspy
    from dspy.utils.dummies import DummyLM

    from accountflow.modules import Personalizer

    account, analysis = _harborline()
    contact = account.contacts[0]  # type: ignore[attr-defined]
    contact.phone = "+12125550100"
    ask = {"message": "Would a 20-minute call next week be useful?"}
    writer = Personalizer(max_rule_retries=1)
    with dspy.context(lm=DummyLM([ask, ask])):
        sms, retries = writer.write(Channel.sms, account, contact, analysis, SELLER)
    assert retries == 1 and "Harborline Freight" in sms.body
