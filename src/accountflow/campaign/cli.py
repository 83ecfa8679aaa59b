"""`accountflow campaign ...`: start, step, tick, respond, pause, resume, status, list, outbox.

Only typer and rich are imported here; the engine (and with it DSPy and DuckDB) is imported
inside each command so that `accountflow --help` stays fast. Campaign ids accept a unique
prefix. Exit codes: 0 done, 1 the work failed (a touch not sent, a campaign not started, a
rejected row), 2 a usage error (printed as one line by `accountflow.cli.main`).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from accountflow.cli_options import ApiBaseOpt, HomeOpt, JsonOpt, LmOpt, console, say, styled

if TYPE_CHECKING:
    from accountflow.campaign.engine import CampaignEngine
    from accountflow.campaign.models import CampaignStatus, StepResult
    from accountflow.campaign.senders import Sender

campaign_app = typer.Typer(
    help="Account-based campaigns: multi-touch outreach across an account's contacts, with "
    "channel escalation, conflict detection and auto-pause, stored in DuckDB.",
    no_args_is_help=True,
)

out = console()
err = console(stderr=True)

IdArg = Annotated[str, typer.Argument(help="A campaign id or a unique prefix of one.")]
NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Act as if it were this time (ISO 8601; UTC unless it has an "
        "offset), e.g. to catch up or to simulate.",
    ),
]
SmtpOpt = Annotated[
    str | None,
    typer.Option(
        "--smtp",
        help="Deliver email through this SMTP server, HOST:PORT (login from "
        "env ACCOUNTFLOW_SMTP_USER / ACCOUNTFLOW_SMTP_PASSWORD; List-Unsubscribe target from "
        "ACCOUNTFLOW_UNSUBSCRIBE). Default: only record touches in the outbox.",
    ),
]
SmtpFromOpt = Annotated[str | None, typer.Option("--smtp-from", help="From address for --smtp.")]
StartTlsOpt = Annotated[bool, typer.Option("--smtp-starttls", help="Use STARTTLS with --smtp.")]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _when(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    from accountflow.campaign.schedule import to_utc_naive
    from accountflow.errors import InputError

    try:
        return to_utc_naive(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise InputError(
            f"{flag} {value!r} is not an ISO 8601 time; use e.g. 2026-11-02T09:00."
        ) from None


def _sender(smtp: str | None, smtp_from: str | None, starttls: bool) -> Sender | None:
    if smtp is None:
        return None
    from accountflow.campaign.senders import SMTPSender
    from accountflow.errors import ConfigError

    host, _, port = smtp.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--smtp {smtp!r} must be HOST:PORT, e.g. 127.0.0.1:1025.")
    return SMTPSender(
        host,
        int(port),
        smtp_from or "",
        username=os.environ.get("ACCOUNTFLOW_SMTP_USER"),
        password=os.environ.get("ACCOUNTFLOW_SMTP_PASSWORD"),
        starttls=starttls,
        unsubscribe=os.environ.get("ACCOUNTFLOW_UNSUBSCRIBE") or None,
    )


def _engine(
    home: Path | None,
    lm: str | None = None,
    api_base: str | None = None,
    seller: Path | None = None,
    sender: Sender | None = None,
) -> CampaignEngine:
    from accountflow.campaign.engine import CampaignEngine
    from accountflow.config import Settings

    settings = Settings.load(home=home, lm=lm, api_base=api_base, seller=seller)
    return CampaignEngine(settings=settings, sender=sender)


# ---------------------------------------------------------------------------- start
@campaign_app.command("start")
def start(
    input: Annotated[Path, typer.Argument(help="Accounts file: .jsonl, .csv or .parquet.")],
    contacts: Annotated[
        Path | None, typer.Option("--contacts", help="Contacts CSV for a CSV/Parquet input.")
    ] = None,
    account_id: Annotated[
        str | None, typer.Option("--account-id", help="Start only this account's campaign.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Campaign settings (YAML or JSON); missing keys keep their defaults."
        ),
    ] = None,
    lm: LmOpt = None,
    api_base: ApiBaseOpt = None,
    seller: Annotated[
        Path | None, typer.Option("--seller", help="Seller profile YAML (env ACCOUNTFLOW_SELLER).")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a campaign per account: contacts, research and analysis once; first touch due now."""
    from accountflow.campaign.config import load_config
    from accountflow.errors import InputError
    from accountflow.io import load_accounts

    settings_config = load_config(config) if config is not None else None
    loaded = load_accounts(input, contacts)
    accounts = loaded.accounts
    if account_id is not None:
        accounts = [a for a in accounts if a.account_id == account_id]
        if not accounts:
            raise InputError(f"No valid account with account_id {account_id!r} in {input}.")
    for warning in loaded.warnings:
        say(err, "warning", warning, "yellow")
    for rejection in loaded.rejected:
        say(err, "rejected", rejection, "red")
    results = []
    with _engine(home, lm, api_base, seller) as engine:
        for account in accounts:
            result = engine.start(account, settings_config)
            results.append({"account_id": account.account_id, **result.model_dump(mode="json")})
            if as_json:
                continue
            if result.success:
                out.print(
                    styled(
                        ("started", "green"),
                        f" {result.campaign_id} for {account.account_id} "
                        f"{account.company_name}: {result.contacts_count} contact(s)",
                    ),
                    highlight=False,
                )
            else:
                out.print(
                    styled(("not started", "red"), f" {account.account_id}: {result.error}"),
                    highlight=False,
                )
            for warning in result.warnings:
                say(err, "  warning", warning, "yellow")
            for r in result.rejected_contacts:
                say(
                    err,
                    "  contact skipped",
                    f"{r.email or r.name or '#' + str(r.index)}: {r.reason}",
                    "yellow",
                )
    if as_json:
        _print_json(
            {
                "results": results,
                "rejected": [r.model_dump() for r in loaded.rejected],
                "warnings": loaded.warnings,
            }
        )
    if any(not r["success"] for r in results) or loaded.rejected:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- step, tick
