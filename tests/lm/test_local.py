"""Tests for the embedded local model: assembly and verification of the GGUF file from part
packages, the llama.cpp engine (against a fake llama_cpp), and one opt-in real-model run."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import json
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, Literal

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="accountflow-dspy-cache-"))

import dspy
import pydantic
import pytest

from accountflow.errors import ConfigError
from accountflow.lm import local

REAL_MODEL_DIR = os.environ.get("ACCOUNTFLOW_MODEL_DIR")  # before the fixture replaces it
PARTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]
BLOB = b"".join(PARTS)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test gets its own model dir, no override, and an empty engine cache."""
    monkeypatch.setenv("ACCOUNTFLOW_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("ACCOUNTFLOW_LOCAL_MODEL", raising=False)
    monkeypatch.setattr(local, "_ENGINES", {})


def _fake_model(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    sha256: str | None = None,
    size: int | None = len(BLOB),
) -> local.LocalModelSpec:
    """Register model 'fake' whose parts are small temp files instead of installed packages."""
    parts_dir = tmp_path / "parts"
    parts_dir.mkdir()
    paths = {}
    for n, data in enumerate(PARTS, start=1):
        paths[f"fake-part{n}"] = parts_dir / f"part{n:02d}.bin"
        paths[f"fake-part{n}"].write_bytes(data)
    spec = local.LocalModelSpec(
        filename="fake.gguf",
        package="fake-part{n}",
        parts=len(PARTS),
        version="1.0",
        sha256=sha256 or hashlib.sha256(BLOB).hexdigest(),
        size=size,
        install="pip install fake",
    )
    monkeypatch.setitem(local.LOCAL_MODELS, "fake", spec)
    monkeypatch.setattr(local, "part_path", lambda package, spec: paths[package])
    return spec


def test_model_dir_defaults_to_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCOUNTFLOW_MODEL_DIR")
    assert local.model_dir() == Path.home() / ".cache" / "accountflow" / "models"


def test_assembles_parts_in_order_and_records_verification(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_model(monkeypatch, tmp_path)
    path = local.ensure_model("fake")
    assert path == tmp_path / "models" / "fake.gguf"
    assert path.read_bytes() == BLOB
    assert (
        (tmp_path / "models" / "fake.gguf.sha256")
        .read_text()
        .startswith(hashlib.sha256(BLOB).hexdigest())
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake.gguf", "fake.gguf.sha256"]


def test_verified_file_is_not_hashed_or_assembled_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_model(monkeypatch, tmp_path)
    first = local.ensure_model("fake")

    def boom(*args: Any) -> Any:
        raise AssertionError("the sidecar should have made this unnecessary")

    monkeypatch.setattr(local, "_hash_copy", boom)
    monkeypatch.setattr(local, "_assemble", boom)
    assert local.ensure_model("fake") == first


def test_existing_file_without_sidecar_is_hashed_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_model(monkeypatch, tmp_path)
    target = tmp_path / "models" / "fake.gguf"
    target.parent.mkdir()
    target.write_bytes(BLOB)
    monkeypatch.setattr(local, "_assemble", lambda *a: pytest.fail("should not reassemble"))
    assert local.ensure_model("fake") == target
    assert (tmp_path / "models" / "fake.gguf.sha256").is_file()


def test_read_only_model_dir_still_works(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_model(monkeypatch, tmp_path)
    target = tmp_path / "models" / "fake.gguf"
    target.parent.mkdir()
    target.write_bytes(BLOB)
    monkeypatch.setattr(Path, "write_text", lambda *a, **k: (_ for _ in ()).throw(PermissionError))
    assert local.ensure_model("fake") == target


def test_corrupt_file_is_replaced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_model(monkeypatch, tmp_path)
    target = tmp_path / "models" / "fake.gguf"
    target.parent.mkdir()
    target.write_bytes(b"x" * len(BLOB))  # right size, wrong content
    assert local.ensure_model("fake").read_bytes() == BLOB


def test_sha_mismatch_is_refused_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_model(monkeypatch, tmp_path, sha256="0" * 64)
    with pytest.raises(ConfigError, match="sha256"):
        local.ensure_model("fake")
    assert list((tmp_path / "models").iterdir()) == []


def test_missing_part_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = local.LocalModelSpec(
        "x.gguf",
        "accountflow-no-such-part{n}",
        2,
        "1.0",
        "0" * 64,
        1,
        "pip install 'accountflow[local]'",
    )
    monkeypatch.setitem(local.LOCAL_MODELS, "missing", spec)
    with pytest.raises(ConfigError, match=r"accountflow-no-such-part1 is not installed.*pip"):
        local.ensure_model("missing")


def test_part_path_reads_the_distribution_file_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rel = importlib.metadata.PackagePath("fake_part1/data/part01.bin")
    (tmp_path / "fake_part1" / "data").mkdir(parents=True)
    (tmp_path / rel).write_bytes(b"x")
    dist = types.SimpleNamespace(
        version="1.0",
        files=[importlib.metadata.PackagePath("fake_part1/__init__.py"), rel],
        locate_file=lambda p: tmp_path / p,
    )
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: dist)
    spec = local.LocalModelSpec("x.gguf", "fake-part{n}", 1, "1.0", "0" * 64, 1, "pip install x")
    assert local.part_path("fake-part1", spec) == tmp_path / rel
    dist.version = "0.1"
    with pytest.raises(ConfigError, match=r"fake-part1==1\.0"):
        local.part_path("fake-part1", spec)


def test_override_env_var_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setenv("ACCOUNTFLOW_LOCAL_MODEL", str(model))
    assert local.ensure_model("qwen2.5-coder-0.5b") == model


def test_override_env_var_pointing_nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ACCOUNTFLOW_LOCAL_MODEL", str(tmp_path / "nope.gguf"))
    with pytest.raises(ConfigError, match="ACCOUNTFLOW_LOCAL_MODEL"):
        local.ensure_model("qwen2.5-coder-0.5b")


def test_override_env_var_pointing_at_a_non_gguf_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    monkeypatch.setenv("ACCOUNTFLOW_LOCAL_MODEL", str(tmp_path / "notes.txt"))
    with pytest.raises(ConfigError, match="not a GGUF file"):
        local.ensure_model("qwen2.5-coder-0.5b")


def test_unknown_model_name() -> None:
    with pytest.raises(ConfigError, match="use one of"):
        local.ensure_model("gpt-5")


def test_missing_llama_cpp_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    assert local.is_available() is False
    with pytest.raises(ConfigError) as info:
        local.local_lm("qwen2.5-coder-0.5b")
    assert str(info.value) == local.NEEDS_EXTRA
    assert "pip install 'accountflow[local]'" in str(info.value)


class FakeLlama:
    """Stands in for llama_cpp.Llama: records calls and answers with canned JSON."""

    instances: list[FakeLlama] = []
    reply = '{"score": 4, "tags": ["a", "b"]}'

    def __init__(self, **kwargs: Any) -> None:
        self.init = kwargs
        self.calls: list[dict[str, Any]] = []
        FakeLlama.instances.append(self)

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {
            "choices": [
                {"message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }


class Scored(dspy.Signature):
    """Score the text."""

    text: str = dspy.InputField()
    score: int = dspy.OutputField()
    tags: list[str] = dspy.OutputField()


@pytest.fixture
def fake_llama(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> type[FakeLlama]:
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=FakeLlama))
    monkeypatch.setattr(FakeLlama, "instances", [])
    model = tmp_path / "fake.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setenv("ACCOUNTFLOW_LOCAL_MODEL", str(model))
    return FakeLlama


def test_engine_sends_schema_and_reports_usage(fake_llama: type[FakeLlama]) -> None:
    lm = local.local_lm("qwen2.5-coder-0.5b", cache=False)
    assert local.is_available() is True
    assert fake_llama.instances == []  # the model loads lazily, on the first call
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter(), track_usage=True):
        result = dspy.Predict(Scored)(text="hello")
    assert (result.score, result.tags) == (4, ["a", "b"])
    [llama] = fake_llama.instances
    assert llama.init["verbose"] is False and llama.init["n_ctx"] >= 4096
    [call] = llama.calls
    assert call["temperature"] == 0.0
    assert call["messages"][0]["role"] == "system" and call["messages"][-1]["role"] == "user"
    assert call["response_format"]["type"] == "json_object"
    assert call["response_format"]["schema"]["required"] == ["score", "tags"]
    usage = result.get_lm_usage()["local/qwen2.5-coder-0.5b"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (11, 7)


def test_one_engine_per_model_file_and_async_calls_work(fake_llama: type[FakeLlama]) -> None:
    first = local.local_lm("qwen2.5-coder-0.5b", cache=False)
    second = local.local_lm("qwen2.5-coder-0.5b", cache=False, max_tokens=64)
    assert first.engine is second.engine
    first("hi")
    predict = dspy.Predict(Scored)
    with dspy.context(lm=second, adapter=dspy.JSONAdapter()):
        result = asyncio.run(predict.acall(text="hello"))
    assert result.score == 4
    # one engine for both LMs; its two prompt prefixes (no system message, a signature's) got
    # a context each
    assert len(fake_llama.instances) == 2
    calls = [call for llama in fake_llama.instances for call in llama.calls]
    assert [c["max_tokens"] for c in calls] == [1200, 64]


def test_json_object_mode_passes_through() -> None:
    assert local._response_format({"type": "json_object"}) == {"type": "json_object"}
    assert local._response_format(None) is None
    fmt = local._response_format({"type": "json_schema", "schema": {"type": "object"}})
    assert fmt == {"type": "json_object", "schema": {"type": "object"}}


class PainPoint(pydantic.BaseModel):
    title: str
    severity: int = pydantic.Field(ge=1, le=5)


class Assess(dspy.Signature):
    """Assess how well the company fits a B2B data-integration product."""

    account: str = dspy.InputField()
    pain_points: list[PainPoint] = dspy.OutputField()
    fit_score: int = dspy.OutputField(desc="0-100")
    approach: Literal["pain_point_focused", "opportunity_focused"] = dspy.OutputField()


@pytest.mark.local_model
@pytest.mark.skipif(
    os.environ.get("ACCOUNTFLOW_TEST_LOCAL_MODEL") != "1",
    reason="runs the real embedded model; set ACCOUNTFLOW_TEST_LOCAL_MODEL=1",
)
def test_real_model_answers_a_typed_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    if REAL_MODEL_DIR:  # reuse the real assembled model, not a temp dir
        monkeypatch.setenv("ACCOUNTFLOW_MODEL_DIR", REAL_MODEL_DIR)
    else:
        monkeypatch.delenv("ACCOUNTFLOW_MODEL_DIR")
    lm = local.local_lm("qwen2.5-coder-0.5b", cache=False, max_tokens=512)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        result = dspy.Predict(Assess)(
            account="Acme Logistics: 400 staff, 12 warehouses, orders arrive by email and fax, "
            "and staff re-type them into three systems that do not talk to each other."
        )
    assert isinstance(result.fit_score, int)
    assert all(isinstance(p, PainPoint) for p in result.pain_points)
    assert result.approach in ("pain_point_focused", "opportunity_focused")


@pytest.mark.local_model
@pytest.mark.skipif(
    os.environ.get("ACCOUNTFLOW_TEST_LOCAL_MODEL") != "1",
    reason="runs the real embedded model; set ACCOUNTFLOW_TEST_LOCAL_MODEL=1",
)
def test_real_model_fast_grammar_sampling_writes_what_llama_cpp_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if REAL_MODEL_DIR:
        monkeypatch.setenv("ACCOUNTFLOW_MODEL_DIR", REAL_MODEL_DIR)
    else:
        monkeypatch.delenv("ACCOUNTFLOW_MODEL_DIR")
    import llama_cpp

    path = str(local.ensure_model("qwen2.5-coder-0.5b"))
    schema = {
        "type": "object",
        "properties": {
            "points": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "score": {"type": "integer"},
        },
        "required": ["points", "score"],
    }
    request: dict[str, Any] = {
        "messages": [
            {"role": "user", "content": "Three problems of a freight firm, and a 0-100 score."}
        ],
        "temperature": 0.0,
        "max_tokens": 120,
        "repeat_penalty": local.REPEAT_PENALTY,
        "response_format": {"type": "json_object", "schema": schema},
    }
    replies = []
    for factory in (llama_cpp.Llama, local.llama_class(llama_cpp)):
        llama = factory(model_path=path, n_ctx=1024, verbose=False)
        try:
            out = llama.create_chat_completion(**request)
        finally:
            llama.close()
        replies.append(out["choices"][0]["message"]["content"])
    assert replies[0] == replies[1]
    assert isinstance(json.loads(replies[1])["score"], int)
