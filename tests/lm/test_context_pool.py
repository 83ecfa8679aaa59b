"""The embedded engine's context pool: prefix keys, the LRU bound and the per-context lock,
checked with stand-ins for llama.cpp contexts (no model)."""

from __future__ import annotations

import ctypes
import json
import random
import threading
import time
import types
from pathlib import Path
from typing import Any

import dspy
import pytest

from accountflow.errors import ConfigError
from accountflow.lm import local
from accountflow.lm.local import CallRecord, ContextPool, LlamaEngine, common_prefix, prefix_key


class Context:
    """A stand-in context: keeps its 'KV cache' as llama.cpp does (input_ids[:n_tokens]) and
    fails loudly if two threads ever use it at once."""

    made: list[Context] = []

    def __init__(self) -> None:
        self.input_ids: list[int] = []
        self.n_tokens = 0
        self.busy = False
        self.closed = False
        self.prompts: list[list[int]] = []
        Context.made.append(self)

    def create_chat_completion(self, messages: list[dict[str, str]], **_: Any) -> dict[str, Any]:
        assert not self.busy, "two threads inside one context"
        self.busy = True
        time.sleep(0.002)
        tokens = [ord(c) for m in messages for c in m["content"]]
        self.prompts.append(tokens)
        self.input_ids, self.n_tokens = [*tokens, 0], len(tokens) + 1
        self.busy = False
        return {
            "choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(tokens), "completion_tokens": 1, "total_tokens": 0},
        }

    def close(self) -> None:
        self.closed = True


def chat(system: str, user: str, demo: str | None = None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}]
    if demo is not None:
        messages += [{"role": "user", "content": demo}, {"role": "assistant", "content": "{}"}]
    return [*messages, {"role": "user", "content": user}]


def test_prefix_key_is_everything_but_the_last_message() -> None:
    assert prefix_key(chat("research", "acme")) == prefix_key(chat("research", "globex"))
    assert prefix_key(chat("research", "acme")) != prefix_key(chat("analysis", "acme"))
    assert prefix_key(chat("email", "a", demo="d1")) != prefix_key(chat("email", "a", demo="d2"))
    # message boundaries count: the same text split differently is another prefix
    split = [{"role": "system", "content": "ab"}, {"role": "user", "content": "c"}]
    other = [{"role": "system", "content": "a"}, {"role": "user", "content": "bc"}]
    assert prefix_key([*split, {"role": "user", "content": "x"}]) != prefix_key(
        [*other, {"role": "user", "content": "x"}]
    )
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2 and common_prefix([], [1]) == 0


def test_pool_is_bounded_and_hands_the_least_recently_used_context_to_a_new_key() -> None:
    made: list[Context] = []
    pool = ContextPool(lambda: made.append(Context()) or made[-1], size=2)
    with pool.use("a") as a:
        pass
    with pool.use("b") as b:
        pass
    with pool.use("a") as again:  # "a" is now the most recently used
        assert again is a
    with pool.use("c") as c:  # full: takes "b"'s context, not a new one
        assert c is b and c.llama is made[1]
    assert len(made) == 2 and pool.keys() == ["a", "c"] and pool.loaded() == 2
    pool.close()
    assert pool.loaded() == 0 and all(m.closed for m in made)
    with pool.use("a") as reloaded:  # a closed pool reloads on demand
        assert reloaded.llama is made[2]


def test_engine_keeps_each_predictor_on_its_own_warm_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Context, "made", [])
    engine = LlamaEngine(Path("unused.gguf"), "test", contexts=3)
    engine.pool.factory = Context
    records: list[CallRecord] = []
    engine.observer = records.append
    lm = dspy.LM("local/test", engine=engine, cache=False)
    # calls alternate between two predictors, as research and analysis do across accounts
    for account in ("acme", "globex"):
        lm(messages=chat("research rules " * 20, account))
        lm(messages=chat("analysis rules " * 20, account))
    assert len(Context.made) == 2
    assert [r.slot for r in records] == [0, 1, 0, 1]
    first, _, second, _ = records
    assert first.reused_tokens == 0
    # the second research call found the system message (and the chat frame) already cached
    assert second.reused_tokens >= len("research rules " * 20)
    assert second.prompt_tokens > second.reused_tokens


