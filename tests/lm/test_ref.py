"""Model references: lossless parse/format, no secrets in what is recorded, clear errors."""

from __future__ import annotations

import itertools
import random

import pytest

from accountflow.errors import ConfigError
from accountflow.lm import build_lm, model_ref
from accountflow.lm.ref import Backend, ModelRef, key_env, redact_api_base

NAMES = ["gpt-4o-mini", "meta-llama/Llama-3-8b", "alias", "x.y_z-1", "a b", "ünï"]
BASES = [
    "http://127.0.0.1:8000/v1",
    "https://api.example.com/openai/deployments/x?api-version=2024-02-01",
    "http://[::1]:8080/v1/",
    "http://host/v1?a=1&b=two%20words#frag",
    "https://h.example/p;x=1/%7Euser",
]


def _refs() -> list[ModelRef]:
    """A property-style sample: every backend, with and without names, options, bases."""
    rng = random.Random(11)
    refs: list[ModelRef] = []
    values = {"fail_rate": ["0", "1", "0.25", "1e-3"], "latency_ms": ["0", "7", "200.5"]}
    keys = ["fail_rate", "latency_ms", "seed"]
    for name in ["", "scripted", "a/b"]:
        for n in range(len(keys) + 1):
            for chosen in itertools.combinations(keys, n):
                options = tuple((k, rng.choice(values.get(k, ["3", "42"]))) for k in chosen)
                refs.append(ModelRef(Backend.fake, "fake", name, options))
    refs += [ModelRef(Backend.local, "local", n) for n in ("qwen2.5-coder-0.5b", "m/v2")]
    for provider in ("openai", "anthropic", "hosted_vllm", "openrouter"):
        for name in NAMES:
            refs.append(ModelRef(Backend.litellm, provider, name))
            for base in BASES:
                refs.append(ModelRef(Backend.litellm, provider, name).with_api_base(base))
    return refs


@pytest.mark.parametrize("ref", _refs(), ids=str)
def test_parse_of_format_is_the_same_reference(ref: ModelRef) -> None:
    text = ref.format()
    again = ModelRef.parse(text)
    assert again == ref
    assert again.format() == text  # canonical: formatting is a fixed point
    assert ModelRef.parse(f"  {text}\n") == ref


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("fake", "fake"),
        ("fake?fail_rate=1", "fake?fail_rate=1"),
        ("fake?seed=3&latency_ms=20", "fake?latency_ms=20&seed=3"),  # options sorted
        ("local/qwen2.5-coder-0.5b", "local/qwen2.5-coder-0.5b"),
        ("openai/gpt-4o-mini", "openai/gpt-4o-mini"),
        (
            "openai/alias?api_base=http://127.0.0.1:8000/v1",
            "openai/alias?api_base=http%3A//127.0.0.1%3A8000/v1",
        ),
    ],
)
def test_what_the_user_typed_is_kept(typed: str, canonical: str) -> None:
    ref = ModelRef.parse(typed)
    assert ref.format() == canonical
    assert ModelRef.parse(canonical) == ref


def test_backends_and_facts() -> None:
    fake = ModelRef.parse("fake?latency_ms=5&fail_rate=0.5&seed=2")
    assert fake.backend is Backend.fake and fake.in_process and not fake.needs_key
    assert (fake.fake_options().latency_ms, fake.fake_options().fail_rate) == (5.0, 0.5)
    assert fake.fake_options().seed == 2
    local = ModelRef.parse("local/qwen2.5-coder-0.5b")
    assert local.backend is Backend.local and local.name == "qwen2.5-coder-0.5b"
    remote = ModelRef.parse("openrouter/meta-llama/llama-3")
    assert (remote.provider, remote.name) == ("openrouter", "meta-llama/llama-3")
    # the variable is named after the provider (never read here: tests run with no key)
    assert remote.needs_key and remote.key_env == key_env("openrouter/any")
    assert remote.key_env.startswith(remote.provider.upper())
    assert remote.litellm_model == "openrouter/meta-llama/llama-3"
    assert not ModelRef.parse("ollama/llama3").needs_key
    assert not ModelRef.parse("openai/x", api_base="http://127.0.0.1:1/v1").needs_key
    assert key_env("openai/gpt-4o-mini") == key_env("openai/other")
    assert key_env("openai/gpt-4o-mini") != key_env("anthropic/claude")


