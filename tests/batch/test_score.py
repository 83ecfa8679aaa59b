"""`accountflow score` end to end on the fake engine: outputs, rejections, resume, budget,
dry run, exit codes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.cli_runner import run_cli

HEADER = "account_id,company_name,domain,industry,employee_count,description\n"


def _good(i: int) -> str:
    return f"a{i:04d},Company {i},c{i}.example,Logistics,{100 + i},Moved to Snowflake.\n"


def _file(tmp_path: Path, n: int = 120) -> tuple[Path, Path, dict[int, str]]:
    """n good rows, a dozen bad ones (line number -> what is wrong), and a contacts file."""
    rows = [_good(i) for i in range(n)]
    bad = {
        5: ",Missing Id Co,x.example,Retail,10,\n",
        17: "a0017x,,y.example,Retail,10,\n",
        30: "a0003,Duplicate Of Three,z.example,Retail,10,\n",
        44: "a9001,Oversize Co,o.example,Retail,10," + "x" * 20_001 + "\n",
        51: "a9002,Bad Count,b.example,Retail,not-a-number,\n",
        60: "a9003,Too,Many,Values,1,2,3,4\n",
        71: "a9004,Negative Co,n.example,Retail,-5,\n",
        80: "a9006,Bad Domain,not a domain!,Retail,10,\n",
        90: "a9007,   ,blank.example,Retail,10,\n",
        99: "a9008,Short\n",
    }
    lines = [HEADER]
    for row in rows:
        line_no = len(lines) + 1
        if line_no in bad:
            lines.append(bad.pop(line_no))
        lines.append(row)
    path = tmp_path / "accounts.csv"
    data = "".join(lines).encode() + b"a9009,Latin\xe9 Co,l.example,Retail,10,\n"
    path.write_bytes(data)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "account_id,contact_id,name,email,title,is_primary\n"
        "a0001,c1,Ana Ruiz,ana@c1.example,CTO,true\n"
        "a0002,c2,Bo Lee,not-an-email,VP Data,true\n"
        "a0002,c3,Cy Ng,cy@c2.example,Head of Data,false\n",
        encoding="utf-8",
    )
    rejected_lines = {}
    for no, line in enumerate(path.read_bytes().splitlines(), start=1):
        if no > 1 and not line.decode("utf-8", "replace").startswith(
            tuple(f"a{i:04d},Company {i}," for i in range(n))
        ):
            rejected_lines[no] = line.decode("utf-8", "replace")[:30]
    return path, contacts, rejected_lines


def test_score_a_file_with_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts, contacts, bad_lines = _file(tmp_path)
    out = tmp_path / "scored.csv"
    code, stdout, err = run_cli(
        [
            "score",
            str(accounts),
            "--out",
            str(out),
            "--contacts",
            str(contacts),
            "--lm",
            "fake",
            "--json",
        ],
        capsys,
        monkeypatch,
    )
    summary = json.loads(stdout)
    assert code == 1 and summary["exit_code"] == 1, err
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    ids = [r["account_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 120  # every good row, once
    assert all(r["status"] == "succeeded" for r in rows)
    assert all(r["fit_score"] and r["top_pain_points"] for r in rows)
    with_contacts = [r for r in rows if r["account_id"] in ("a0001", "a0002")]
    assert all(r["email_subject"] and r["sms"] and r["call_opener"] for r in with_contacts)
    one = next(r for r in rows if r["account_id"] == "a0001")
    assert "Ana" in one["email_body"]
    rejected_file = tmp_path / "scored.rejected.csv"
    with rejected_file.open(newline="", encoding="utf-8") as fh:
        rejected = list(csv.DictReader(fh))
    account_rejects = {int(r["row"]) for r in rejected if r["source"] == str(accounts)}
    assert account_rejects == set(bad_lines)
    assert all(r["reason"] for r in rejected)
    reasons = " | ".join(r["reason"] for r in rejected)
    for expected in (
        "account_id",
        "duplicate",
        "20000",
        "UTF-8",
        "values but the header",
        "company_name",
        "email",
        "domain name",
    ):
        assert expected in reasons, expected
    assert summary["accounts"] == 120 and summary["succeeded"] == 120
    assert summary["rejected"] == len(rejected) and summary["failed"] == 0
    assert summary["rejected_file"] == str(rejected_file)
    assert summary["lm_calls"] == 120 * 2 + 2 * 4  # research + analysis; outreach for two

    # the same command again: nothing is run twice, the output is whole again
    code, stdout, _ = run_cli(
        [
            "score",
            str(accounts),
            "--out",
            str(out),
            "--contacts",
            str(contacts),
            "--lm",
            "fake",
            "--json",
        ],
        capsys,
        monkeypatch,
    )
    again = json.loads(stdout)
    assert again["skipped"] == 120 and again["lm_calls"] == 0 and again["succeeded"] == 120
    with out.open(newline="", encoding="utf-8") as fh:
        assert sorted(r["account_id"] for r in csv.DictReader(fh)) == sorted(ids)

    # a new batch name over the same state dir: every LM call is a cache hit
    code, stdout, _ = run_cli(
        [
            "score",
            str(accounts),
            "--out",
            str(tmp_path / "b.jsonl"),
            "--contacts",
            str(contacts),
            "--lm",
            "fake",
            "--batch",
            "second",
            "--json",
        ],
        capsys,
        monkeypatch,
    )
    second = json.loads(stdout)
    assert second["skipped"] == 0 and second["lm_calls"] == second["cache_hits"] > 0
    assert second["prompt_tokens"] == 0


def test_an_unknown_column_is_reported_not_silently_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = tmp_path / "typo.csv"
    accounts.write_text("account_id,company_name,contact_emial\nacc-1,Acme,a@acme.com\n")
    out = tmp_path / "out.csv"
    code, stdout, _ = run_cli(
        ["score", str(accounts), "--out", str(out), "--lm", "fake", "--json"], capsys, monkeypatch
    )
    summary = json.loads(stdout)
    assert code == 0 and summary["succeeded"] == 1
    assert any("unknown column 'contact_emial'" in w for w in summary["warnings"])
    code, _, err = run_cli(
        ["score", str(accounts), "--out", str(out), "--lm", "fake", "--batch", "again"],
        capsys,
        monkeypatch,
    )
    assert code == 0 and "warning: typo.csv: ignoring unknown column 'contact_emial'" in err


def test_outputs_are_safe_and_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "account_id": "h1",
                    "company_name": '=HYPERLINK("http://x")',
                    "contacts": [{"name": "Ann Lee", "email": "ann@h1.example"}],
                },
                {
                    "account_id": "h2",
                    "company_name": "'; DROP TABLE steps; --",
                    "contacts": [{"name": "Bob Stone", "email": "bob@h2.example"}],
                },
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    for suffix in ("csv", "parquet", "jsonl"):
        out = tmp_path / f"out.{suffix}"
        code, _, err = run_cli(
            [
                "score",
                str(hostile),
                "--out",
                str(out),
                "--lm",
                "fake",
                "--quiet",
                "--batch",
                suffix,
            ],
            capsys,
            monkeypatch,
        )
        assert code == 0, err
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as fh:
        rows = {r["account_id"]: r for r in csv.DictReader(fh)}
    assert rows["h1"]["company_name"] == '\'=HYPERLINK("http://x")'
    assert rows["h2"]["company_name"] == "'; DROP TABLE steps; --"  # verbatim
    table = duckdb.sql(f"SELECT * FROM read_parquet('{tmp_path / 'out.parquet'}')").fetchall()
    assert len(table) == 2
    names = {r[1] for r in table}
    assert names == {'=HYPERLINK("http://x")', "'; DROP TABLE steps; --"}
    jsonl = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert {r["company_name"] for r in jsonl} == names
    assert all(isinstance(r["fit_score"], int) for r in jsonl)
    code, out, _ = run_cli(["stats", "--json"], capsys, monkeypatch)
    assert json.loads(out)["runs_total"] == 6  # the steps table is still there


def test_dry_run_estimates_without_recording(
    tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts, _, bad = _file(tmp_path, n=30)
    code, out, _ = run_cli(
        [
            "score",
            str(accounts),
            "--out",
            str(tmp_path / "x.csv"),
            "--lm",
            "openai/gpt-4o-mini",
            "--dry-run",
            "--json",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0
    est = json.loads(out)
    assert est["accounts"] == 30 and est["sampled"] == 5 and est["rejected"] == len(bad)
    assert est["lm_calls_per_account"] == 2 and est["total_prompt_tokens"] > 0  # no contacts
    assert est["cost_usd"] > 0 and "litellm" in est["price_note"]
    assert not (tmp_path / "x.csv").exists() and not (home / "accountflow.duckdb").exists()


def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts, _, _ = _file(tmp_path, n=3)
    for args, words in (
        (["--out", str(tmp_path / "x.xlsx")], "extension"),
        (["--out", str(tmp_path / "nope" / "x.csv")], "does not exist"),
        (["--out", str(tmp_path / "x.csv"), "--budget-usd", "0"], "budget"),
    ):
        code, _, err = run_cli(["score", str(accounts), *args, "--lm", "fake"], capsys, monkeypatch)
        assert code == 2 and words in err and err.count("\n") == 1, err
    code, _, err = run_cli(
        ["score", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "x.csv"), "--lm", "fake"],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "does not exist" in err


def _spawn(args: list[str], home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ACCOUNTFLOW_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "accountflow.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_rows(path: Path, n: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while not path.exists() or len(path.read_text().splitlines()) < n:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_kill_9_mid_batch_then_the_same_command_finishes_exactly_once(
    tmp_path: Path, home: Path
) -> None:
    accounts, _, _ = _file(tmp_path, n=40)
    out = tmp_path / "out.jsonl"
    args = [
        "score",
        str(accounts),
        "--out",
        str(out),
        "--lm",
        "fake?latency_ms=60",
        "--concurrency",
        "4",
        "--quiet",
        "--json",
    ]
    proc = _spawn(args, home)
    _wait_for_rows(out, 10, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    second = _spawn(args, home)
    stdout, stderr = second.communicate(timeout=120)
    assert second.returncode == 1, stderr.decode()  # the file has rejected rows
    summary = json.loads(stdout)
    assert summary["succeeded"] == 40 and summary["skipped"] + summary["resumed"] >= 1
    # finished work is not paid for again: skipped, resumed from its steps, or a cache hit
    assert summary["lm_calls"] - summary["cache_hits"] < 40 * 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["account_id"] for r in rows) == sorted(f"a{i:04d}" for i in range(40))
    con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
    dup_steps = con.execute(
        "SELECT run_id, step, count(*) FROM steps WHERE status = 'succeeded' "
        "GROUP BY ALL HAVING count(*) > 1"
    ).fetchall()
    dup_runs = con.execute(
        "SELECT account_id, count(*) FROM runs WHERE status = 'succeeded' "
        "GROUP BY ALL HAVING count(*) > 1"
    ).fetchall()
    assert dup_steps == [] and dup_runs == []


def test_ctrl_c_stops_cleanly_with_exit_130_and_resumes(tmp_path: Path, home: Path) -> None:
    accounts, _, _ = _file(tmp_path, n=30)
    out = tmp_path / "out.csv"
    args = [
        "score",
        str(accounts),
        "--out",
        str(out),
        "--lm",
        "fake?latency_ms=60",
        "--concurrency",
        "2",
    ]
    proc = _spawn(args, home)
    _wait_for_rows(out, 4, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert "resume with: accountflow resume --batch accounts-" in stderr.decode()
    finish = _spawn([*args, "--quiet"], home)
    finish.communicate(timeout=120)
    with out.open(newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 30


def test_second_process_on_the_same_state_dir_exits_2(tmp_path: Path, home: Path) -> None:
    accounts, _, _ = _file(tmp_path, n=20)
    first = _spawn(
        [
            "score",
            str(accounts),
            "--out",
            str(tmp_path / "a.csv"),
            "--lm",
            "fake?latency_ms=1500",
            "--concurrency",
            "2",
            "--quiet",
        ],
        home,
    )
    _wait_for_rows(tmp_path / "a.csv", 1, first)
    second = _spawn(
        ["score", str(accounts), "--out", str(tmp_path / "b.csv"), "--lm", "fake"], home
    )
    _, err = second.communicate(timeout=60)
    first.kill()
    first.wait()
    assert second.returncode == 2 and b"in use by PID" in err and err.count(b"\n") == 1


def _succeeded_steps(tmp_path: Path) -> list[tuple[str, str]]:
    con = duckdb.connect(str(tmp_path / "home" / "accountflow.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT account_id, step FROM steps WHERE status = 'succeeded'"
        ).fetchall()
    finally:
        con.close()
    return [(a, s) for a, s in rows]


def test_budget_stops_new_accounts_exit_3_and_resumes_later(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.resilience.stub_server import StubServer

    stub = StubServer().start()
    try:
        accounts, _, _ = _file(tmp_path, n=12)
        out = tmp_path / "out.csv"
        args = [
            "score",
            str(accounts),
            "--out",
            str(out),
            "--lm",
            "openai/gpt-4o-mini",
            "--api-base",
            stub.url,
            "--concurrency",
            "2",
            "--json",
        ]
        code, stdout, err = run_cli([*args, "--budget-usd", "0.0025"], capsys, monkeypatch)
        first = json.loads(stdout)
        assert code == 3 and first["stop"] == "budget", err
        assert "budget" in first["stop_detail"] and 0 < first["cost_usd"] <= 0.0025  # hard
        assert 0 < first["succeeded"] < 12 and first["not_started"] + first["interrupted"] > 0
        calls_before = len(stub.requests)
        done_before = _succeeded_steps(tmp_path)

        code, stdout, _ = run_cli(
            ["resume", "--batch", first["batch"], "--api-base", stub.url, "--json"],
            capsys,
            monkeypatch,
        )
        second = json.loads(stdout)
        assert second["skipped"] == first["succeeded"] and second["succeeded"] == 12
        # only the steps the budget stopped were called: none that had succeeded ran again
        done_after = _succeeded_steps(tmp_path)
        assert len(done_after) == len(set(done_after)) > len(done_before)
        assert {a for a, _ in done_after} == {f"a{i:04d}" for i in range(12)}
        assert len(stub.requests) - calls_before == second["lm_calls"] - second["cache_hits"]
        with out.open(newline="", encoding="utf-8") as fh:
            assert len(list(csv.DictReader(fh))) == 12
    finally:
        stub.stop()
