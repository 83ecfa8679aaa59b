"""Embedded-model speed per account, against a naive raw llama.cpp replay in the same run.

    python bench/embedded_speed.py [--n 2] [--model qwen2.5-coder-0.5b] [--no-replay]
        [--replay-bounded] [--calls]

Runs the first N demo accounts through the orchestrator on the embedded model (no response
cache) and prints, per account: wall time, LM calls, prompt tokens processed vs reused from a
warm context, completion tokens, and the time inside llama.cpp (its calls, and creating the
pool's contexts on the first account). Each request (the same
messages) is also replayed, right after it finishes, through one plain
`llama_cpp.Llama.create_chat_completion`: what the engine did before issue 14 (one context,
llama.cpp's own reuse of the previous prompt's prefix only, llama-cpp-python's own sampler, the
JSON schema without the output bounds), and the per-account ratio is printed; the replay's
time is not counted in the package's wall time. `--replay-bounded` replays with the package's
bounded schema instead (same tokens expected: isolates the context pool and the sampler).
Interleaving keeps the load of a shared machine the same for both sides. The package's
overhead is wall time minus time inside llama.cpp.
Targets (issue 14): at most 80 s per account on a quiet 2-core machine, >= 2x the naive path;
overhead under 2%.
"""

from __future__ import annotations

import argparse
import os
import resource
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
    trim_cut_strings,
)

DEMO = Path(__file__).resolve().parent.parent / "datasets" / "accounts_demo.jsonl"


@dataclass
class AccountFigures:
    account_id: str
    status: str = ""
    wall: float = 0.0  # the package's run of the account, naive replay time excluded
    calls: list[CallRecord] = field(default_factory=list)
    naive: list[tuple[float, int, bool]] = field(default_factory=list)  # seconds, reused, same
    naive_completion: int = 0  # completion tokens the naive replay wrote

    load: float = 0.0  # creating llama.cpp contexts (the cold account's)

    @property
    def inside(self) -> float:
        return sum(c.seconds for c in self.calls) + self.load

    def total(self, attr: str) -> int:
        return sum(int(getattr(c, attr)) for c in self.calls)

    @property
    def naive_seconds(self) -> float:
        return sum(n[0] for n in self.naive)


class NaiveReplay:
    """Replays each finished call at once through one raw `llama_cpp.Llama` (llama-cpp-python's
    own sampler, only its previous-prompt prefix reuse): interleaving the two keeps a shared,
    noisy machine's load the same for both sides of the ratio."""

    def __init__(self, model: str, unbounded: bool = True) -> None:
        import llama_cpp

        self.unbounded = unbounded

        self.llama = llama_cpp.Llama(
            model_path=str(ensure_model(model)),
            n_ctx=LOCAL_MODELS[model].n_ctx,
            n_threads=os.cpu_count() or 1,
            verbose=False,
        )
        self.figure: AccountFigures | None = None

    def __call__(self, call: CallRecord) -> None:
        assert self.figure is not None
        self.figure.calls.append(call)
        llama = self.llama
        before = [int(t) for t in llama.input_ids[: llama.n_tokens]]
        kwargs = dict(call.kwargs)
        if self.unbounded and call.unbounded_format is not None:
            kwargs["response_format"] = call.unbounded_format
        t0 = time.perf_counter()
        out = llama.create_chat_completion(messages=call.messages, **kwargs)
        seconds = time.perf_counter() - t0
        shared = common_prefix(before, llama.input_ids[: call.prompt_tokens].tolist())
        text = out["choices"][0]["message"].get("content") or ""
        if not self.unbounded and "schema" in call.kwargs.get("response_format", {}):
            text = trim_cut_strings(text)
        self.figure.naive_completion += int((out.get("usage") or {}).get("completion_tokens") or 0)
        reused = max(0, min(shared, call.prompt_tokens - 1))
        self.figure.naive.append((seconds, reused, text == call.reply))

    def close(self) -> None:
        self.llama.close()