def _print_step(result: StepResult) -> None:
    if result.action.value in ("undelivered", "redelivered"):
        color = "green" if result.success else "red"
        text = "delivered" if result.success else result.error
        out.print(
            styled(
                (result.action.value, color),
                f" {result.campaign_id} touch {result.step}: {text or ''}",
            ),
            highlight=False,
        )
        return
    if result.success and result.message is not None:
        head = styled(
            (f"touch {result.step}", "green"),
            f" {result.campaign_id} -> {result.contact_name} "
            f"<{result.contact}> by {result.channel.value if result.channel else '?'} "
            f"({result.kind.value if result.kind else ''}, "
            f"{result.delivery.value if result.delivery else ''})",
        )
        out.print(head, highlight=False)
        if result.message.subject:
            out.print(f"  subject: {result.message.subject}", highlight=False)
        out.print("  " + result.message.body.replace("\n", "\n  "), highlight=False)
        nxt = f"{result.next_touch_at:%Y-%m-%d %H:%M} UTC" if result.next_touch_at else "none"
        state = result.campaign_status.value if result.campaign_status else ""
        out.print(f"  next touch: {nxt}; campaign {state}", highlight=False)
        return
    color = "yellow" if result.action.value in ("not_due", "busy") else "red"
    out.print(
        styled((result.action.value, color), f" {result.campaign_id}: {result.error}"),
        highlight=False,
    )