def test_one_context_is_never_used_by_two_threads_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Context, "made", [])
    engine = LlamaEngine(Path("unused.gguf"), "test", contexts=2)
    engine.pool.factory = Context
    lm = dspy.LM("local/test", engine=engine, cache=False)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(5):
                lm(messages=chat(f"step {(i + j) % 3}", f"account {i}-{j}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(Context.made) == 2  # three prefixes shared two contexts
    assert sum(len(c.prompts) for c in Context.made) == 30


def test_context_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCOUNTFLOW_LOCAL_CONTEXTS", raising=False)
    assert local.context_count() == local.DEFAULT_CONTEXTS
    monkeypatch.setenv("ACCOUNTFLOW_LOCAL_CONTEXTS", "3")
    assert local.context_count() == 3
    monkeypatch.setenv("ACCOUNTFLOW_LOCAL_CONTEXTS", "many")
    with pytest.raises(ConfigError, match="whole number"):
        local.context_count()


def test_nested_free_text_and_lists_are_bounded_top_level_fields_are_not() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Point": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "kind": {"type": "string", "enum": ["a", "b"]},
                    "note": {"type": "string", "maxLength": 50},
                },
            }
        },
        "properties": {
            "body": {"type": "string"},
            "analysis": {
                "type": "object",
                "properties": {
                    "points": {"type": "array", "items": {"$ref": "#/$defs/Point"}, "minItems": 6},
                    "rationale": {"type": "string"},
                },
            },
        },
    }
    out = local.bounded_schema(schema)
    assert "$defs" not in out
    assert out["properties"]["body"]["maxLength"] == local.TOP_STRING_CHARS  # an email body
    analysis = out["properties"]["analysis"]["properties"]
    assert analysis["rationale"]["maxLength"] == local.NESTED_STRING_CHARS
    points = analysis["points"]
    assert (points["maxItems"], points["minItems"]) == (local.NESTED_ITEMS, local.NESTED_ITEMS)
    point = points["items"]["properties"]
    assert point["title"]["maxLength"] == local.NESTED_STRING_CHARS
    assert "maxLength" not in point["kind"] and point["note"]["maxLength"] == 50
    assert "maxLength" not in schema["$defs"]["Point"]["properties"]["title"]  # not mutated


def test_strings_cut_at_the_bound_end_on_a_sentence_or_a_word() -> None:
    n = local.NESTED_STRING_CHARS
    sentence = "Stale ETAs reach shippers. " + "x" * n
    words = ("lineage " * n)[:n]
    reply = json.dumps(
        {"body": "y " * n, "a": {"d": sentence[:n], "w": words, "short": "fine", "k": [words]}}
    )
    out = json.loads(local.trim_cut_strings(reply))
    assert out["a"]["d"] == "Stale ETAs reach shippers."
    assert out["a"]["w"].endswith("lineage") and len(out["a"]["w"]) < n
    assert out["a"]["k"] == [out["a"]["w"]] and out["a"]["short"] == "fine"
    assert out["body"] == "y " * n  # a top-level field under its own, larger bound is kept
    top = json.loads(
        local.trim_cut_strings(json.dumps({"body": "Hi. " + "z " * local.TOP_STRING_CHARS}))
    )
    assert top["body"].endswith("z") and len(top["body"]) < local.TOP_STRING_CHARS
    assert local.trim_cut_strings('{"a": {"s": "ok"}}') == '{"a": {"s": "ok"}}'
    assert local.trim_cut_strings("not json") == "not json"


class TokenData(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int32), ("logit", ctypes.c_float), ("p", ctypes.c_float)]


class TokenDataArray(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.POINTER(TokenData)),
        ("size", ctypes.c_size_t),
        ("selected", ctypes.c_int64),
        ("sorted", ctypes.c_bool),
    ]


