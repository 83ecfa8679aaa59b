"""`accountflow campaign ...` through `main()`: JSON output, exit codes, one-line errors."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from accountflow.cli import main
from accountflow.datasets import path as data_path
from tests.campaign.smtp_server import smtp_server

DEMO = str(data_path("accounts_demo.jsonl"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore
    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["accountflow", "campaign", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
        captured = capsys.readouterr()
        return int(exit_info.value.code or 0), captured.out, captured.err

    return run


def _start(cli, account: str = "acc-001") -> str:  # type: ignore[no-untyped-def]
    code, out, err = cli("start", DEMO, "--account-id", account, "--lm", "fake", "--json")
    assert code == 0, err
    [result] = json.loads(out)["results"]
    assert result["success"] and result["contacts_count"] == 3
    return str(result["campaign_id"])


def test_campaign_lifecycle_from_the_command_line(cli) -> None:  # type: ignore[no-untyped-def]
    cid = _start(cli)
    code, out, _ = cli("tick", "--lm", "fake", "--json")
    assert code == 0
    [touch] = json.loads(out)
    assert (touch["campaign_id"], touch["step"], touch["channel"]) == (cid, 1, "email")
    assert json.loads(cli("tick", "--lm", "fake", "--json")[1]) == []  # nothing twice

    code, out, _ = cli("step", cid[:8], "--lm", "fake")  # a prefix is enough
    assert code == 1 and "not_due" in out
    code, out, _ = cli("step", cid, "--force", "--lm", "fake")
    assert code == 0 and "touch 2" in out and "Marcus Reed" in out

    later = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()
    code, out, _ = cli("tick", "--now", later, "--lm", "fake", "--json")
    assert [r["step"] for r in json.loads(out)] == [3]

    code, out, _ = cli("outbox", cid, "--json")
    entries = json.loads(out)
    assert [e["touch_number"] for e in entries] == [1, 2, 3]
    assert entries[0]["status"] == "recorded" and entries[0]["body"].startswith("Hi Marcus")
    code, out, _ = cli("outbox")
    assert code == 0 and "to: Marcus Reed" in out

    code, out, _ = cli(
        "respond",
        cid,
        "--contact",
        "priya.natarajan@harborlinefreight.example",
        "--kind",
        "meeting",
        "--lm",
        "fake",
    )
    assert code == 0 and "paused" in out and "meeting scheduled" in out

    code, out, _ = cli("status", cid, "--json")
    status = json.loads(out)
    assert status["status"] == "paused" and status["current_step"] == 3
    assert "meeting scheduled" in status["pause_reason"]
    assert sorted(e["event"] for e in status["events"]) == [  # the --now touch sorts last
        "paused",
        "response",
        "started",
        "touch",
        "touch",
        "touch",
    ]
    code, out, _ = cli("status", cid)
    assert code == 0 and "pause reason" in out and "Priya Natarajan" in out

    code, out, _ = cli("list", "--status", "paused", "--json")
    assert [c["campaign_id"] for c in json.loads(out)] == [cid]
    code, out, _ = cli("resume", cid, "--json")
    assert json.loads(out)["status"] == "active"
    code, out, _ = cli("pause", cid, "--reason", "holiday freeze")
    assert code == 0 and "paused: holiday freeze" in out
    code, out, _ = cli("status")
    assert code == 0 and cid in out and "holiday" in out  # the table folds long text
    code, out, _ = cli("list")
    assert code == 0 and "paused" in out


def test_user_errors_are_one_line_with_exit_2(cli, tmp_path: Path) -> None:  # type: ignore
    cid = _start(cli)
    cases = [
        ("status", "cmp_nothing"),
        ("respond", cid, "--contact", "marcus.reed@harborlinefreight.example", "--kind", "wave"),
        ("respond", cid, "--contact", "nobody@x.example", "--kind", "reply"),
        ("tick", "--now", "next tuesday"),
        ("list", "--status", "sleeping"),
        ("step", cid, "--smtp", "localhost"),
    ]
    bad_config = tmp_path / "c.yaml"
    bad_config.write_text("max_touches: 3\n")
    cases.append(("start", DEMO, "--config", str(bad_config), "--lm", "fake"))
    for args in cases:
        code, out, err = cli(*args)
        assert code == 2, (args, out, err)
        assert err.startswith("error:") and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err


def test_start_reports_campaigns_not_started(cli) -> None:  # type: ignore[no-untyped-def]
    _start(cli, "acc-001")
    code, out, _ = cli("start", DEMO, "--account-id", "acc-001", "--lm", "fake")
    assert code == 1 and "already has campaign" in out


def test_start_with_a_config_file(cli, tmp_path: Path) -> None:  # type: ignore
    config = tmp_path / "campaign.yaml"
    config.write_text("max_touchpoints: 2\nchannel_escalation: [email]\n")
    code, out, _ = cli(
        "start", DEMO, "--account-id", "acc-003", "--config", str(config), "--lm", "fake", "--json"
    )
    assert code == 0
    cid = json.loads(out)["results"][0]["campaign_id"]
    status = json.loads(cli("status", cid, "--json")[1])
    assert status["total_touchpoints"] == 2


def test_step_delivers_through_smtp(cli) -> None:  # type: ignore[no-untyped-def]
    cid = _start(cli)
    with smtp_server() as server:
        code, out, _ = cli(
            "step",
            cid,
            "--lm",
            "fake",
            "--smtp",
            f"127.0.0.1:{server.server_address[1]}",
            "--smtp-from",
            "maya@northwind.example",
            "--json",
        )
    assert code == 0 and json.loads(out)["delivery"] == "sent"
    [(_, rcpts, _)] = server.received
    assert rcpts == ["marcus.reed@harborlinefreight.example"]
