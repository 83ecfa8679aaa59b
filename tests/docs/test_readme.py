"""The README's Python snippets run as written (fake engine, offline), each in a fresh
directory with the bundled datasets beside it, so the documented API cannot drift."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def test_the_readme_has_python_snippets() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_a_readme_snippet_runs(index: int, tmp_path: Path) -> None:
    code = textwrap.dedent(BLOCKS[index])  # a snippet inside a list item is indented
    if "accountflow.spark" in code and shutil.which("java") is None:
        if os.environ.get("ACCOUNTFLOW_REQUIRE_SPARK") == "1":
            pytest.fail("a Spark snippet needs a Java runtime")
        pytest.skip("Spark snippets need a Java runtime")
    (tmp_path / "datasets").symlink_to(ROOT / "datasets")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCOUNTFLOW_")}
    env["ACCOUNTFLOW_HOME"] = str(tmp_path / ".accountflow")
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"README snippet {index} failed:\n{done.stderr[-2000:]}"
