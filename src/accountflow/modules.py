"""The `dspy.Module`s, one per step (`steps.py` wires each; `pipeline.py` composes them).

Optimizers and evals see these through `AccountPipeline`; the orchestrator calls the same
submodules one step at a time so it can record each. Modules own their output rules: a broken
rule goes back to the model as `feedback` for a bounded number of retries, and then fails with
the rule named.
"""

from __future__ import annotations

from collections.abc import Sequence

import dspy

from accountflow import fit
from accountflow.compose import (
    assemble,
    core_text,
    fit_length,
    fit_subject,
    frame_length,
    greeting_name,
    only_the_ask,
    with_ask,
    with_company,
    with_offer,
    with_referrer,
)
from accountflow.errors import RuleViolationError
from accountflow.grounding import evidence_text, invented_claims, watched_names
from accountflow.models import (
    Account,
    AccountAnalysis,
    Channel,
    ColleagueMessage,
    CompanyProfile,
    Contact,
    FactSource,
    KeyFact,
    OutreachMessage,
    OutreachPlan,
    ResearchMaterial,
    SellerProfile,
    person_keys,
    size_band,
)
from accountflow.prompts import analysis_text, contact_text, profile_text, sources_text
from accountflow.rules import (
    LIMITS,
    SUBJECT_LIMIT,
    RuleContext,
    casts_reader_as_asker,
    check_colleague,
    check_message,
    content_problems,
    grounded_sentences,
    internal_runs,
)
from accountflow.seed_demos import channel_demos, colleague_demos, email_demos
from accountflow.signatures import (
    AnalyzeAccount,
    ResearchCompany,
    WriteChannelMessage,
    WriteColleagueReference,
    WriteEmail,
)
from accountflow.text import content_stems, overlap, split_sentences


def _feedback(problems: list[str], note: str | None) -> str:
    parts = []
    if note:
        parts.append(f"Reviewer note: {note}")
    if problems:
        parts.append("Your previous answer broke these rules: " + "; ".join(problems))
    return "\n".join(parts)


