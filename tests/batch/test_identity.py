"""A batch re-run skips an account only when everything that shapes its output is the same
(input row, seller profile, program version, model, review mode, sources); what changed runs
again."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from accountflow.datasets import path as data_path
from tests.cli_runner import run_cli


def _accounts(tmp_path: Path) -> list[str]:
    """Two accounts in the seller's ICP with a contact each (so each gets outreach), as
    `score` arguments."""
    path = tmp_path / "accounts.csv"
    path.write_text(
        "account_id,company_name,industry,employee_count\n"
        "a1,Acme Robotics,Manufacturing,400\n"
        "a2,Beta Freight,Logistics & transportation,900\n"
    )
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "account_id,contact_id,name,email,is_primary\n"
        "a1,c1,Ana Ruiz,ana@acme.example,true\n"
        "a2,c2,Bo Lee,bo@beta.example,true\n"
    )
    return [str(path), "--contacts", str(contacts)]


def _score(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *extra: str,
) -> dict:
    args = ["score", *_accounts(tmp_path), "--out", str(tmp_path / "out.jsonl")]
    code, out, err = run_cli([*args, "--lm", "fake", "--json", *extra], capsys, monkeypatch)
    assert code == 0, err
    return json.loads(out)


def _runs(home: Path) -> list[tuple]:
    con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT account_id, status, identity, input_hash, seller_hash, program_version, "
            "model, review, sources FROM runs ORDER BY started_at"
        ).fetchall()
    finally:
        con.close()


def test_a_new_seller_runs_every_account_again(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _score(tmp_path, capsys, monkeypatch)
    assert first["succeeded"] == 2
    assert _score(tmp_path, capsys, monkeypatch)["skipped"] == 2  # nothing changed

    seller = tmp_path / "seller.yaml"
    demo = Path(str(data_path("seller_demo.yaml"))).read_text(encoding="utf-8")
    seller.write_text(demo.replace("Beacon", "Lighthouse"), encoding="utf-8")
    again = _score(tmp_path, capsys, monkeypatch, "--seller", str(seller))
    assert again["skipped"] == 0 and again["succeeded"] == 2
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert all("Lighthouse" in r["email_body"] for r in rows)  # signed for the new seller

    runs = _runs(home)
    assert len(runs) == 4 and len({r[2] for r in runs}) == 4  # one identity per account+seller
    assert len({r[4] for r in runs}) == 2  # two seller profiles
    assert {r[8] for r in runs} == {"account"}


def test_review_always_on_a_rerun_holds_the_outreach(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _score(tmp_path, capsys, monkeypatch)["succeeded"] == 2
    again = _score(tmp_path, capsys, monkeypatch, "--review", "always")
    assert again["skipped"] == 0 and again["awaiting_review"] == 2
    assert [r[7] for r in _runs(home)] == ["never", "never", "always", "always"]
    # and the same review mode again is the same identity: skipped
    assert _score(tmp_path, capsys, monkeypatch, "--review", "always")["skipped"] == 2


def test_a_seller_whose_criteria_keywords_change_rescores_the_account(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keywords decide fit in code, so a seller file that changes only a criterion's keywords
    changes the score: a re-run must not serve the old one."""
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account_id,company_name,industry,employee_count,description\n"
        'a1,Acme Freight,Logistics & transportation,800,"Its pipelines run in Airflow."\n'
    )
    out = tmp_path / "out.jsonl"

    def score(*extra: str) -> tuple[dict, dict]:
        args = ["score", str(accounts), "--out", str(out), "--lm", "fake", "--json", *extra]
        code, stdout, err = run_cli(args, capsys, monkeypatch)
        assert code == 0, err
        return json.loads(stdout), json.loads(out.read_text().splitlines()[-1])

    summary, row = score()
    assert summary["succeeded"] == 1 and row["fit_score"] == 80  # 30 + 30 + pipeline_tools 20

    seller = tmp_path / "seller.yaml"
    demo = Path(str(data_path("seller_demo.yaml"))).read_text(encoding="utf-8")
    assert "        - dbt|airflow|fivetran\n" in demo
    seller.write_text(demo.replace("        - dbt|airflow|fivetran\n", "        - dbt\n"))
    summary, row = score("--seller", str(seller))
    assert summary["skipped"] == 0 and summary["succeeded"] == 1
    assert row["fit_score"] == 60  # Airflow no longer counts