@campaign_app.command("step")
def step(
    campaign_id: IdArg,
    force: Annotated[
        bool, typer.Option("--force", help="Make the next touch even if it is not due yet.")
    ] = False,
    now: NowOpt = None,
    lm: LmOpt = None,
    api_base: ApiBaseOpt = None,
    smtp: SmtpOpt = None,
    smtp_from: SmtpFromOpt = None,
    smtp_starttls: StartTlsOpt = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make one campaign's next touch if it is due (or --force); exit 1 if none was sent."""
    when = _when(now, "--now")
    sender = _sender(smtp, smtp_from, smtp_starttls)
    with _engine(home, lm, api_base, sender=sender) as engine:
        result = engine.step(engine.resolve(campaign_id), force=force, now=when)
    if as_json:
        _print_json(result.model_dump(mode="json"))
    else:
        _print_step(result)
    if not result.success:
        raise typer.Exit(1)


@campaign_app.command("tick")
def tick(
    now: NowOpt = None,
    lm: LmOpt = None,
    api_base: ApiBaseOpt = None,
    smtp: SmtpOpt = None,
    smtp_from: SmtpFromOpt = None,
    smtp_starttls: StartTlsOpt = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make every due touch of every active campaign, once (run it from cron).

    Touches not delivered earlier are retried first. Exit 1 if any touch failed or was not
    delivered."""
    when = _when(now, "--now")
    sender = _sender(smtp, smtp_from, smtp_starttls)
    with _engine(home, lm, api_base, sender=sender) as engine:
        results = engine.tick(now=when)
    if as_json:
        _print_json([r.model_dump(mode="json") for r in results])
    else:
        for result in results:
            _print_step(result)
        if not results:
            out.print("Nothing due.")
    if any(r.action.value in ("failed", "undelivered") for r in results):
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- respond, pause
@campaign_app.command("respond")
def respond(
    campaign_id: IdArg,
    contact: Annotated[str, typer.Option("--contact", help="The contact's email (or id).")],
    kind: Annotated[
        str, typer.Option("--kind", help="reply, meeting, unsubscribe, bounce or complaint.")
    ],
    text: Annotated[
        str | None, typer.Option("--text", help="The reply's text (read by the model).")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="When it happened (ISO 8601); default now.")
    ] = None,
    lm: LmOpt = None,
    api_base: ApiBaseOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a contact's response; a conflict pauses the campaign (with auto-pause on)."""
    when = _when(at, "--at")
    with _engine(home, lm, api_base) as engine:
        result = engine.record_response(engine.resolve(campaign_id), contact, kind, text, when)
    if as_json:
        _print_json(result.model_dump(mode="json"))
        return
    read = f" read as {result.sentiment.value}" if result.sentiment else ""
    topic = f" about {result.topic!r}" if result.topic else ""
    out.print(f"recorded {result.kind.value} from {result.contact}{read}{topic}", highlight=False)
    if result.error:
        say(err, "warning", result.error, "yellow")
    if result.paused:
        out.print(
            styled(("paused", "yellow"), f" {result.campaign_id}: {result.report.reason}"),
            highlight=False,
        )
    elif result.report.has_conflict:
        say(out, "conflict (not paused)", result.report.reason, "yellow")


@campaign_app.command("pause")
def pause(
    campaign_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Why; shown in `campaign status`.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pause a campaign: no touch is made until it is resumed."""
    with _engine(home) as engine:
        status = engine.pause(engine.resolve(campaign_id), reason)
    _print_status_line(status, as_json)


@campaign_app.command("resume")
def resume(campaign_id: IdArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Resume a paused campaign.

    Conflicts seen so far no longer pause it; unsubscribed and bounced contacts stay excluded."""
    with _engine(home) as engine:
        status = engine.resume(engine.resolve(campaign_id))
    _print_status_line(status, as_json)


def _print_status_line(status: CampaignStatus, as_json: bool) -> None:
    if as_json:
        _print_json(status.model_dump(mode="json"))
        return
    reason = f": {status.pause_reason}" if status.pause_reason else ""
    out.print(f"{status.campaign_id} {status.status.value}{reason}", highlight=False)


# ---------------------------------------------------------------------------- reading
@campaign_app.command("status")
def status(
    campaign_id: Annotated[
        str | None, typer.Argument(help="A campaign id or prefix; all campaigns without it.")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One campaign in detail (contacts, timeline), or every campaign as a table."""
    with _engine(home) as engine:
        if campaign_id is None:
            statuses = engine.list()
            if as_json:
                _print_json([s.model_dump(mode="json") for s in statuses])
            else:
                _print_table(statuses)
            return
        cid = engine.resolve(campaign_id)
        one = engine.status(cid)
        events = engine.events(cid)
    assert one is not None
    if as_json:
        _print_json(
            {**one.model_dump(mode="json"), "events": [e.model_dump(mode="json") for e in events]}
        )
        return
    from rich.table import Table

    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column()
    color = {"active": "green", "paused": "yellow"}.get(one.status.value, "blue")
    grid.add_row("campaign", f"{one.campaign_id} · {one.account_id} {one.company_name}")
    grid.add_row("status", styled((one.status.value, color)))
    if one.pause_reason:
        grid.add_row("pause reason", one.pause_reason)
    if one.completed_reason:
        grid.add_row("completed", one.completed_reason)
    grid.add_row(
        "step",
        f"{one.current_step} of {one.total_touchpoints} touchpoints ({one.delivered} delivered)",
    )
    grid.add_row(
        "next touch", f"{one.next_touch_at:%Y-%m-%d %H:%M} UTC" if one.next_touch_at else "-"
    )
    grid.add_row("channels used", ", ".join(c.value for c in one.channels_used) or "-")
    grid.add_row("engaged", ", ".join(one.contacts_engaged) or "-")
    grid.add_row("created", f"{one.created_at:%Y-%m-%d %H:%M} UTC")
    grid.add_row("updated", f"{one.updated_at:%Y-%m-%d %H:%M} UTC")
    out.print(grid)
    people = Table(
        "contact",
        "title",
        "role",
        "score",
        "touches",
        "channels",
        "state",
        box=None,
        header_style="bold",
    )
    for c in one.contacts:
        state = c.excluded or ("engaged" if c.engaged else "")
        people.add_row(
            f"{c.name} <{c.email}>",
            c.title or "",
            c.role.value,
            str(c.score),
            str(c.touches),
            ", ".join(ch.value for ch in c.channels),
            state,
        )
    out.print(people)
    if one.undelivered:
        failed = Table(
            "touch", "to", "delivery", "attempts", "detail", box=None, header_style="bold red"
        )
        for u in one.undelivered:
            failed.add_row(
                f"#{u.touch_number}",
                u.address,
                u.status.value,
                str(u.attempts),
                u.detail or "",
            )
        out.print(failed)
    timeline = Table("when (UTC)", "event", "detail", box=None, header_style="bold")
    for e in events:
        timeline.add_row(f"{e.at:%Y-%m-%d %H:%M}", e.event, _event_text(e.event, e.detail))
    out.print(timeline)


def _event_text(event: str, d: dict[str, Any]) -> str:
    if event == "touch":
        subject = f": {d['subject']}" if d.get("subject") else ""
        return (
            f"#{d.get('touch')} {d.get('channel')} to {d.get('contact')} ({d.get('kind')}){subject}"
        )
    if event == "response":
        read = f", read as {d['sentiment']}" if d.get("sentiment") else ""
        return f"{d.get('kind')} from {d.get('contact')}{read}"
    if event == "started":
        return f"{d.get('contacts')} contact(s), {d.get('rejected')} skipped"
    if event == "touch_undelivered":
        return (
            f"#{d.get('touch')} {d.get('channel')} to {d.get('contact')} {d.get('status')} "
            f"(attempt {d.get('attempts')}): {d.get('error')}"
        )
    if event == "touch_failed":
        return f"#{d.get('touch')} {d.get('channel')} to {d.get('contact')}: {d.get('error')}"
    if event == "resumed":
        return f"was: {d.get('was')}"
    return str(d.get("reason") or "")


def _print_table(statuses: list[CampaignStatus]) -> None:
    if not statuses:
        out.print("No campaigns yet: `accountflow campaign start FILE` starts one per account.")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for name in ("campaign", "account", "status", "step", "next touch (UTC)", "engaged"):
        table.add_column(name, no_wrap=True)
    table.add_column("company / reason", overflow="fold")
    for s in statuses:
        table.add_row(
            s.campaign_id,
            s.account_id,
            s.status.value,
            f"{s.current_step}/{s.total_touchpoints}",
            f"{s.next_touch_at:%Y-%m-%d %H:%M}" if s.next_touch_at else "-",
            str(len(s.contacts_engaged)),
            s.company_name + (f" · {s.pause_reason}" if s.pause_reason else ""),
        )
    out.print(table)


@campaign_app.command("list")
def list_campaigns(
    state: Annotated[
        str | None,
        typer.Option("--status", help="Only campaigns in this state: active, paused or completed."),
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List campaigns, oldest first."""
    with _engine(home) as engine:
        statuses = engine.list(state)
    if as_json:
        _print_json([s.model_dump(mode="json", exclude={"contacts"}) for s in statuses])
    else:
        _print_table(statuses)


@campaign_app.command("outbox")
def outbox(
    campaign_id: Annotated[
        str | None, typer.Argument(help="A campaign id or prefix; every campaign without it.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most N touches.")] = 1000,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every rendered touch and its delivery status, oldest first."""
    with _engine(home) as engine:
        cid = engine.resolve(campaign_id) if campaign_id else None
        entries = engine.outbox(cid, limit)
    if as_json:
        _print_json([e.model_dump(mode="json") for e in entries])
        return
    if not entries:
        out.print("The outbox is empty: `accountflow campaign tick` makes the due touches.")
        return
    for e in entries:
        out.rule(
            f"{e.campaign_id} #{e.touch_number} · {e.created_at:%Y-%m-%d %H:%M} UTC · "
            f"{e.channel.value} · {e.kind.value} · {e.status.value}"
        )
        out.print(f"to: {e.contact_name} <{e.address}>", highlight=False)
        if e.subject:
            out.print(f"subject: {e.subject}", highlight=False)
        out.print(e.body, highlight=False)
