"""Embedded-model speed per account, against a naive raw llama.cpp replay in the same run.

    python bench/embedded_speed.py [--n 2] [--model qwen2.5-coder-0.5b] [--no-replay]

Runs the first N demo accounts through the orchestrator on the embedded model (no response
cache) and prints, per account: wall time, LM calls, prompt tokens processed vs reused from a
warm context, completion tokens, and the time inside llama.cpp. It then replays the very same
requests through one plain `llama_cpp.Llama.create_chat_completion` (what the engine did before
the context pool: llama.cpp's own reuse of the previous prompt's prefix only) and prints the
per-account ratio. The package's overhead is wall time minus time inside llama.cpp.
Targets (issue 14): at most 80 s per account on a quiet 2-core machine, >= 2x the naive path;
overhead under 2%.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from accountflow.lm.local import (
    LOCAL_MODELS,
    CallRecord,
    LlamaEngine,
    common_prefix,
    ensure_model,
    local_lm,
)

DEMO = Path(__file__).resolve().parent.parent / "datasets" / "accounts_demo.jsonl"


@dataclass
class AccountFigures:
    account_id: str
    status: str = ""
    wall: float = 0.0
    calls: list[CallRecord] = field(default_factory=list)
    replay: float = 0.0  # seconds for the naive replay of this account's calls
    replay_reused: int = 0  # prompt tokens the naive context reused from the previous prompt
    replay_same: int = 0  # replies identical to the pooled run's

    @property
    def inside(self) -> float:
        return sum(c.seconds for c in self.calls)

    def total(self, attr: str) -> int:
        return sum(int(getattr(c, attr)) for c in self.calls)


def run_accounts(n: int, model: str, home: Path) -> tuple[list[AccountFigures], LlamaEngine]:
    """The first n demo accounts through the orchestrator, recording every engine call."""
    from accountflow.config import Settings
    from accountflow.io import load_accounts
    from accountflow.orchestrator import Orchestrator
    from accountflow.store import Store

    lm = local_lm(model, cache=False)
    engine = lm.engine
    assert isinstance(engine, LlamaEngine)
    settings = Settings.load(home=home, lm=f"local/{model}")
    accounts = load_accounts(DEMO).accounts[:n]
    figures: list[AccountFigures] = []
    with Store(settings.db_path) as store:
        orch = Orchestrator(store, lm, settings.seller())
        for account in accounts:
            fig = AccountFigures(account.account_id)
            engine.observer = fig.calls.append
            t0 = time.perf_counter()
            result = orch.run(account)
            fig.wall = time.perf_counter() - t0
            fig.status = result.status.value
            figures.append(fig)
    engine.observer = None
    return figures, engine


def replay(figures: list[AccountFigures], model: str) -> None:
    """The same requests, in the same order, through one raw llama.cpp context."""
    import llama_cpp

    spec = LOCAL_MODELS[model]
    llama = llama_cpp.Llama(
        model_path=str(ensure_model(model)),
        n_ctx=spec.n_ctx,
        n_threads=os.cpu_count() or 1,
        verbose=False,
    )
    try:
        for fig in figures:
            for call in fig.calls:
                before = [int(t) for t in llama.input_ids[: llama.n_tokens]]
                t0 = time.perf_counter()
                out = llama.create_chat_completion(messages=call.messages, **call.kwargs)
                fig.replay += time.perf_counter() - t0
                shared = common_prefix(before, llama.input_ids[: call.prompt_tokens].tolist())
                fig.replay_reused += max(0, min(shared, call.prompt_tokens - 1))
                fig.replay_same += (out["choices"][0]["message"].get("content") or "") == call.reply
    finally:
        llama.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", choices=sorted(LOCAL_MODELS))
    parser.add_argument("--no-replay", action="store_true", help="skip the naive reference")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    with tempfile.TemporaryDirectory(prefix="accountflow-speed-") as tmp:
        figures, engine = run_accounts(args.n, args.model, Path(tmp))
        contexts = engine.pool.loaded()
        engine.close()  # free the pool before the reference loads its own context
    if not args.no_replay:
        replay(figures, args.model)

    print(f"embedded model {args.model}, {len(figures)} demo account(s), {contexts} contexts")
    head = "account   status     wall s  calls  prompt  reused  processed  compl  llama s"
    print(head + ("  naive s  reused  ratio" if not args.no_replay else ""))
    for f in figures:
        prompt, reused = f.total("prompt_tokens"), f.total("reused_tokens")
        line = (
            f"{f.account_id:<9} {f.status:<9} {f.wall:7.1f} {len(f.calls):6d} {prompt:7d} "
            f"{reused:7d} {prompt - reused:10d} {f.total('completion_tokens'):6d} "
            f"{f.inside:8.1f}"
        )
        if not args.no_replay:
            line += f" {f.replay:8.1f} {f.replay_reused:7d} {f.replay / f.wall:6.2f}x"
        print(line)
    wall = sum(f.wall for f in figures)
    inside = sum(f.inside for f in figures)
    n = max(len(figures), 1)
    print(f"mean wall per account: {wall / n:.1f} s (target <= 80 s, stretch 55 s)")
    print(
        f"package overhead: {wall - inside:.2f} s of {wall:.1f} s wall "
        f"= {100 * (wall - inside) / max(wall, 1e-9):.2f}% (target < 2%)"
    )
    if not args.no_replay:
        naive = sum(f.replay for f in figures)
        same = sum(f.replay_same for f in figures)
        total = sum(len(f.calls) for f in figures)
        print(
            f"naive raw llama.cpp replay: {naive / n:.1f} s per account; "
            f"speed-up {naive / max(wall, 1e-9):.2f}x side by side (target >= 2x); "
            f"identical replies {same}/{total}"
        )


if __name__ == "__main__":
    main()
