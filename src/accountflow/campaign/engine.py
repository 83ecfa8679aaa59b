"""The campaign engine: a thin loop around the pure rules, the orchestrator and the store.

`start` researches the account once (a recorded orchestrator run of the research and analysis
steps) and stores everything a later process needs; `step` makes one touch (claim it, pick
contact and channel, write it with the model as a recorded step of that run, with the
orchestrator's retries, breaker, usage and promoted program, commit it, deliver it);
`tick` steps every due campaign. Conflicts are read from recorded responses before a touch and
again just before it is committed, so a reply that arrives while the model writes still stops
the touch.
"""

from __future__ import annotations

import builtins
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dspy

from accountflow import steps
from accountflow.campaign.config import CampaignConfig, load_config
from accountflow.campaign.models import (
    CampaignContact,
    CampaignEvent,
    CampaignSnapshot,
    CampaignState,
    CampaignStateError,
    CampaignStatus,
    ConflictReport,
    ContactProgress,
    ContactRole,
    DeliveryStatus,
    Engagement,
    Lead,
    MessageKind,
    OutboxEntry,
    ResponseKind,
    ResponseRecord,
    ResponseResult,
    Sentiment,
    StartResult,
    StepAction,
    StepResult,
    UndeliveredTouch,
)
from accountflow.campaign.replies import ReplyClassifier
from accountflow.campaign.responses import (
    conflict_reason,
    exclusions,
    find_conflicts,
    find_engagement,
)
from accountflow.campaign.rules import (
    extract_contacts,
    lead_account,
    prioritize,
    select_channel,
    select_contact,
    to_lead,
)
from accountflow.campaign.schedule import Clock, first_touch_due, next_touch_due, to_utc_naive
from accountflow.campaign.senders import Delivery, RecordingSender, Sender
from accountflow.config import Settings
from accountflow.errors import InputError, NotFoundError
from accountflow.models import (
    Account,
    Channel,
    ColleagueMessage,
    OutreachMessage,
    RunStatus,
    SellerProfile,
)
from accountflow.modules import ColleagueReferrer, Personalizer, append_footer
from accountflow.orchestrator import Orchestrator, one_line, redact
from accountflow.pipeline import AccountPipeline
from accountflow.resilience import CircuitOpenError
from accountflow.store import Store
from accountflow.store.campaigns import CampaignRow, CampaignStore
from accountflow.store.db import utcnow
from accountflow.suppress import (
    SuppressionReason,
    SuppressionSet,
    for_emails,
    is_suppressed,
    suppress,
)

NO_CONTACT_LEFT = "no reachable contact left (every contact unsubscribed, bounced or is suppressed)"
MAX_REACHED = "max touchpoints reached"
# A touch the sender could not deliver for a transient reason is tried this often in all
# (once when written, then once per later tick or step) before it counts as failed.
DELIVERY_ATTEMPTS = 3
# A touch still `queued` this long after it was handed to a sender belongs to a process that
# died mid-send (the SMTP sender gives up on a silent server after 30 s per command).
SEND_TIMEOUT = timedelta(minutes=10)