class Penalties:
    """Divides the logit of every token already accepted by 2 (a repeat penalty)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def apply(self, data: list[TokenData]) -> None:
        for d in data:
            if d.id in self.seen:
                d.logit /= 2

    def accept(self, token: int) -> None:
        self.seen.add(token)


class Grammar:
    """Allows, at step i, only the tokens in allowed[i]; counts whole-vocabulary passes."""

    def __init__(self, allowed: list[set[int]]) -> None:
        self.allowed, self.step, self.full_passes = allowed, 0, 0

    def apply(self, data: list[TokenData]) -> None:
        self.full_passes += len(data) > 1
        for d in data:
            if d.id not in self.allowed[self.step]:
                d.logit = float("-inf")

    def accept(self, token: int) -> None:
        assert token in self.allowed[self.step], "accepted a token the grammar rejects"
        self.step += 1


def fake_lib(logits: list[list[float]], grammar: Grammar) -> Any:
    steps = iter(logits)

    def get_logits(ctx: object, idx: int) -> Any:
        row = next(steps)
        return ctypes.cast((ctypes.c_float * len(row))(*row), ctypes.POINTER(ctypes.c_float))

    def apply(sampler: Any, ref: Any) -> None:
        arr = ref._obj
        sampler.apply([arr.data[i] for i in range(arr.size)])

    return types.SimpleNamespace(
        llama_token_data_array=TokenDataArray,
        llama_token_data_p=ctypes.POINTER(TokenData),
        llama_get_logits_ith=get_logits,
        llama_sampler_init_penalties=lambda *a: Penalties(),
        llama_sampler_init_grammar=lambda *a: grammar,
        llama_sampler_apply=apply,
        llama_sampler_accept=lambda sampler, token: sampler.accept(token),
        llama_sampler_free=lambda sampler: None,
    )


def test_greedy_grammar_sampler_picks_the_best_allowed_token_and_rarely_scans_everything() -> None:
    rng = random.Random(7)
    vocab, steps = 12, 40
    logits = [[rng.uniform(-3, 3) for _ in range(vocab)] for _ in range(steps)]
    allowed = [set(rng.sample(range(vocab), rng.randint(1, vocab))) for _ in range(steps)]
    grammar = Grammar(allowed)
    llama = types.SimpleNamespace(
        _n_vocab=vocab, last_n_tokens_size=64, _model=types.SimpleNamespace(vocab=None)
    )
    spec = types.SimpleNamespace(_grammar="root ::= x", _root="root")
    sampler = local.GreedyGrammarSampler(fake_lib(logits, grammar), llama, spec, (2.0, 0.0, 0.0))
    picked = [sampler.sample(types.SimpleNamespace(ctx=None), -1) for _ in range(steps)]
    # the reference chain: penalties, then the grammar over everything, then greedy
    seen: set[int] = set()
    expected = []
    for row, ok in zip(logits, allowed, strict=True):
        scored = [
            (v / 2 if i in seen else v) if i in ok else float("-inf") for i, v in enumerate(row)
        ]
        best = max(range(vocab), key=lambda i: (scored[i], -i))
        expected.append(best)
        seen.add(best)
    assert picked == expected
    unconstrained_rejected = sum(
        max(range(vocab), key=lambda i: (row[i] / 2 if i in set(expected[:k]) else row[i], -i))
        not in ok
        for k, (row, ok) in enumerate(zip(logits, allowed, strict=True))
    )
    assert 0 < grammar.full_passes == unconstrained_rejected < steps
    sampler.close()


def test_contexts_are_created_and_freed_only_while_nothing_else_computes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loading a model touches llama.cpp's process-wide state: with threads (eval smoke runs
    two), a new predictor's context must not be created while another context decodes."""
    monkeypatch.setattr(Context, "made", [])
    engine = LlamaEngine(Path("unused.gguf"), "test", contexts=4)
    overlaps: list[str] = []

    class Checked(Context):
        def __init__(self) -> None:
            if not engine._compute.locked():
                overlaps.append("created without the compute lock")
            super().__init__()

        def close(self) -> None:
            if not engine._compute.locked():
                overlaps.append("freed without the compute lock")
            super().close()

    engine.pool.factory = Checked
    lm = dspy.LM("local/test", engine=engine, cache=False)
    threads = [
        threading.Thread(target=lambda i=i: lm(messages=chat(f"step {i}", "acme")))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.close()
    assert len(Context.made) == 4 and overlaps == []


def test_fast_grammar_sampler_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert LlamaEngine(Path("unused.gguf"), "test").fast_grammar
    monkeypatch.setenv("ACCOUNTFLOW_LOCAL_FAST_GRAMMAR", "0")
    assert not LlamaEngine(Path("unused.gguf"), "test").fast_grammar
