"""A 14-day simulated campaign: one three-contact account, a fake clock and (by default) the
fake LM. Prints the timeline (each day's tick, the touches, the primary's reply and how the
model read it, the auto-pause), then runs `accountflow campaign status` as a new process on the
same state dir, which also shows that the campaign outlives the engine that ran it.

    python bench/campaign_sim.py [--days 14] [--reply-day 6] [--lm fake] [--home DIR]

With the fake LM the reply's reading (sentiment and topic) is scripted, as a real model would
answer; every other message comes from the fake engine through the real modules. Pass
`--lm local/qwen2.5-coder-0.5b` or a provider model to let a real model write and read.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from accountflow.campaign import CampaignEngine
from accountflow.datasets import path as data_path
from accountflow.io import load_accounts
from accountflow.lm import build_lm, fake_lm
from accountflow.lm.ref import Backend, ModelRef
from accountflow.lm.usage import model_ref

START = datetime(2026, 11, 2, 9, 0)  # Monday 09:00 UTC
REPLY_TEXT = (
    "Hi Maya, thanks for the note. Freshness alerts per Snowflake table are exactly what we "
    "need after the cutover. Can you send pricing and a time for a demo next week? - Marcus"
)
SCRIPTED_READING = {"sentiment": "positive", "topic": "freshness alerts per Snowflake table"}


class SimClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _scripted_reader(request: Any, answer: Any) -> Any:
    """The fake engine picks reply labels by hash; the simulation answers as a model would."""
    if isinstance(answer, dict) and "sentiment" in answer:
        return dict(SCRIPTED_READING)
    return None


def _line(clock: SimClock, text: str) -> None:
    day = (clock.now - START).days
    print(f"day {day:>2} {clock.now:%a %Y-%m-%d %H:%M}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument(
        "--reply-day", type=int, default=6, help="the day the primary contact replies (afternoon)"
    )
    parser.add_argument("--lm", default="fake")
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="campaign-sim-"))
    os.environ["ACCOUNTFLOW_HOME"] = str(home)
    fake = ModelRef.parse(args.lm).backend is Backend.fake
    lm = (
        fake_lm("campaign-sim", responder=_scripted_reader, cache=False)
        if fake
        else build_lm(args.lm)
    )
    account = next(
        a
        for a in load_accounts(data_path("accounts_demo.jsonl")).accounts
        if a.account_id == "acc-001"
    )
    clock = SimClock(START)
    t0 = time.perf_counter()
    print(f"state dir: {home}\nmodel: {model_ref(lm)}{' (scripted reply reading)' if fake else ''}")
    print(
        f"account: {account.account_id} {account.company_name}, contacts: "
        + "; ".join(f"{c.name} ({c.title})" for c in account.contacts)
        + "\n"
    )

    with CampaignEngine(home=home, lm=lm, clock=clock) as engine:
        started = engine.start(account)
        if not started.success or started.campaign_id is None:
            sys.exit(f"campaign not started: {started.error}")
        cid = started.campaign_id
        _line(
            clock,
            f"started {cid}: {started.contacts_count} contacts, research and analysis "
            f"done ({started.lm_calls} LM calls); default config",
        )
        for day in range(args.days + 1):
            clock.now = START + timedelta(days=day)
            results = engine.tick()
            for r in results:
                if r.success and r.message is not None:
                    what = r.message.subject or r.message.body.split("\n")[0][:70]
                    _line(
                        clock,
                        f"touch {r.step} {r.channel.value if r.channel else ''} -> "
                        f"{r.contact_name} <{r.contact}> ({r.kind.value if r.kind else ''}): "
                        f"{what!r}; next due {r.next_touch_at:%a %m-%d}"
                        if r.next_touch_at
                        else "",
                    )
                else:
                    _line(clock, f"{r.action.value}: {r.error}")
            if not results:
                status = engine.status(cid)
                assert status is not None
                if status.status.value == "active":
                    _line(clock, f"tick: nothing due (next touch {status.next_touch_at:%a %m-%d})")
                else:
                    _line(clock, f"tick: campaign {status.status.value}, nothing sent")
            if day == args.reply_day:
                clock.now += timedelta(hours=5, minutes=30)
                primary = account.primary_contact
                assert primary is not None and primary.email is not None
                reply = engine.record_response(cid, primary.email, "reply", REPLY_TEXT)
                _line(clock, f"reply from {primary.name}: {REPLY_TEXT[:60]!r}...")
                read = reply.sentiment.value if reply.sentiment else "unread"
                _line(clock, f"  read by the model as {read}, topic {reply.topic!r}")
                for c in reply.report.conflicts:
                    _line(clock, f"  conflict {c.type.value}: {c.detail}")
                _line(clock, "  -> campaign paused" if reply.paused else "  -> not paused")
        final = engine.status(cid)
    assert final is not None
    elapsed = time.perf_counter() - t0
    print(
        f"\n{args.days} simulated days in {elapsed:.1f}s wall, {len(lm.history)} LM calls, "
        f"{final.current_step} touches, status {final.status.value}\n"
    )
    print(f"$ accountflow campaign status {cid} --home {home}   (a new process)\n", flush=True)
    env = {**os.environ, "COLUMNS": "110"}
    subprocess.run(
        [sys.executable, "-m", "accountflow.cli", "campaign", "status", cid, "--home", str(home)],
        check=True,
        env=env,
    )


if __name__ == "__main__":
    main()