class CampaignEngine:
    """Runs account-based campaigns stored in DuckDB under `home` (or in a given `store`).

    `config` (a CampaignConfig or a partial dict) is the default for campaigns this engine
    starts; each campaign keeps the config it started with. `lm` is a dspy.LM or a model string
    (default: the settings' model, built on first use). `clock` returns the current time
    (aware, or naive UTC); tests and simulations pass a fake one. `settings` (from
    `Settings.load`) replaces `home` when the caller already resolved flags and environment.
    """

    def __init__(
        self,
        home: str | Path | None = None,
        config: CampaignConfig | Mapping[str, Any] | None = None,
        lm: dspy.LM | str | None = None,
        clock: Clock | None = None,
        *,
        store: Store | None = None,
        seller: SellerProfile | None = None,
        sender: Sender | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or Settings.load(home=home)
        self.config = load_config(config)
        self._owns_store = store is None
        self.store = store if store is not None else Store(self.settings.db_path)
        self.db = CampaignStore(self.store)
        self.clock: Clock = clock or utcnow
        self.sender: Sender = sender or RecordingSender()
        self._lm = lm
        self._lm_lock = threading.Lock()
        self._orchestrator: Orchestrator | None = None
        self._seller = seller
        self.classifier = ReplyClassifier()

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> CampaignEngine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def orchestrator(self) -> Orchestrator:
        """Built on first use (`Orchestrator.from_settings`: the model, the promoted program,
        retries and breaker), so status and listing commands never load a model."""
        with self._lm_lock:
            if self._orchestrator is None:
                self._orchestrator = Orchestrator.from_settings(
                    self.settings, self.store, lm=self._lm, seller=self._seller, source="campaign"
                )
            return self._orchestrator

    @property
    def lm(self) -> dspy.BaseLM:
        return self.orchestrator.lm

    def now(self) -> datetime:
        return to_utc_naive(self.clock())

    def _model(self, call: Callable[[], Any]) -> Any:
        """An unrecorded model call (reading a reply) with the orchestrator's LM and adapter."""
        orchestrator = self.orchestrator
        with dspy.context(lm=orchestrator.lm, adapter=orchestrator.adapter):
            return call()

    # ------------------------------------------------------------------ start
    def start(
        self,
        lead: Lead | Account | Mapping[str, Any],
        config: CampaignConfig | Mapping[str, Any] | None = None,
    ) -> StartResult:
        """Create a campaign for a lead (or an Account): contacts, research and analysis once,
        first touch due now. Problems with the lead come back as `error`, not raised; a bad
        `config` raises ConfigError."""
        cfg = load_config(config, base=self.config)
        try:
            parsed = to_lead(lead)
        except InputError as exc:
            return StartResult(success=False, error=str(exc))
        if not parsed.account_id:
            return StartResult(success=False, error="account_id required")
        extracted = extract_contacts(parsed)
        rejected = extracted.rejected
        if not extracted.contacts:
            return StartResult(success=False, error="No contacts found", rejected_contacts=rejected)
        if not parsed.company_name:
            return StartResult(
                success=False, error="company_name required", rejected_contacts=rejected
            )
        try:
            account, warnings = lead_account(parsed, extracted.contacts)
        except InputError as exc:
            return StartResult(success=False, error=str(exc), rejected_contacts=rejected)
        suppressions = for_emails(self.store, (c.email for c in extracted.contacts))
        blocked = [c for c in extracted.contacts if suppressions.match(c.email)]
        if len(blocked) == len(extracted.contacts):
            return StartResult(
                success=False,
                rejected_contacts=rejected,
                error=f"Every contact of account {account.account_id} is on the suppression "
                "list (`accountflow suppress list`); nobody to contact.",
            )
        warnings = warnings + [
            f"{c.email} is not contacted: {entry.describe()}"
            for c in blocked
            if (entry := suppressions.match(c.email)) is not None
        ]
        running = self.db.open_for_account(account.account_id)
        if running:
            other = running[0]
            return StartResult(
                success=False,
                rejected_contacts=rejected,
                error=f"Account {account.account_id} already has campaign {other.campaign_id} "
                f"({other.status.value}); resume or finish it instead of starting another.",
            )
        orchestrator = self.orchestrator
        try:
            run = orchestrator.run(account, only=("research", "analysis"))
        except CircuitOpenError as exc:
            return StartResult(success=False, rejected_contacts=rejected, error=one_line(exc))
        if run.status != RunStatus.succeeded or run.analysis is None:
            return StartResult(
                success=False,
                rejected_contacts=rejected,
                lm_calls=run.lm_calls,
                error=run.error or "research failed",
            )
        seller, analysis = orchestrator.seller, run.analysis
        now = self.now()
        campaign_id = "cmp_" + uuid.uuid4().hex[:12]
        row = CampaignRow(
            campaign_id=campaign_id,
            account_id=account.account_id,
            company_name=account.company_name,
            status=CampaignState.active,
            config=cfg,
            account=account,
            seller=seller,
            analysis=analysis,
            model=orchestrator.model,
            program_version=orchestrator.program_version,
            run_id=run.run_id,
            next_touch_at=first_touch_due(now, cfg),
            created_at=now,
            updated_at=now,
        )
        self.db.create(
            row,
            extracted.contacts,
            CampaignEvent(
                campaign_id=campaign_id,
                at=now,
                event="started",
                detail={"contacts": len(extracted.contacts), "rejected": len(rejected)},
            ),
        )
        return StartResult(
            success=True,
            campaign_id=campaign_id,
            contacts_count=len(extracted.contacts),
            rejected_contacts=rejected,
            warnings=warnings,
            lm_calls=run.lm_calls,
        )

    # ------------------------------------------------------------------ step / tick
    def step(
        self, campaign_id: str, force: bool = False, now: datetime | None = None
    ) -> StepResult:
        """Make the campaign's next touch if it is due (or `force`): never twice, never for a
        paused, completed or unknown campaign, and never past a conflict that pauses it."""
        now = to_utc_naive(now) if now is not None else self.now()
        camp = self.db.get(campaign_id)
        if camp is None:
            return StepResult(
                success=False,
                campaign_id=campaign_id,
                action=StepAction.not_found,
                error=f"Campaign {campaign_id} not found",
            )
        pending = self._redeliver(camp, now)
        if pending is not None:  # an earlier touch is not delivered yet: it goes first
            return pending
        if camp.status != CampaignState.active:
            why = (
                f": {camp.pause_reason or camp.completed_reason}"
                if (camp.pause_reason or camp.completed_reason)
                else ""
            )
            return self._result(
                camp,
                StepAction.not_active,
                error=(f"Campaign {campaign_id} is not active ({camp.status.value}{why})"),
            )
        if not force and camp.next_touch_at is not None and camp.next_touch_at > now:
            return self._result(
                camp,
                StepAction.not_due,
                error=(f"next touch is not due until {camp.next_touch_at:%Y-%m-%d %H:%M} UTC"),
            )
        report = self.check_conflicts(campaign_id)
        if report.should_pause:
            self._pause(camp, report.reason or "conflict", now, by="conflict")
            return self._result(
                camp,
                StepAction.paused,
                status=CampaignState.paused,
                conflicts=report.conflicts,
                error=report.reason,
            )
        claim_id = uuid.uuid4().hex
        if not self.db.claim(campaign_id, camp.touches_done, claim_id, now):
            return self._result(camp, StepAction.busy, error="another worker is making this touch")
        try:
            return self._touch(camp, claim_id, now, report)
        finally:
            self.db.release(campaign_id, claim_id)  # no-op once the touch was committed

    def tick(self, now: datetime | None = None) -> list[StepResult]:
        """Retry undelivered touches and settle stale ones (see `_redeliver`), then step every
        active campaign whose next touch is due at `now` (default: the clock). Touches another
        worker took, or that stopped being due, are left out of the result. A sender failure
        (refused login, no connection) ends the tick: the remaining touches wait for the next."""
        now = to_utc_naive(now) if now is not None else self.now()
        results: builtins.list[StepResult] = []
        handled: set[str] = set()
        for campaign_id in self.db.pending_deliveries(now - SEND_TIMEOUT):
            camp = self.db.get(campaign_id)
            pending = self._redeliver(camp, now) if camp is not None else None
            if pending is None:
                continue
            results.append(pending)
            handled.add(campaign_id)
            if pending.sender_failed:
                return results
        for campaign_id in self.db.due(now):
            if campaign_id in handled:
                continue  # one action per campaign per tick
            result = self.step(campaign_id, now=now)
            if result.action not in (
                StepAction.busy,
                StepAction.not_due,
                StepAction.not_active,
                StepAction.not_found,
            ):
                results.append(result)
            if result.sender_failed:
                break
        return results

    def _touch(
        self, camp: CampaignRow, claim_id: str, now: datetime, report: ConflictReport
    ) -> StepResult:
        cid, cfg = camp.campaign_id, camp.config
        contacts = self.db.contacts(cid)
        touches = self.db.touches(cid)
        responses = self.db.responses(cid)
        outbox = self.db.outbox(cid)
        contact = select_contact(
            CampaignSnapshot(
                contacts=prioritize(contacts),
                touches=touches,
                excluded=set(
                    _excluded(
                        responses, contacts, for_emails(self.store, [c.email for c in contacts])
                    )
                ),
                max_concurrent_contacts=cfg.max_concurrent_contacts,
            )
        )
        if contact is None:
            self._complete(camp, NO_CONTACT_LEFT, now)
            return self._result(
                camp, StepAction.completed, status=CampaignState.completed, error=NO_CONTACT_LEFT
            )
        history = [t.channel for t in touches if t.contact_id == contact.contact_id]
        channel = select_channel(history, contact, cfg)
        engagement = find_engagement(camp.account, contacts, responses, outbox, camp.created_at)
        cite = _citable(engagement, contact, now, cfg)
        previous = [e for e in outbox if e.contact_id == contact.contact_id]
        if cite is not None and (
            channel == Channel.email
            or not any(e.kind == MessageKind.colleague_reference for e in previous)
        ):
            channel = Channel.email  # a reference is an email; the first one is never skipped
        kind = (
            MessageKind.colleague_reference
            if cite and channel == Channel.email
            else MessageKind.personalized
        )
        note = _follow_up_note(previous)
        number = camp.touches_done + 1
        referrer = (
            next(c for c in contacts if c.contact_id == cite.contact_id)
            if kind == MessageKind.colleague_reference and cite is not None
            else None
        )

        def write(program: AccountPipeline) -> steps.StepOutput:
            if referrer is not None and cite is not None:
                module: ColleagueReferrer = program.module(steps.get("colleague"))
                reference, tries = self._reference(
                    module, camp, contact, referrer, cite.topic, note
                )
                return steps.StepOutput(reference, tries)
            writer: Personalizer = program.module(steps.get("personalization"))
            message, tries = writer.write(
                channel, camp.account, contact.to_contact(), camp.analysis, camp.seller, note
            )
            return steps.StepOutput(message, tries)

        run_id = self._run_id(camp)
        touch_input = {
            "campaign_id": cid,
            "touch": number,
            "contact_id": contact.contact_id,
            "channel": channel.value,
            "kind": kind.value,
            "follow_up_note": note,
        }
        try:
            out, error, usage = self.orchestrator.touch(
                run_id, camp.account, "touch", write, touch_input
            )
        except CircuitOpenError as exc:
            out, error, usage = None, one_line(exc), None
        if out is None:
            error = error or "the touch failed"
            self.db.add_event(
                CampaignEvent(
                    campaign_id=cid,
                    at=now,
                    event="touch_failed",
                    detail={
                        "touch": number,
                        "contact": contact.email,
                        "channel": channel.value,
                        "error": error,
                    },
                )
            )
            return self._result(
                camp,
                StepAction.failed,
                error=error,
                contact=contact,
                channel=channel,
                kind=kind,
            )
        message, retries = out.value, out.rule_retries
        assert usage is not None
        late = self.check_conflicts(cid)  # a reply may have come in while the model wrote
        if late.should_pause:
            self._pause(camp, late.reason or "conflict", now, by="conflict")
            return self._result(
                camp,
                StepAction.paused,
                status=CampaignState.paused,
                conflicts=late.conflicts,
                error=late.reason,
            )
        done = number >= cfg.max_touchpoints
        entry = OutboxEntry(
            campaign_id=cid,
            touch_number=number,
            contact_id=contact.contact_id,
            contact_name=contact.name,
            address=_address(contact, channel),
            channel=channel,
            kind=kind,
            subject=message.subject,
            body=message.body,
            created_at=now,
            lm_calls=usage.lm_calls,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            rule_retries=retries,
            sender=self.sender.name,
            attempts=1,
            attempted_at=now,
        )
        next_at = None if done else next_touch_due(now, number, cfg)
        if not self.db.commit_touch(entry, claim_id, next_at, MAX_REACHED if done else None):
            return self._result(
                camp, StepAction.busy, error="the touch was taken or the campaign paused meanwhile"
            )
        delivery = self._deliver(camp, entry, 1, now)
        return StepResult(
            success=delivery.status.delivered,
            campaign_id=cid,
            action=StepAction.sent if delivery.status.delivered else StepAction.undelivered,
            error=None if delivery.status.delivered else _undelivered(entry, delivery),
            sender_failed=delivery.sender_failed,
            step=number,
            contact=contact.email,
            contact_name=contact.name,
            channel=channel,
            kind=kind,
            message=message,
            delivery=delivery.status,
            conflicts=report.conflicts,
            campaign_status=CampaignState.completed if done else CampaignState.active,
            next_touch_at=next_at,
        )

    def _run_id(self, camp: CampaignRow) -> str:
        """The run a campaign's touches are recorded under (campaigns started before runs
        recorded their research get one now)."""
        if camp.run_id is None:
            run_id = self.orchestrator.open_run(camp.account)
            self.store.finish_run(run_id, RunStatus.succeeded, None, None)
            self.db.set_run(camp.campaign_id, run_id, self.orchestrator.program_version)
            camp.run_id = run_id
        return camp.run_id

    def _reference(
        self,
        module: ColleagueReferrer,
        camp: CampaignRow,
        target: CampaignContact,
        referrer: CampaignContact,
        topic: str,
        note: str | None,
    ) -> tuple[OutreachMessage, int]:
        colleague: ColleagueMessage
        colleague, retries = module.write(
            camp.account, target.to_contact(), referrer.to_contact(), topic, camp.seller, note
        )
        message = OutreachMessage(
            channel=Channel.email, subject=colleague.subject, body=colleague.body
        )
        append_footer(message, camp.seller)  # the same compliance text as every email
        return message, retries

    def _deliver(
        self, camp: CampaignRow, entry: OutboxEntry, attempt: int, now: datetime
    ) -> Delivery:
        """Hand a committed touch to the sender and act on the outcome (README, "Delivery
        failures"): a transient failure is `deferred` for a later attempt until the last one,
        a refused address records a bounce (which suppresses it and pauses per the config),
        any other final failure pauses the campaign so that a person looks."""
        blocked = self._suppressed(entry)
        if blocked is not None:  # it may have been added while the model wrote the touch
            delivery = Delivery(status=DeliveryStatus.suppressed, detail=blocked)
        else:
            try:
                delivery = self.sender.send(entry, unsubscribe=camp.config.unsubscribe)
            except Exception as exc:  # a sender that raised: transient, attempts capped
                delivery = Delivery(status=DeliveryStatus.deferred, detail=one_line(exc))
        delivery.detail = redact(delivery.detail or "") or None
        if delivery.status == DeliveryStatus.deferred and attempt >= DELIVERY_ATTEMPTS:
            delivery.status = DeliveryStatus.failed
            delivery.detail = f"{delivery.detail} (gave up after {attempt} attempts)"
        delivered_at = now if delivery.status == DeliveryStatus.sent else None
        self.db.set_delivery(
            entry.campaign_id,
            entry.touch_number,
            delivery.status,
            self.sender.name,
            delivery.detail,
            delivered_at,
            attempt,
        )
        if not delivery.status.delivered:
            self._undelivered_event(entry, delivery.status, delivery.detail, attempt, now)
        if delivery.status == DeliveryStatus.failed:
            if delivery.bounce:
                self.record_response(
                    entry.campaign_id, entry.contact_id, ResponseKind.bounce, delivery.detail, now
                )
            else:
                self._pause(camp, _undelivered(entry, delivery), now, by="delivery")
        return delivery

    def _suppressed(self, entry: OutboxEntry) -> str | None:
        """Why the touch must not go out now, read from the store just before sending: the
        address it goes to, or its contact's email, is suppressed."""
        emails = {entry.address}
        emails.update(
            c.email for c in self.db.contacts(entry.campaign_id) if c.contact_id == entry.contact_id
        )
        for email in sorted(emails):
            hit = is_suppressed(self.store, email)
            if hit is not None:
                return hit.describe()
        return None

    def _redeliver(self, camp: CampaignRow, now: datetime) -> StepResult | None:
        """Earlier touches of the campaign that are not delivered yet, oldest first: a touch
        still `queued` after SEND_TIMEOUT is settled (`recorded` for the recording sender,
        else `unknown`, never resent since it may have gone out, and the campaign paused); a
        `deferred` touch of a campaign that is not paused is tried again (a completed
        campaign's last touch too). None when there was nothing."""
        result: StepResult | None = None
        stale_before = now - SEND_TIMEOUT
        for entry in self.db.outbox(camp.campaign_id):
            handed = entry.attempted_at or entry.created_at
            if entry.status == DeliveryStatus.queued and handed < stale_before:
                result = self._settle(camp, entry, stale_before, now)
            elif entry.status == DeliveryStatus.deferred and camp.status != CampaignState.paused:
                if not self.db.claim_redelivery(camp.campaign_id, entry.touch_number, now):
                    continue  # another worker is retrying it
                delivery = self._deliver(camp, entry, entry.attempts + 1, now)
                delivered = delivery.status.delivered
                result = self._touch_result(
                    camp,
                    entry,
                    delivery.status,
                    None if delivered else _undelivered(entry, delivery),
                    sender_failed=delivery.sender_failed,
                )
                if not delivered:
                    break  # later touches wait behind it
        return result

    def _settle(
        self, camp: CampaignRow, entry: OutboxEntry, stale_before: datetime, now: datetime
    ) -> StepResult | None:
        recorded = entry.sender == RecordingSender.name
        status = DeliveryStatus.recorded if recorded else DeliveryStatus.unknown
        if not self.db.settle_stale(camp.campaign_id, entry.touch_number, stale_before, status):
            return None
        if recorded:  # keeping it in the outbox is all the recording sender does
            return None
        detail = (
            "the process stopped while handing it to the sender, so it may or may not have "
            "gone out; it is not resent. Check the mail server's log, then resume the campaign"
        )
        self.db.set_delivery(
            entry.campaign_id, entry.touch_number, status, entry.sender or "", detail, None
        )
        self._undelivered_event(entry, status, detail, entry.attempts, now)
        reason = f"touch {entry.touch_number} to {entry.address}: delivery unknown ({detail})"
        self._pause(camp, reason, now, by="delivery")
        return self._touch_result(camp, entry, status, reason)

    def _touch_result(
        self,
        camp: CampaignRow,
        entry: OutboxEntry,
        status: DeliveryStatus,
        error: str | None,
        sender_failed: bool = False,
    ) -> StepResult:
        fresh = self.db.get(camp.campaign_id) or camp
        return StepResult(
            success=error is None,
            campaign_id=camp.campaign_id,
            action=StepAction.redelivered if error is None else StepAction.undelivered,
            step=entry.touch_number,
            contact=entry.address,
            contact_name=entry.contact_name,
            channel=entry.channel,
            kind=entry.kind,
            message=OutreachMessage(channel=entry.channel, subject=entry.subject, body=entry.body),
            delivery=status,
            campaign_status=fresh.status,
            next_touch_at=fresh.next_touch_at,
            error=error,
            sender_failed=sender_failed,
        )

    def _undelivered_event(
        self,
        entry: OutboxEntry,
        status: DeliveryStatus,
        detail: str | None,
        attempts: int,
        now: datetime,
    ) -> None:
        self.db.add_event(
            CampaignEvent(
                campaign_id=entry.campaign_id,
                at=now,
                event="touch_undelivered",
                detail={
                    "touch": entry.touch_number,
                    "contact": entry.address,
                    "channel": entry.channel.value,
                    "status": status.value,
                    "attempts": attempts,
                    "error": detail,
                },
            )
        )

    # ------------------------------------------------------------------ responses, conflicts
    def record_response(
        self,
        campaign_id: str,
        contact: str,
        kind: ResponseKind | str,
        text: str | None = None,
        at: datetime | None = None,
    ) -> ResponseResult:
        """Record what a contact (email or contact id) did; a reply's text is classified by
        the model when conflict checks are on, and a conflict pauses the campaign when
        `auto_pause_on_response` is on."""
        camp = self._get(campaign_id)
        try:
            kind = ResponseKind(kind)
        except ValueError:
            raise InputError(
                f"Response kind {kind!r} is not one of {', '.join(k.value for k in ResponseKind)}."
            ) from None
        contacts = self.db.contacts(camp.campaign_id)
        who = next(
            (
                c
                for c in contacts
                if contact.casefold() in (c.email.casefold(), c.contact_id.casefold())
            ),
            None,
        )
        if who is None:
            raise NotFoundError(
                f"No contact {contact!r} in campaign {campaign_id}; `accountflow campaign "
                f"status {campaign_id}` lists its contacts."
            )
        now = self.now()
        at = to_utc_naive(at) if at is not None else now
        text = text.strip() if text and text.strip() else None
        sentiment = topic = error = None
        if kind == ResponseKind.reply and text and camp.config.conflict_check_enabled:
            answered = [
                e
                for e in self.db.outbox(camp.campaign_id)
                if e.contact_id == who.contact_id and e.created_at <= at
            ]
            ours = answered[-1].body if answered else ""
            try:
                read = self._model(
                    lambda: self.classifier(reply=text, contact=who, our_message=ours)
                )
                sentiment, topic = read.sentiment, read.topic
            except Exception as exc:
                error = f"the reply could not be classified: {one_line(exc)}"
        response = ResponseRecord(
            response_id="rsp_" + uuid.uuid4().hex[:12],
            campaign_id=camp.campaign_id,
            contact_id=who.contact_id,
            kind=kind,
            text=text,
            sentiment=sentiment,
            topic=topic,
            at=at,
            recorded_at=now,
        )
        self.db.add_response(
            response,
            CampaignEvent(
                campaign_id=camp.campaign_id,
                at=now,
                event="response",
                detail={
                    "contact": who.email,
                    "kind": kind.value,
                    "sentiment": sentiment.value if sentiment else None,
                    "error": error,
                },
            ),
        )
        reason = _suppression_reason(kind, sentiment)
        if reason is not None:  # no campaign contacts them again, nor score or run
            suppress(self.store, who.email, reason, f"campaign {camp.campaign_id}", now)
        report = self.check_conflicts(camp.campaign_id)
        paused = False
        if report.should_pause and camp.status == CampaignState.active:
            paused = self._pause(camp, report.reason or "conflict", now, by="conflict")
        elif report.has_conflict:
            self.db.add_event(
                CampaignEvent(
                    campaign_id=camp.campaign_id,
                    at=now,
                    event="conflict",
                    detail={"reason": report.reason, "paused": False},
                )
            )
        return ResponseResult(
            response_id=response.response_id,
            campaign_id=camp.campaign_id,
            contact=who.email,
            kind=kind,
            sentiment=sentiment,
            topic=topic,
            at=at,
            report=report,
            paused=paused,
            error=error,
        )

    def check_conflicts(self, campaign_id: str) -> ConflictReport:
        """Conflicts in responses since the last resume. `should_pause` is set when the
        campaign's config pauses on them; an unknown campaign is "Campaign not found"."""
        camp = self.db.get(campaign_id)
        if camp is None:
            return ConflictReport(campaign_id=campaign_id, reason="Campaign not found")
        if not camp.config.conflict_check_enabled:
            return ConflictReport(
                campaign_id=campaign_id, reason="conflict checks are off for this campaign"
            )
        conflicts = find_conflicts(self.db.responses(campaign_id), self.db.contacts(campaign_id))
        return ConflictReport(
            campaign_id=campaign_id,
            has_conflict=bool(conflicts),
            conflicts=conflicts,
            should_pause=bool(conflicts) and camp.config.auto_pause_on_response,
            reason=conflict_reason(conflicts),
        )

    # ------------------------------------------------------------------ pause, resume
    def pause(self, campaign_id: str, reason: str) -> CampaignStatus:
        camp = self._get(campaign_id)
        if camp.status == CampaignState.completed:
            raise CampaignStateError(
                f"Campaign {campaign_id} is completed; there is nothing to pause."
            )
        reason = reason.strip() or "paused by hand"
        self._pause(camp, reason, self.now(), by="user", only_active=False)
        return self._status_or_raise(campaign_id)

    def resume(self, campaign_id: str) -> CampaignStatus:
        """Active again; the conflicts seen so far are acknowledged (they will not pause it
        again), but unsubscribed and bounced contacts stay excluded."""
        camp = self._get(campaign_id)
        if camp.status == CampaignState.completed:
            raise CampaignStateError(
                f"Campaign {campaign_id} is completed ({camp.completed_reason}); start a new one."
            )
        if camp.status == CampaignState.paused:
            now = self.now()
            self.db.set_state(
                campaign_id,
                CampaignState.active,
                now,
                only_from=[CampaignState.paused],
                acknowledge=True,
                event=CampaignEvent(
                    campaign_id=campaign_id,
                    at=now,
                    event="resumed",
                    detail={"was": camp.pause_reason},
                ),
            )
        return self._status_or_raise(campaign_id)

    def _pause(
        self, camp: CampaignRow, reason: str, now: datetime, by: str, only_active: bool = True
    ) -> bool:
        states = (
            [CampaignState.active] if only_active else [CampaignState.active, CampaignState.paused]
        )
        return self.db.set_state(
            camp.campaign_id,
            CampaignState.paused,
            now,
            pause_reason=reason,
            only_from=states,
            event=CampaignEvent(
                campaign_id=camp.campaign_id,
                at=now,
                event="paused",
                detail={"reason": reason, "by": by},
            ),
        )

    def _complete(self, camp: CampaignRow, reason: str, now: datetime) -> None:
        self.db.set_state(
            camp.campaign_id,
            CampaignState.completed,
            now,
            completed_reason=reason,
            only_from=[CampaignState.active],
            event=CampaignEvent(
                campaign_id=camp.campaign_id, at=now, event="completed", detail={"reason": reason}
            ),
        )

    # ------------------------------------------------------------------ reading
    def status(self, campaign_id: str) -> CampaignStatus | None:
        camp = self.db.get(campaign_id)
        return None if camp is None else self._status(camp)

    def outbox(self, campaign_id: str | None = None, limit: int = 1000) -> list[OutboxEntry]:
        return self.db.outbox(campaign_id, limit)

    def events(self, campaign_id: str) -> list[CampaignEvent]:
        """The campaign's timeline: started, touch, response, conflict, paused, resumed,
        touch_failed and completed, oldest first."""
        return self.db.events(campaign_id)

    def resolve(self, prefix: str) -> str:
        """A campaign id from a unique prefix of one (as the CLI accepts)."""
        return self.db.resolve(prefix)

    def _get(self, campaign_id: str) -> CampaignRow:
        camp = self.db.get(campaign_id)
        if camp is None:
            raise NotFoundError(
                f"No campaign {campaign_id!r}; `accountflow campaign list` shows the ids."
            )
        return camp

    def _status_or_raise(self, campaign_id: str) -> CampaignStatus:
        return self._status(self._get(campaign_id))

    def _status(self, camp: CampaignRow) -> CampaignStatus:
        cid = camp.campaign_id
        contacts = self.db.contacts(cid)
        touches = self.db.touches(cid)
        responses = self.db.responses(cid)
        outbox = self.db.outbox(cid)
        excluded = _excluded(
            responses, contacts, for_emails(self.store, [c.email for c in contacts])
        )
        engaged = _engaged_ids(camp, contacts, responses)
        progress = []
        for c in prioritize(contacts):
            mine = [t.channel for t in touches if t.contact_id == c.contact_id]
            progress.append(
                ContactProgress(
                    contact_id=c.contact_id,
                    name=c.name,
                    email=c.email,
                    title=c.title,
                    role=c.role,
                    score=c.score,
                    touches=len(mine),
                    channels=list(dict.fromkeys(mine)),
                    engaged=c.contact_id in engaged,
                    excluded=excluded.get(c.contact_id),
                )
            )
        return CampaignStatus(
            campaign_id=cid,
            account_id=camp.account_id,
            company_name=camp.company_name,
            status=camp.status,
            current_step=camp.touches_done,
            total_touchpoints=camp.config.max_touchpoints,
            contacts_engaged=[c.email for c in contacts if c.contact_id in engaged],
            contacts_touched=len({t.contact_id for t in touches}),
            channels_used=list(dict.fromkeys(t.channel for t in touches)),
            next_touch_at=camp.next_touch_at if camp.status != CampaignState.completed else None,
            pause_reason=camp.pause_reason,
            completed_reason=camp.completed_reason,
            created_at=camp.created_at,
            updated_at=camp.updated_at,
            contacts=progress,
            delivered=sum(1 for e in outbox if e.status.delivered),
            undelivered=[
                UndeliveredTouch(**e.model_dump(include=set(UndeliveredTouch.model_fields)))
                for e in outbox
                if not e.status.delivered
            ],
        )

    def _result(
        self,
        camp: CampaignRow,
        action: StepAction,
        *,
        status: CampaignState | None = None,
        error: str | None = None,
        conflicts: builtins.list[Any] | None = None,
        contact: CampaignContact | None = None,
        channel: Channel | None = None,
        kind: MessageKind | None = None,
    ) -> StepResult:
        return StepResult(
            success=False,
            campaign_id=camp.campaign_id,
            action=action,
            step=None,
            contact=contact.email if contact else None,
            contact_name=contact.name if contact else None,
            channel=channel,
            kind=kind,
            conflicts=conflicts or [],
            campaign_status=status or camp.status,
            next_touch_at=camp.next_touch_at,
            error=error,
        )

    def list(self, status: CampaignState | str | None = None) -> builtins.list[CampaignStatus]:
        """Every campaign (or those in one state), oldest first."""
        state = None
        if status is not None:
            try:
                state = CampaignState(status)
            except ValueError:
                raise InputError(
                    f"Campaign status {status!r} is not one of "
                    f"{', '.join(s.value for s in CampaignState)}."
                ) from None
        out = []
        for campaign_id in self.db.ids(state):
            camp = self.db.get(campaign_id)
            if camp is not None:
                out.append(self._status(camp))
        return out


# ---------------------------------------------------------------------------- helpers


def _citable(
    engagement: Engagement | None, contact: CampaignContact, now: datetime, cfg: CampaignConfig
) -> Engagement | None:
    """The engagement a touch to `contact` may cite: not to the primary (who gets the
    personalized message), not to the one who engaged, and only once the delay has passed."""
    if engagement is None or contact.role == ContactRole.primary:
        return None
    if engagement.contact_id == contact.contact_id:
        return None
    if now < engagement.at + timedelta(days=cfg.colleague_message_delay):
        return None
    return engagement


def _follow_up_note(previous: builtins.list[OutboxEntry]) -> str | None:
    """Tells the model this is a follow-up and what it said last, so each touch is written
    fresh rather than repeating (or being served from the cache as) the first."""
    if not previous:
        return None
    last = previous[-1]
    said = last.subject or " ".join(last.body.split()[:25])
    return (
        f"This is follow-up number {len(previous)} to this contact; write something new and "
        f"do not repeat earlier wording. The last message ({last.channel.value}, "
        f"{last.created_at:%Y-%m-%d}) said: {said}"
    )


def _excluded(
    responses: builtins.list[ResponseRecord],
    contacts: builtins.list[CampaignContact],
    suppressions: SuppressionSet,
) -> dict[str, str]:
    """Contact id -> why the contact gets no touch: this campaign's responses, then the
    suppression list (which also holds what other campaigns and people added)."""
    out = exclusions(responses)
    for c in contacts:
        entry = suppressions.match(c.email)
        if entry is not None:
            out.setdefault(c.contact_id, f"suppressed ({entry.reason.value})")
    return out


def _suppression_reason(
    kind: ResponseKind, sentiment: Sentiment | None
) -> SuppressionReason | None:
    if kind == ResponseKind.bounce:
        return SuppressionReason.bounce
    if kind == ResponseKind.complaint:
        return SuppressionReason.complaint
    if kind == ResponseKind.unsubscribe or sentiment == Sentiment.unsubscribe_request:
        return SuppressionReason.unsubscribe
    return None


def _undelivered(entry: OutboxEntry, delivery: Delivery) -> str:
    """One sentence on a touch that was not delivered, and what happens next."""
    what = f"touch {entry.touch_number} to {entry.address} was not delivered: {delivery.detail}"
    if delivery.status == DeliveryStatus.deferred:
        return f"{what}; the next tick tries again (attempt {DELIVERY_ATTEMPTS} is the last)"
    return what


def _address(contact: CampaignContact, channel: Channel) -> str:
    if channel in (Channel.sms, Channel.call):
        return contact.phone or contact.email
    if channel == Channel.linkedin:
        return contact.linkedin_url or contact.email
    return contact.email


def _engaged_ids(
    camp: CampaignRow,
    contacts: builtins.list[CampaignContact],
    responses: builtins.list[ResponseRecord],
) -> set[str]:
    """Contacts with real engagement: the inquiry's contact, meetings, and replies that are
    not out-of-office, negative or unsubscribe requests."""
    ids: set[str] = set()
    referrer = camp.account.referrer
    if referrer is not None and referrer.contact_id:
        ids.add(referrer.contact_id)
    for r in responses:
        if r.kind == ResponseKind.meeting or (
            r.kind == ResponseKind.reply
            and (r.sentiment is None or r.sentiment.value in ("positive", "neutral"))
        ):
            ids.add(r.contact_id)
    return ids & {c.contact_id for c in contacts}
