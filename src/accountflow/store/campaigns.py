"""Campaign tables (`campaigns`, contacts, outbox, responses, events) and their queries.

A campaign outlives the process: its config, account, seller and analysis are stored with it,
and every touch (outbox), response and state change (events) is a row. A touch is claimed with a
conditional UPDATE (only one writer can move `claim_id` from NULL) and committed in one
transaction with the campaign's step counter, so two workers never send the same touch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
from pydantic import BaseModel

from accountflow.campaign.config import CampaignConfig
from accountflow.campaign.models import (
    CampaignContact,
    CampaignEvent,
    CampaignState,
    DeliveryStatus,
    OutboxEntry,
    ResponseRecord,
    Touch,
)
from accountflow.errors import NotFoundError
from accountflow.models import Account, AccountAnalysis, SellerProfile
from accountflow.store.codec import decode_json, from_json, like_prefix, sql_value, to_json
from accountflow.store.db import Database

# A claim older than this belongs to a worker that died mid-touch; another may take it over.
CLAIM_LEASE = timedelta(minutes=15)

_OUTBOX_COLUMNS = [c for c in OutboxEntry.model_fields if c != "contact_name"]
_CONTACT_COLUMNS = list(CampaignContact.model_fields)


class CampaignRow(BaseModel):
    """One campaign as stored, with its JSON columns parsed."""

    campaign_id: str
    account_id: str
    company_name: str
    status: CampaignState
    config: CampaignConfig
    account: Account
    seller: SellerProfile
    analysis: AccountAnalysis
    model: str | None = None
    program_version: str | None = None
    run_id: str | None = None  # the orchestrator run holding its research and touch records
    touches_done: int = 0
    next_touch_at: datetime | None = None
    pause_reason: str | None = None
    completed_reason: str | None = None
    claim_id: str | None = None
    claimed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class CampaignStore:
    """Queries over the campaign tables; all writes go through the store's one writer."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _write_returning(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One write whose RETURNING rows say whether it matched (a claim, a state change).
        A write conflict inside DuckDB means another writer won: no match."""
        try:
            with self.db.transaction() as cur:
                return cur.execute(sql, list(params)).fetchall()
        except duckdb.TransactionException:
            return []

    # ------------------------------------------------------------------ campaigns
    def create(
        self, row: CampaignRow, contacts: Sequence[CampaignContact], event: CampaignEvent
    ) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO campaigns (campaign_id, account_id, company_name, status, config, "
                "account, seller, analysis, model, program_version, run_id, touches_done, "
                "next_touch_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    row.campaign_id,
                    row.account_id,
                    row.company_name,
                    row.status.value,
                    to_json(row.config),
                    to_json(row.account),
                    to_json(row.seller),
                    to_json(row.analysis),
                    row.model,
                    row.program_version,
                    row.run_id,
                    row.touches_done,
                    row.next_touch_at,
                    row.created_at,
                    row.updated_at,
                ],
            )
            cur.executemany(
                f"INSERT INTO campaign_contacts (campaign_id, {', '.join(_CONTACT_COLUMNS)}) "
                f"VALUES (?, {', '.join('?' for _ in _CONTACT_COLUMNS)})",
                [
                    [row.campaign_id, *(sql_value(getattr(c, k)) for k in _CONTACT_COLUMNS)]
                    for c in contacts
                ],
            )
            self._event(cur, event)

    def set_run(self, campaign_id: str, run_id: str, program_version: str) -> None:
        """Attach the orchestrator run a campaign's touches are recorded under."""
        self.db.execute(
            "UPDATE campaigns SET run_id = ?, program_version = ? WHERE campaign_id = ?",
            [run_id, program_version, campaign_id],
        )

    def get(self, campaign_id: str) -> CampaignRow | None:
        rows = self.db.query("SELECT * FROM campaigns WHERE campaign_id = ?", [campaign_id])
        return self._row(rows[0]) if rows else None

    def resolve(self, prefix: str) -> str:
        """Accept a unique prefix of a campaign id, like `runs show` does for runs."""
        rows = self.db.query(
            "SELECT campaign_id FROM campaigns WHERE campaign_id LIKE ? ESCAPE '\\' LIMIT 2",
            [like_prefix(prefix)],
        )
        if not rows:
            raise NotFoundError(
                f"No campaign {prefix!r}; `accountflow campaign list` shows the campaign ids."
            )
        if len(rows) > 1:
            raise NotFoundError(f"Campaign id prefix {prefix!r} is ambiguous; give more of it.")
        return str(rows[0]["campaign_id"])

    def ids(self, status: CampaignState | None = None) -> list[str]:
        where, params = ("WHERE status = ?", [status.value]) if status else ("", [])
        rows = self.db.query(
            f"SELECT campaign_id FROM campaigns {where} ORDER BY created_at, campaign_id", params
        )
        return [str(r["campaign_id"]) for r in rows]

    def open_for_account(self, account_id: str) -> list[CampaignRow]:
        rows = self.db.query(
            "SELECT * FROM campaigns WHERE account_id = ? AND status <> ? ORDER BY created_at",
            [account_id, CampaignState.completed.value],
        )
        return [self._row(r) for r in rows]

    def due(self, now: datetime) -> list[str]:
        rows = self.db.query(
            "SELECT campaign_id FROM campaigns WHERE status = ? AND next_touch_at <= ? "
            "ORDER BY next_touch_at, created_at, campaign_id",
            [CampaignState.active.value, now],
        )
        return [str(r["campaign_id"]) for r in rows]

    def set_state(
        self,
        campaign_id: str,
        state: CampaignState,
        now: datetime,
        *,
        pause_reason: str | None = None,
        completed_reason: str | None = None,
        only_from: Sequence[CampaignState] = (),
        event: CampaignEvent | None = None,
        acknowledge: bool = False,
    ) -> bool:
        """Move a campaign to `state` if it is in one of `only_from` (any state when empty);
        with `acknowledge`, responses seen so far stop counting as conflicts (a resume)."""
        where = ""
        params: list[Any] = [state.value, pause_reason, completed_reason, now]
        if only_from:
            where = f" AND status IN ({', '.join('?' for _ in only_from)})"
            params += [s.value for s in only_from]
        with self.db.transaction() as cur:
            changed = cur.execute(
                "UPDATE campaigns SET status = ?, pause_reason = ?, completed_reason = ?, "
                "updated_at = ?"
                + (", next_touch_at = NULL" if state == CampaignState.completed else "")
                + f" WHERE campaign_id = ?{where} RETURNING campaign_id",
                [*params[:4], campaign_id, *params[4:]],
            ).fetchall()
            if not changed:
                return False
            if acknowledge:
                cur.execute(
                    "UPDATE campaign_responses SET acknowledged = TRUE WHERE campaign_id = ?",
                    [campaign_id],
                )
            if event is not None:
                self._event(cur, event)
        return True

    # ------------------------------------------------------------------ touches
    def claim(self, campaign_id: str, touches_done: int, claim_id: str, now: datetime) -> bool:
        """Take the right to make touch `touches_done + 1`: only one caller can, ever."""
        rows = self._write_returning(
            "UPDATE campaigns SET claim_id = ?, claimed_at = ? WHERE campaign_id = ? "
            "AND status = ? AND touches_done = ? AND (claim_id IS NULL OR claimed_at < ?) "
            "RETURNING campaign_id",
            [
                claim_id,
                now,
                campaign_id,
                CampaignState.active.value,
                touches_done,
                now - CLAIM_LEASE,
            ],
        )
        return bool(rows)

    def release(self, campaign_id: str, claim_id: str) -> None:
        self._write_returning(
            "UPDATE campaigns SET claim_id = NULL, claimed_at = NULL WHERE campaign_id = ? "
            "AND claim_id = ? RETURNING campaign_id",
            [campaign_id, claim_id],
        )

    def commit_touch(
        self,
        entry: OutboxEntry,
        claim_id: str,
        next_touch_at: datetime | None,
        completed_reason: str | None,
    ) -> bool:
        """Record the touch and advance the campaign in one transaction, only while this
        caller still holds the claim and the campaign is still active (a pause meanwhile wins)."""
        state = CampaignState.completed if completed_reason else CampaignState.active
        try:
            with self.db.transaction() as cur:
                moved = cur.execute(
                    "UPDATE campaigns SET touches_done = touches_done + 1, next_touch_at = ?, "
                    "status = ?, completed_reason = ?, claim_id = NULL, claimed_at = NULL, "
                    "updated_at = ? WHERE campaign_id = ? AND claim_id = ? AND status = ? "
                    "AND touches_done = ? RETURNING campaign_id",
                    [
                        next_touch_at,
                        state.value,
                        completed_reason,
                        entry.created_at,
                        entry.campaign_id,
                        claim_id,
                        CampaignState.active.value,
                        entry.touch_number - 1,
                    ],
                ).fetchall()
                if not moved:
                    raise _Lost
                cur.execute(
                    f"INSERT INTO campaign_outbox ({', '.join(_OUTBOX_COLUMNS)}) VALUES "
                    f"({', '.join('?' for _ in _OUTBOX_COLUMNS)})",
                    [sql_value(getattr(entry, c)) for c in _OUTBOX_COLUMNS],
                )
                self._event(
                    cur,
                    CampaignEvent(
                        campaign_id=entry.campaign_id,
                        at=entry.created_at,
                        event="touch",
                        detail={
                            "touch": entry.touch_number,
                            "contact": entry.address,
                            "contact_id": entry.contact_id,
                            "channel": entry.channel.value,
                            "kind": entry.kind.value,
                            "subject": entry.subject,
                        },
                    ),
                )
                if completed_reason:
                    self._event(
                        cur,
                        CampaignEvent(
                            campaign_id=entry.campaign_id,
                            at=entry.created_at,
                            event="completed",
                            detail={"reason": completed_reason},
                        ),
                    )
        except (_Lost, duckdb.TransactionException, duckdb.ConstraintException):
            return False
        return True

    def set_delivery(
        self,
        campaign_id: str,
        touch_number: int,
        status: DeliveryStatus,
        sender: str,
        detail: str | None,
        delivered_at: datetime | None,
        attempts: int | None = None,
    ) -> None:
        """What became of a touch handed to a sender (`attempts`: how many times it was)."""
        self.db.execute(
            "UPDATE campaign_outbox SET status = ?, sender = ?, detail = ?, delivered_at = ?, "
            "attempts = coalesce(?, attempts) WHERE campaign_id = ? AND touch_number = ?",
            [status.value, sender, detail, delivered_at, attempts, campaign_id, touch_number],
        )

    def claim_redelivery(self, campaign_id: str, touch_number: int, now: datetime) -> bool:
        """Take a deferred touch back to `queued` for another attempt: only one caller can."""
        rows = self._write_returning(
            "UPDATE campaign_outbox SET status = ?, attempted_at = ? WHERE campaign_id = ? "
            "AND touch_number = ? AND status = ? RETURNING touch_number",
            [
                DeliveryStatus.queued.value,
                now,
                campaign_id,
                touch_number,
                DeliveryStatus.deferred.value,
            ],
        )
        return bool(rows)

    def settle_stale(
        self, campaign_id: str, touch_number: int, stale_before: datetime, status: DeliveryStatus
    ) -> bool:
        """Resolve a touch still `queued` since before `stale_before` (its process died while
        handing it to the sender): only one caller can."""
        rows = self._write_returning(
            "UPDATE campaign_outbox SET status = ? WHERE campaign_id = ? AND touch_number = ? "
            "AND status = ? AND coalesce(attempted_at, created_at) < ? RETURNING touch_number",
            [
                status.value,
                campaign_id,
                touch_number,
                DeliveryStatus.queued.value,
                stale_before,
            ],
        )
        return bool(rows)

    def pending_deliveries(self, stale_before: datetime) -> list[str]:
        """Campaigns with work left on earlier touches: a deferred touch of a campaign that is
        not paused (to retry; a completed campaign's last touch too), or a touch of any
        campaign still `queued` since before `stale_before`."""
        rows = self.db.query(
            "SELECT DISTINCT o.campaign_id FROM campaign_outbox o JOIN campaigns c "
            "USING (campaign_id) WHERE (o.status = ? AND c.status <> ?) OR (o.status = ? AND "
            "coalesce(o.attempted_at, o.created_at) < ?) ORDER BY o.campaign_id",
            [
                DeliveryStatus.deferred.value,
                CampaignState.paused.value,
                DeliveryStatus.queued.value,
                stale_before,
            ],
        )
        return [str(r["campaign_id"]) for r in rows]

    def touches(self, campaign_id: str) -> list[Touch]:
        rows = self.db.query(
            "SELECT touch_number, contact_id, channel, kind, created_at AS at "
            "FROM campaign_outbox WHERE campaign_id = ? ORDER BY touch_number",
            [campaign_id],
        )
        return [Touch(**r) for r in rows]

    def outbox(self, campaign_id: str | None = None, limit: int = 1000) -> list[OutboxEntry]:
        where, params = ("WHERE o.campaign_id = ?", [campaign_id]) if campaign_id else ("", [])
        rows = self.db.query(
            f"SELECT o.*, c.name AS contact_name FROM campaign_outbox o "
            f"LEFT JOIN campaign_contacts c USING (campaign_id, contact_id) {where} "
            f"ORDER BY o.created_at, o.campaign_id, o.touch_number LIMIT ?",
            [*params, limit],
        )
        return [OutboxEntry(**r) for r in rows]

    # ------------------------------------------------------------------ contacts, responses
    def contacts(self, campaign_id: str) -> list[CampaignContact]:
        rows = self.db.query(
            f"SELECT {', '.join(_CONTACT_COLUMNS)} FROM campaign_contacts "
            "WHERE campaign_id = ? ORDER BY input_order",
            [campaign_id],
        )
        return [CampaignContact(**r) for r in rows]

    def add_response(self, response: ResponseRecord, event: CampaignEvent) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO campaign_responses (response_id, campaign_id, contact_id, kind, "
                "text, sentiment, topic, occurred_at, recorded_at, acknowledged) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    response.response_id,
                    response.campaign_id,
                    response.contact_id,
                    response.kind.value,
                    response.text,
                    sql_value(response.sentiment),
                    response.topic,
                    response.at,
                    response.recorded_at,
                    response.acknowledged,
                ],
            )
            self._event(cur, event)

    def responses(self, campaign_id: str) -> list[ResponseRecord]:
        rows = self.db.query(
            "SELECT response_id, campaign_id, contact_id, kind, text, sentiment, topic, "
            "occurred_at AS at, recorded_at, acknowledged FROM campaign_responses "
            "WHERE campaign_id = ? ORDER BY occurred_at, recorded_at",
            [campaign_id],
        )
        return [ResponseRecord(**r) for r in rows]

    # ------------------------------------------------------------------ events
    def add_event(self, event: CampaignEvent) -> None:
        with self.db.transaction() as cur:
            self._event(cur, event)

    def events(self, campaign_id: str) -> list[CampaignEvent]:
        rows = self.db.query(
            "SELECT campaign_id, occurred_at AS at, event, detail FROM campaign_events "
            "WHERE campaign_id = ? ORDER BY occurred_at, seq",
            [campaign_id],
        )
        return [CampaignEvent(**{**r, "detail": from_json(r["detail"]) or {}}) for r in rows]

    @staticmethod
    def _event(cur: duckdb.DuckDBPyConnection, event: CampaignEvent) -> None:
        cur.execute(
            "INSERT INTO campaign_events (campaign_id, occurred_at, event, detail) "
            "VALUES (?, ?, ?, ?)",
            [event.campaign_id, event.at, event.event, to_json(event.detail)],
        )

    @staticmethod
    def _row(row: dict[str, Any]) -> CampaignRow:
        return CampaignRow(**decode_json(row, ("config", "account", "seller", "analysis")))


class _Lost(Exception):
    """The claim was lost (or the campaign paused) before the touch could be committed."""