class Researcher(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.predict = dspy.Predict(ResearchCompany)

    def forward(
        self, account: Account, material: ResearchMaterial | None = None
    ) -> dspy.Prediction:
        facts = account.facts_for_prompt()
        profile = self.predict(account=facts, sources=sources_text(material)).profile
        if account.employee_count is not None:
            profile.size_band = size_band(account.employee_count)
        attribute_facts(profile, facts, material)
        # the 0.5B model listed one page sentence three times: a fact counts once
        unique: dict[str, KeyFact] = {}
        for fact in profile.key_facts:
            unique.setdefault(fit.normalise(fact.fact), fact)
        profile.key_facts = list(unique.values())
        return dspy.Prediction(profile=profile)


SOURCE_MATCH = 0.6  # share of a fact's content stems one page must have to be its source


def attribute_facts(
    profile: CompanyProfile, account_text: str, material: ResearchMaterial | None
) -> None:
    """Where each key fact came from is decided in code, not taken from the model's tag: a
    fact whose names and numbers and most of whose content words are in one page or document
    is tagged `web`/`docs` with that URL (unless the account row already says it); a fact
    tagged web/docs that no text backs is the model's own (`model_knowledge`, which no claim
    may rest on). Account-data facts are checked by the eval's `fact_sources` metric."""
    texts = material.texts if material is not None else []
    account_stems = content_stems(account_text)
    for fact in profile.key_facts:
        stems = content_stems(fact.fact)
        best, best_share = None, 0.0
        for item in texts:
            share = overlap(stems, content_stems(item.text)) if stems else 0.0
            if share > best_share and not invented_claims(fact.fact, item.text)[1]:
                best, best_share = item, share
        in_account = bool(stems) and overlap(stems, account_stems) >= SOURCE_MATCH
        if best is not None and best_share >= SOURCE_MATCH and not in_account:
            fact.source = FactSource(best.kind)
            fact.url = best.url
        elif fact.source in (FactSource.web, FactSource.docs):
            fact.source = FactSource.account_data if in_account else FactSource.model_knowledge
            fact.url = None
        else:
            fact.url = None


def research_evidence(profile: CompanyProfile | None) -> str:
    """The research facts that may back a claim (not the model's own knowledge)."""
    if profile is None:
        return ""
    return "\n".join(f.fact for f in profile.key_facts if f.source != FactSource.model_knowledge)


class PainPointAnalyst(dspy.Module):
    """Criterion judgments and pain points from the model; the fit score, rationale and
    confidence computed from them in code (`accountflow.fit`)."""

    def __init__(self) -> None:
        super().__init__()
        self.predict = dspy.Predict(AnalyzeAccount)

    def forward(
        self, account: Account, profile: CompanyProfile, seller: SellerProfile
    ) -> dspy.Prediction:
        facts = account.facts_for_prompt()
        draft = self.predict(
            seller=seller.for_prompt(),
            criteria=fit.criteria_text(seller),
            account=facts,
            profile=profile_text(profile),
        ).analysis
        evidence = f"{facts}\n{research_evidence(profile)}"
        analysis = fit.analyse(account, seller, draft, facts, evidence)
        analysis.facts = [
            f for f in profile.key_facts if f.source in (FactSource.web, FactSource.docs)
        ]
        return dspy.Prediction(analysis=analysis)


def length_text(channel: Channel, contact: Contact, seller: SellerProfile) -> str:
    """The room the model has: the channel's limit minus the greeting and introduction that
    code adds around its text."""
    if channel == Channel.call:
        return "one or two sentences, at most 40 words"
    room = LIMITS[channel] - frame_length(channel, contact, seller) - 5
    return f"at most {room} characters, spaces included"


def demo_texts(predictor: dspy.Predict) -> tuple[str, ...]:
    """The written parts of a predictor's demos (seed or optimized): what a message must not
    copy and whose names count as claims."""
    out = []
    for demo in predictor.demos:
        for key in ("subject", "body", "message"):
            value = demo.get(key) if hasattr(demo, "get") else None
            if isinstance(value, str) and value.strip():
                out.append(value)
    return tuple(out)


def rule_context(
    account: Account,
    seller: SellerProfile,
    predictor: dspy.Predict,
    analysis: AccountAnalysis | None = None,
) -> RuleContext:
    """What a message is checked against; the analysis's website and document facts (verified
    against their pages by the research step) back claims like the account row does."""
    demos = demo_texts(predictor)
    sourced = [f.fact for f in analysis.facts] if analysis is not None else []
    return RuleContext(
        evidence="\n".join([evidence_text(account, seller), *sourced]),
        watched=frozenset(watched_names(seller, demos)),
        demos=demos,
        account_text=evidence_text(account, None),
        footer=seller.compliance_footer,
        internal_runs=internal_runs(account.notes, account.facts_for_prompt(internal=False)),
    )


def writer_analysis(analysis: AccountAnalysis, context: RuleContext) -> str:
    """The analysis as the writing steps see it: only lines that pass the messages' own
    content rules (acc-002's email quoted the CRM notes through a pain point's evidence; an
    opportunity's "SaaS", which the account never says, went into lab-043's email through every
    retry). The stored analysis keeps them all."""
    return analysis_text(analysis, lambda line: not content_problems("analysis", line, context))


def channel_sequence(contact: Contact) -> list[Channel]:
    """Escalation order over the channels this contact can actually be reached on."""
    reachable = {
        Channel.email: bool(contact.email),
        Channel.linkedin: bool(contact.linkedin_url),
        Channel.sms: bool(contact.phone),
        Channel.call: bool(contact.phone),
    }
    sequence = [c for c in Channel if reachable[c]]
    return sequence or list(Channel)


class Personalizer(dspy.Module):
    """Outreach for one contact, one call per channel; each channel's rule violations go back to
    the model as feedback up to `max_rule_retries` times, then the step fails naming the rule.
    With `reuse_sentences` a later channel whose text breaks a rule first tries the sentences
    already written to this contact (`write`'s `spare`)."""

    def __init__(
        self, max_rule_retries: int = 2, seed_demos: bool = True, reuse_sentences: bool = True
    ) -> None:
        super().__init__()
        self.reuse_sentences = reuse_sentences
        self.email = dspy.Predict(WriteEmail)
        self.linkedin = dspy.Predict(WriteChannelMessage)
        self.sms = dspy.Predict(WriteChannelMessage)
        self.call = dspy.Predict(WriteChannelMessage)
        self.max_rule_retries = max_rule_retries
        if seed_demos:
            self.email.demos = email_demos()
            for channel in (Channel.linkedin, Channel.sms, Channel.call):
                getattr(self, channel.value).demos = channel_demos(channel)

    def forward(
        self,
        account: Account,
        contact: Contact,
        analysis: AccountAnalysis,
        seller: SellerProfile,
        note: str | None = None,
    ) -> dspy.Prediction:
        messages: list[OutreachMessage] = []
        retries = 0
        footer = seller.compliance_footer
        for channel in Channel:
            spare = [
                sentence
                for m in (messages if self.reuse_sentences else [])
                for sentence in split_sentences(
                    core_text(m.body.replace(footer, "") if footer else m.body, contact, seller)
                )
            ]
            try:
                message, attempts = self.write(
                    channel, account, contact, analysis, seller, note, spare=spare
                )
            except RuleViolationError as exc:
                exc.rule_retries += retries  # the earlier channels' retries count too
                raise
            messages.append(message)
            retries += attempts
        plan = OutreachPlan(
            contact_name=contact.name or "",
            messages=messages,
            recommended_sequence=channel_sequence(contact),
        )
        return dspy.Prediction(plan=plan, rule_retries=retries)

    def write(
        self,
        channel: Channel,
        account: Account,
        contact: Contact,
        analysis: AccountAnalysis,
        seller: SellerProfile,
        note: str | None = None,
        spare: Sequence[str] = (),
    ) -> tuple[OutreachMessage, int]:
        """One channel's message and how many rule-feedback retries it took (campaigns send one
        channel per touch, so this is public). `spare`: sentences of the messages already
        written to this contact; one that passes every rule replaces a text that breaks one."""
        predict: dspy.Predict = getattr(self, channel.value)
        context = rule_context(account, seller, predict, analysis)
        inputs = {
            "seller": seller.for_prompt(icp_lines=False),
            "account": account.facts_for_prompt(internal=False),
            "contact": contact_text(contact),
            "analysis": writer_analysis(analysis, context),
        }
        topic = " ".join(f"{p.title} {p.description}" for p in analysis.pain_points)
        problems: list[str] = []
        for attempt in range(self.max_rule_retries + 1):
            feedback = _feedback(problems, note)
            if channel == Channel.email:
                out = self.email(**inputs, feedback=feedback)
                subject, text = fit_subject((out.subject or "").strip()), out.body or ""
            else:
                out = predict(
                    **inputs,
                    channel=channel.value,
                    length=length_text(channel, contact, seller),
                    feedback=feedback,
                )
                subject, text = None, out.message or ""
            core = with_company(channel, core_text(text, contact, seller), account.company_name)
            own = fit_length(channel, contact, seller, core)
            core = with_offer(channel, seller, own, topic)
            company = account.company_name
            last = attempt == self.max_rule_retries
            message, problems = self._checked(
                channel, contact, seller, subject, core, company, context, need_content=not last
            )
            if problems and last:
                # last resort after the feedback retries: the sentences that name nothing the
                # account lacks, when they pass every rule without the rest
                message, problems = self._grounded(
                    channel,
                    contact,
                    seller,
                    subject,
                    (own, topic, company),
                    context,
                    message,
                    problems,
                )
            for sentence in spare if problems else ():
                # the model's text breaks a rule: a sentence already sent to this contact
                # that passes them all serves instead of a retry (the 0.5B model wrote 178- to
                # 261-character one-sentence SMS, or the seed demo's "BigQuery move", after
                # every retry)
                if len(sentence.split()) < 5:
                    continue
                alt = with_company(channel, sentence, company)
                alt_message, alt_problems = self._checked(
                    channel, contact, seller, subject, alt, company, context, need_content=True
                )
                if not alt_problems:
                    message, problems = alt_message, alt_problems
                    break
            if not problems:
                append_footer(message, seller)
                return message, attempt
        raise RuleViolationError("personalization", problems, self.max_rule_retries)

    @classmethod
    def _grounded(
        cls,
        channel: Channel,
        contact: Contact,
        seller: SellerProfile,
        subject: str | None,
        text: tuple[str, str, str],
        context: RuleContext,
        message: OutreachMessage,
        problems: list[str],
    ) -> tuple[OutreachMessage, list[str]]:
        """The message with the model's ungrounded or demo-copied sentences (and subject)
        replaced, if that passes every rule; else `message` and `problems` unchanged. `text`:
        the model's own core (before the offer is added), the pain-point topic, the company.
        At least one sentence of 5+ words of the model's own must stay, so what is left still
        says something about the account."""
        own, topic, company = text
        kept = grounded_sentences(own, context)
        bad_subject = subject is not None and grounded_sentences(subject, context) != subject
        if kept == own and not bad_subject:
            return message, problems
        kept_sentences = split_sentences(kept)
        if not any(len(s.split()) >= 5 for s in kept_sentences):
            return message, problems
        cut = [s for s in split_sentences(own) if s not in set(kept_sentences)]
        if bad_subject:
            cut.insert(0, f"subject: {subject}")
            subject = f"A question for {company}"[:SUBJECT_LIMIT]
        core = with_offer(channel, seller, with_company(channel, kept, company), topic)
        alt, alt_problems = cls._checked(channel, contact, seller, subject, core, company, context)
        alt.cut = cut
        return (alt, alt_problems) if not alt_problems else (message, problems)

    @staticmethod
    def _checked(
        channel: Channel,
        contact: Contact,
        seller: SellerProfile,
        subject: str | None,
        core: str,
        company: str,
        context: RuleContext,
        need_content: bool = False,
    ) -> tuple[OutreachMessage, list[str]]:
        """The message assembled around `core` (the ask added) and the rules it breaks. With
        `need_content`, an SMS or note that says nothing but the ask breaks one too: a sentence
        of the email, or a retry, can do better (the last attempt's text is let stand)."""
        core = with_ask(channel, contact, seller, core)
        message = OutreachMessage(
            channel=channel,
            subject=subject,
            body=assemble(channel, contact, seller, core) if core else "",
        )
        problems = check_message(message, greeting_name(contact), company, context)
        if need_content and not problems and only_the_ask(channel, core, company, seller):
            problems = [
                f"{channel.value}: says nothing but the ask; add one short sentence about "
                f"what `account` says of {company}"
            ]
        return message, problems


def append_footer(message: OutreachMessage, seller: SellerProfile) -> None:
    """Compliance text is the seller's, added verbatim after generation, never by the model."""
    footer = seller.compliance_footer
    if footer and message.channel == Channel.email and footer not in message.body:
        message.body = f"{message.body.rstrip()}\n\n{footer}"


class ColleagueReferrer(dspy.Module):
    """Colleague-reference emails; who engaged and about what come from data, never the model."""

    def __init__(self, max_rule_retries: int = 2, seed_demos: bool = True) -> None:
        super().__init__()
        self.predict = dspy.Predict(WriteColleagueReference)
        self.max_rule_retries = max_rule_retries
        if seed_demos:
            self.predict.demos = colleague_demos()

    @staticmethod
    def targets(account: Account) -> list[Contact]:
        """Non-primary contacts other than the one who engaged; none without real engagement."""
        referrer = account.referrer
        primary = account.primary_contact
        if referrer is None:
            return []
        excluded = person_keys(referrer) | (person_keys(primary) if primary else set())
        return [c for c in account.distinct_contacts() if not person_keys(c) & excluded]

    def forward(
        self, account: Account, seller: SellerProfile, note: str | None = None
    ) -> dspy.Prediction:
        referrer, inquiry = account.referrer, account.inquiry
        messages: list[ColleagueMessage] = []
        retries = 0
        if referrer is None or inquiry is None:
            return dspy.Prediction(messages=messages, rule_retries=0)
        for target in self.targets(account):
            try:
                message, attempts = self.write(
                    account, target, referrer, inquiry.topic, seller, note
                )
            except RuleViolationError as exc:
                exc.rule_retries += retries
                raise
            messages.append(message)
            retries += attempts
        return dspy.Prediction(messages=messages, rule_retries=retries)

    def write(
        self,
        account: Account,
        target: Contact,
        referrer: Contact,
        topic: str,
        seller: SellerProfile,
        note: str | None = None,
    ) -> tuple[ColleagueMessage, int]:
        """One reference email to `target` citing `referrer`'s real engagement on `topic`, and
        the rule-feedback retries it took. The caller vouches that the engagement happened."""
        context = rule_context(account, seller, self.predict)
        problems: list[str] = []
        for attempt in range(self.max_rule_retries + 1):
            out = self.predict(
                seller=seller.for_prompt(icp_lines=False),
                account=account.facts_for_prompt(internal=False),
                contact=contact_text(target),
                referrer=contact_text(referrer),
                topic=topic,
                feedback=_feedback(problems, note),
            )
            core = with_referrer(core_text(out.body or "", target, seller), referrer, topic, target)
            # like a first-touch email: what the seller offers for the topic, and one ask
            core = with_offer(Channel.email, seller, core, topic)
            core = with_ask(Channel.email, target, seller, core)
            subject = (out.subject or "").strip()
            if casts_reader_as_asker(subject, target.name or "", referrer.name or ""):
                asker = referrer.name.split()[0] if referrer.name else "Your colleague"
                subject = f"{asker} asked us about {topic}"[:80]
            message = ColleagueMessage(
                target_contact_id=target.contact_id,
                target_name=target.name or "",
                referring_contact_id=referrer.contact_id,
                referring_name=referrer.name or "",
                topic=topic,
                subject=subject,
                body=assemble(Channel.email, target, seller, core) if core else "",
            )
            problems = check_colleague(message, account.company_name, context)
            if not problems:
                return message, attempt
        raise RuleViolationError("colleague reference", problems, self.max_rule_retries)