def test_the_api_base_argument_replaces_the_recorded_one_and_in_process_models_ignore_it() -> None:
    recorded = "openai/x?api_base=http%3A//127.0.0.1%3A1/v1"
    moved = ModelRef.parse(recorded, api_base="http://127.0.0.1:2/v1")
    assert moved.api_base == "http://127.0.0.1:2/v1"
    assert ModelRef.parse(recorded).api_base == "http://127.0.0.1:1/v1"
    assert ModelRef.parse("fake", api_base="http://127.0.0.1:2/v1") == ModelRef.parse("fake")


@pytest.mark.parametrize(
    "base",
    [
        "https://user:s3cret@gw.example/v1",
        "https://gw.example/v1?api_key=s3cret",
        "https://gw.example/v1?token=s3cret&region=eu",
        "https://gw.example/v1?sig=s3cret",
        "https://gw.example/v1?X-Amz-Signature=s3cret&X-Amz-Credential=s3cret",
        "https://gw.example/v1?password=s3cret",
        "https://gw.example/v1?client_secret=s3cret",
    ],
)
def test_secrets_in_the_api_base_are_never_formatted(base: str) -> None:
    ref = ModelRef.parse("openai/x", api_base=base)
    text = ref.format()
    assert "s3cret" not in text and "s3cret" not in repr(ref) and "s3cret" not in str(ref)
    assert ref.endpoint == base and ref.secrets_dropped  # calls of this process still use them
    assert text.startswith("openai/x?api_base=https%3A//gw.example/v1")
    assert ModelRef.parse(text) == ref  # equality ignores the in-memory endpoint
    assert "s3cret" not in ref.describe()
    if "region=eu" in base:
        assert "region%3Deu" in text  # other parameters stay
    assert redact_api_base(redact_api_base(base)) == redact_api_base(base)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("gpt-4o-mini", "needs a provider prefix"),
        ("", "needs a provider prefix"),
        ("openai/", "needs a provider prefix"),
        ("local", "Name the embedded model"),
        ("local/x?n_ctx=9", "takes no options"),
        ("fake?speed=3", "Unknown fake LM option"),
        ("fake?seed=abc", "needs a number"),
        ("fake?fail_rate=2", "between 0 and 1"),
        ("fake?seed=1&seed=2", "given twice"),
        ("fake?seed", "name=value"),
        ("fake?api_base=http%3A//h/v1", "takes no api_base"),
        ("openai/x?temperature=1", "Unknown option"),
        ("openai/x?api_key=sk-1", "looks like a credential"),
        ("openai/x?api_base=ftp%3A//h/v1", "http(s) URL"),
    ],
)
def test_unusable_strings_are_one_clear_sentence(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")) as info:
        ModelRef.parse(text)
    assert "\n" not in str(info.value)


def test_built_lms_carry_their_reference() -> None:
    typed = "fake?fail_rate=1"
    lm = build_lm(typed, cache=False)
    assert lm.model == "fake/fail_rate=1"  # DSPy's name (and cache key) for it
    assert model_ref(lm).format() == typed  # what runs record
    assert model_ref(lm.copy(temperature=1.0)) == model_ref(lm)  # optimizer copies keep it
    assert build_lm(ModelRef.parse(typed), cache=False).ref == lm.ref
    remote = build_lm("openai/x", api_base="https://u:pw@127.0.0.1:9/v1", cache=False)
    assert model_ref(remote).format() == "openai/x?api_base=https%3A//127.0.0.1%3A9/v1"
    assert remote.kwargs["api_base"] == "https://u:pw@127.0.0.1:9/v1"


def test_settings_and_the_retry_policy_read_references_without_loading_dspy() -> None:
    """config -> resilience -> lm.ref is a plain import chain: no circle, and no DSPy (the
    `lm` package names its heavy API lazily)."""
    import subprocess
    import sys

    code = (
        "import sys, accountflow.config, accountflow.resilience, accountflow.lm.ref; "
        "print(sorted(m for m in ('dspy', 'litellm', 'accountflow.lm.build') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
