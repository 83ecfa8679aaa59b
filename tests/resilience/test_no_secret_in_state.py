"""A credential in `--api-base` (a `?token=` query parameter or `user:pass@`) is used for the
calls and never persists anywhere under the state dir: not in the store, not in DSPy's cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.resilience.stub_server import StubServer

TOKEN = "tok-SECRET-in-the-query-0123456789"
PASSWORD = "pw-SECRET-in-the-userinfo-987654"


def _files_holding(root: Path, secrets: list[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {s}" for s in secrets if s.encode() in data]
    return found


@pytest.mark.parametrize("where", ["query", "userinfo"])
def test_no_credential_from_the_api_base_persists_under_the_state_dir(
    home: Path,
    tmp_path: Path,
    stub: StubServer,
    where: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if where == "query":
        api_base, secret = f"{stub.url}?token={TOKEN}", TOKEN
    else:
        api_base, secret = stub.url.replace("//", f"//proxyuser:{PASSWORD}@"), PASSWORD
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account_id,company_name,domain,industry,employee_count,description\n"
        "a1,Acme,acme.example,Retail,50,Moved to Snowflake.\n"
        "a2,Globex,globex.example,Logistics,900,Runs Kafka.\n",
        encoding="utf-8",
    )
    args = ["score", str(accounts), "--out", str(tmp_path / "out.csv"), "--json"]
    args += ["--lm", "openai/gpt-4o-mini", "--api-base", api_base]
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    assert len(stub.requests) > 0  # the calls were made with the credential
    cache_files = [p for p in (home / "dspy_cache").rglob("*") if p.is_file()]
    assert cache_files  # the answers were cached: the check below looked at real shards
    assert _files_holding(home, [secret]) == []

    code, _, err = run_cli(args, capsys, monkeypatch)  # replayed from the cache, still free
    assert code == 0, err
    assert _files_holding(home, [secret]) == []