def run_accounts(n: int, model: str, home: Path, naive: NaiveReplay | None) -> list[AccountFigures]:
    """The first n demo accounts through the orchestrator, recording every engine call (and
    replaying each through `naive` right after it, if given)."""
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
            if naive is not None:
                naive.figure = fig
                engine.observer = naive
            else:
                engine.observer = fig.calls.append
            loads = engine.pool.load_seconds
            t0 = time.perf_counter()
            result = orch.run(account)
            fig.wall = time.perf_counter() - t0 - fig.naive_seconds
            fig.load = engine.pool.load_seconds - loads
            fig.status = result.status.value
            figures.append(fig)
    engine.observer = None
    figures[0].status += f" ({engine.pool.loaded()} ctx)" if figures else ""
    engine.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", choices=sorted(LOCAL_MODELS))
    parser.add_argument("--no-replay", action="store_true", help="skip the naive reference")
    parser.add_argument(
        "--replay-bounded",
        action="store_true",
        help="replay with the package's output bounds (isolates prefix reuse and the sampler)",
    )
    parser.add_argument("--calls", action="store_true", help="also print one line per call")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    naive = None if args.no_replay else NaiveReplay(args.model, unbounded=not args.replay_bounded)
    try:
        with tempfile.TemporaryDirectory(prefix="accountflow-speed-") as tmp:
            figures = run_accounts(args.n, args.model, Path(tmp), naive)
    finally:
        if naive is not None:
            naive.close()

    print(f"embedded model {args.model}, {len(figures)} demo account(s)")
    if args.calls:
        print("account   slot  prompt  reused  compl  llama s  naive s  naive reused  same")
        for f in figures:
            for i, c in enumerate(f.calls):
                line = (
                    f"{f.account_id:<9} {c.slot:4d} {c.prompt_tokens:7d} {c.reused_tokens:7d} "
                    f"{c.completion_tokens:6d} {c.seconds:8.1f}"
                )
                if f.naive:
                    sec, reused, same = f.naive[i]
                    line += f" {sec:8.1f} {reused:13d}  {'yes' if same else 'no'}"
                print(line)
    head = "account   wall s  calls  prompt  reused  processed  compl  llama s"
    print(head + ("  naive s  reused  compl  ratio" if naive else ""))
    for f in figures:
        prompt, reused = f.total("prompt_tokens"), f.total("reused_tokens")
        line = (
            f"{f.account_id:<9} {f.wall:6.1f} {len(f.calls):6d} {prompt:7d} "
            f"{reused:7d} {prompt - reused:10d} {f.total('completion_tokens'):6d} "
            f"{f.inside:8.1f}"
        )
        if naive:
            naive_reused = sum(n[1] for n in f.naive)
            line += (
                f" {f.naive_seconds:8.1f} {naive_reused:7d} {f.naive_completion:6d}"
                f" {f.naive_seconds / f.wall:6.2f}x"
            )
        print(f"{line}  {f.status}")
    wall = sum(f.wall for f in figures)
    inside = sum(f.inside for f in figures)
    n = max(len(figures), 1)
    print(f"mean wall per account: {wall / n:.1f} s (target <= 80 s, stretch 55 s)")
    print(
        f"package overhead: {wall - inside:.2f} s of {wall:.1f} s wall "
        f"= {100 * (wall - inside) / max(wall, 1e-9):.2f}% (target < 2%)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB (the pool's contexts{' and the naive one' if naive else ''})")
    if naive:
        naive_total = sum(f.naive_seconds for f in figures)
        identical = sum(int(r[2]) for f in figures for r in f.naive)
        total = sum(len(f.naive) for f in figures)
        kind = "no output bounds" if naive.unbounded else "bounded"
        print(
            f"naive raw llama.cpp replay ({kind}): {naive_total / n:.1f} s per account, "
            f"{sum(f.naive_completion for f in figures) / n:.0f} completion tokens per account; "
            f"speed-up {naive_total / max(wall, 1e-9):.2f}x side by side (target >= 2x); "
            f"identical replies {identical}/{total}"
        )


if __name__ == "__main__":
    main()
