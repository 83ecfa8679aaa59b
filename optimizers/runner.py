"""The optimize run: a recipe's DSPy optimizer on one target, tracked in MLflow, registered.

`prepare` does everything that needs no LM call (recipe, optional dependencies, credentials,
data, starting program, the call/cost estimate) so a bad flag fails in a second and the
estimate is printed before anything is spent. `execute` then runs:

1. the dev evaluation of the starting program (the "before" score),
2. the optimizer's compile on the target module, with `mlflow.dspy.autolog` where enabled,
3. the dev evaluation of the result (the "after" score),

all through metered LMs. A spent budget stops the compile cleanly: the best candidate the
optimizer had evaluated (or, for bootstrap, the demos collected so far, else the starting
program) is kept, and the run records why it stopped. Calls for the final evaluation are
reserved from the start so a stopped run still reports its after score.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dspy
from dspy.utils.callback import BaseCallback
from pydantic import BaseModel, Field

from accountflow.config import Settings
from accountflow.datasets import dataset_hash, load_split
from accountflow.errors import AccountflowError, ConfigError
from accountflow.evals.compare import paired_delta
from accountflow.evals.metrics import feedback_metric_for, metric_for, resolve_weights
from accountflow.evals.runner import evaluate
from accountflow.evals.stats import PairedResult
from accountflow.evals.targets import build_target, check_target
from accountflow.optimizers.budget import BudgetExhausted, Meter, Phase, metered
from accountflow.optimizers.demos import labeled_demos
from accountflow.optimizers.recipes import (
    Estimate,
    Recipe,
    estimate,
    missing_dependency,
    recipe_json,
)
from accountflow.orchestrator import lm_for, one_line
from accountflow.pipeline import AccountPipeline
from accountflow.programs import (
    LoadedProgram,
    ProgramMeta,
    ProgramVersion,
    diff_states,
    program_state,
    promote,
    render_diff,
    resolve_program,
    save_program,
    write_program_file,
)

Status = Literal["completed", "budget_stopped"]
Progress = Callable[[str], None]


class OptimizeError(AccountflowError):
    """The optimizer itself failed (not the user's input): the work failed, exit code 1."""

    exit_code = 1


class OptimizeRequest(BaseModel):
    """Everything an optimize run needs besides the state dir."""

    target: str
    recipe: Recipe
    lm: str
    api_base: str | None = None
    teacher_lm: str | None = None
    reflection_lm: str | None = None
    seed: int = 0
    max_calls: int | None = Field(default=None, ge=1)
    budget_usd: float | None = Field(default=None, gt=0)
    threads: int = Field(default=1, ge=1, le=64)
    start: str | None = None  # program ref to start from; None: the promoted program
    autolog: bool = True
    promote: bool = False


class OptimizeResult(BaseModel):
    status: Status
    stop_reason: str | None = None
    target: str
    recipe: str
    version: str
    parent_version: str
    changed: bool
    changed_predictors: list[str] = Field(default_factory=list)
    dev_score_before: float | None
    dev_score_after: float | None
    metrics_before: dict[str, float | None] = Field(default_factory=dict)
    metrics_after: dict[str, float | None] = Field(default_factory=dict)
    # paired bootstrap (95% CI) of the dev examples' weighted scores, after - before; the mean
    # per-example difference, close to but not always equal to after - before of the aggregates
    dev_delta: float | None = None
    dev_delta_ci_low: float | None = None
    dev_delta_ci_high: float | None = None
    # the held-out test split (--testset), scored before and after; reported, never used to
    # choose, keep or promote a program
    test_score_before: float | None = None
    test_score_after: float | None = None
    test_metrics_before: dict[str, float | None] = Field(default_factory=dict)
    test_metrics_after: dict[str, float | None] = Field(default_factory=dict)
    test_delta: float | None = None
    test_delta_ci_low: float | None = None
    test_delta_ci_high: float | None = None
    usage: dict[str, float] = Field(default_factory=dict)
    wall_time_s: float
    compile_time_s: float
    estimate: Estimate
    mlflow_run_id: str
    mlflow_experiment: str
    registered_model: str | None = None
    registered_version: int | None = None
    program_path: str
    promoted: bool = False
    warnings: list[str] = Field(default_factory=list)


@dataclass
class Prepared:
    """A validated request: data loaded, LMs built, estimate made; no LM call yet."""

    request: OptimizeRequest
    settings: Settings
    weights: dict[str, float]
    train: list[dspy.Example]
    val: list[dspy.Example]
    dev: list[dspy.Example]
    test: list[dspy.Example]
    data_params: dict[str, Any]
    start: LoadedProgram
    lms: dict[str, dspy.LM]  # task, teacher, reflection (the last two only when given)
    estimate: Estimate
    reserve_calls: int
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- prepare
def split_val(
    examples: list[dspy.Example], fraction: float, seed: int
) -> tuple[list[dspy.Example], list[dspy.Example]]:
    """Hold out a seeded slice of train for candidate selection (dev stays untouched)."""
    if fraction <= 0 or len(examples) < 2:
        return list(examples), []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_val = min(len(examples) - 1, max(1, round(len(examples) * fraction)))
    val_idx = set(order[:n_val])
    train = [ex for i, ex in enumerate(examples) if i not in val_idx]
    val = [ex for i, ex in enumerate(examples) if i in val_idx]
    return train, val


def prepare(settings: Settings, request: OptimizeRequest) -> Prepared:
    """Validate the request and load what it needs, before any LM call."""

    target = check_target(request.target)
    recipe = request.recipe
    recipe.check()
    missing = missing_dependency(recipe.family)
    if missing:
        raise ConfigError(missing)
    if recipe.family == "labeled-fewshot" and target not in ("analysis", "pipeline"):
        labeled_demos(target, [], 1, 0)  # raises the explanatory ConfigError
    weights = resolve_weights(target, recipe.metrics, recipe.weights)
    models = {
        "task": request.lm,
        "teacher": request.teacher_lm,
        "reflection": request.reflection_lm,
    }
    # built like every command's model (lm_for: endpoint, step timeout, cache in the state
    # dir); building checks a remote provider's credentials and the embedded model's files,
    # and makes no call.
    run_settings = settings.model_copy(update={"api_base": request.api_base})
    lms = {role: lm_for(run_settings, model) for role, model in models.items() if model}

    train_all = load_split(recipe.trainset, recipe.train_limit)
    dev = load_split(recipe.devset, recipe.dev_limit)
    test = load_split(recipe.testset) if recipe.testset else []
    train, val = split_val(train_all, recipe.val_fraction, request.seed)
    if recipe.family == "labeled-fewshot" and int(recipe.params.get("candidates", 1)) > 1:
        if not val:
            raise ConfigError(
                "labeled-fewshot with candidates > 1 chooses on a slice held out of train: "
                "set val_fraction (e.g. --set val_fraction=0.3)."
            )
    if recipe.family == "simba" and len(train) < 2:
        raise ConfigError("simba needs at least 2 training examples; raise --train-limit.")
    start = resolve_program(settings, request.start)
    data_params = {
        "train": {
            "split": recipe.trainset,
            "hash": dataset_hash(recipe.trainset),
            "size": len(train),
            "limit": recipe.train_limit,
        },
        "val": {"from": recipe.trainset, "size": len(val), "fraction": recipe.val_fraction},
        "dev": {
            "split": recipe.devset,
            "hash": dataset_hash(recipe.devset),
            "size": len(dev),
            "limit": recipe.dev_limit,
        },
    }
    if recipe.testset:
        data_params["test"] = {
            "split": recipe.testset,
            "hash": dataset_hash(recipe.testset),
            "size": len(test),
        }
    est = estimate(
        recipe,
        target,
        len(train),
        len(val) or len(train),
        len(dev),
        [request.lm, request.teacher_lm or request.lm],
        n_test=len(test),
    )
    reserve = est.eval_calls
    notes = []
    if request.max_calls is not None and request.max_calls < 2 * reserve + 1:
        raise ConfigError(
            f"--max-calls {request.max_calls} cannot cover the two dev evaluations "
            f"(~{reserve} calls each) and any optimization; raise it to at least "
            f"{2 * reserve + 1} or lower --dev-limit."
        )
    if request.max_calls is not None and est.total_calls > request.max_calls:
        notes.append(
            f"the estimate exceeds --max-calls {request.max_calls}: the compile will stop at "
            f"{request.max_calls - reserve} calls and keep the best program so far"
        )
    if recipe.family == "gepa" and not request.reflection_lm:
        notes.append("gepa reflects with the task model; a stronger --reflection-lm helps")
    return Prepared(
        request=request,
        settings=settings,
        weights=weights,
        train=train,
        val=val,
        dev=dev,
        test=test,
        data_params=data_params,
        start=start,
        lms=lms,
        estimate=est,
        reserve_calls=reserve,
        notes=notes,
    )


# ---------------------------------------------------------------------------- best so far
class CandidateTracker(BaseCallback):
    """Remembers every program a `dspy.Evaluate` inside the optimizer scored, so a stopped
    run can keep the best one. Only evaluations over the largest set seen compete (MIPROv2
    also scores minibatches, which are not comparable with full evaluations)."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[int, dict[str, Any]]] = {}
        self.best: tuple[int, float, dict[str, Any]] | None = None
        self.count = 0

    def on_evaluate_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        program = inputs.get("program")
        devset = inputs.get("devset") or getattr(instance, "devset", None) or []
        if isinstance(program, dspy.Module):
            self._pending[call_id] = (len(devset), program.dump_state())

    def on_evaluate_end(
        self, call_id: str, outputs: Any | None, exception: Exception | None = None
    ) -> None:
        pending = self._pending.pop(call_id, None)
        if pending is None or exception is not None or outputs is None:
            return
        score = getattr(outputs, "score", outputs)
        if not isinstance(score, (int, float)):
            return
        self.count += 1
        size, state = pending
        if self.best is None or (size, score) > (self.best[0], self.best[1]):
            self.best = (size, float(score), state)


# ---------------------------------------------------------------------------- compile
def _teacher_settings(lms: dict[str, dspy.LM]) -> dict[str, Any] | None:
    return {"lm": lms["teacher"]} if "teacher" in lms else None


def build_optimizer(prep: Prepared, lms: dict[str, dspy.LM]) -> tuple[Any, dict[str, Any]]:
    """The DSPy optimizer for the recipe and the keyword arguments of its `compile`."""

    req, recipe = prep.request, prep.request.recipe
    p = dict(recipe.params)
    for ours in ("val_fraction", "keep_start_demos"):  # handled here, not DSPy settings
        p.pop(ours, None)
    names = list(prep.weights)
    metric = metric_for(req.target, names, prep.weights)
    threads = req.threads
    valset = prep.val or None
    teacher = _teacher_settings(lms)
    family = recipe.family
    if family == "bootstrap":
        from dspy.teleprompt import BootstrapFewShot

        return BootstrapFewShot(metric=metric, teacher_settings=teacher, **p), {
            "trainset": prep.train
        }
    if family == "random-search":
        from dspy.teleprompt import BootstrapFewShotWithRandomSearch

        opt = BootstrapFewShotWithRandomSearch(
            metric=metric, teacher_settings=teacher, num_threads=threads, **p
        )
        return opt, {"trainset": prep.train, "valset": valset}
    if family == "mipro":
        from dspy.teleprompt import MIPROv2

        compile_keys = {"num_trials", "minibatch", "minibatch_size"}
        compile_kwargs = {k: p.pop(k) for k in list(p) if k in compile_keys}
        val = valset or prep.train
        if compile_kwargs.get("minibatch", True) and "minibatch_size" in compile_kwargs:
            compile_kwargs["minibatch_size"] = min(int(compile_kwargs["minibatch_size"]), len(val))
        elif compile_kwargs.get("minibatch", True):
            compile_kwargs["minibatch_size"] = min(35, len(val))
        opt = MIPROv2(
            metric=metric,
            prompt_model=lms.get("teacher", lms["task"]),
            task_model=lms["task"],
            teacher_settings=teacher,
            num_threads=threads,
            seed=req.seed,
            verbose=False,
            **p,
        )
        return opt, {"trainset": prep.train, "valset": val, "seed": req.seed, **compile_kwargs}
    if family == "gepa":
        from dspy.teleprompt import GEPA

        budgets = [k for k in ("max_metric_calls", "max_full_evals") if p.get(k)]
        if budgets:
            p.pop("auto", None)
        opt = GEPA(
            metric=feedback_metric_for(req.target, names, prep.weights),
            reflection_lm=lms.get("reflection", lms.get("teacher", lms["task"])),
            num_threads=threads,
            seed=req.seed,
            **p,
        )
        return opt, {"trainset": prep.train, "valset": valset}
    if family == "copro":
        from dspy.teleprompt import COPRO

        opt = COPRO(prompt_model=lms.get("teacher"), metric=metric, **p)
        return opt, {
            "trainset": prep.train,
            "eval_kwargs": {"num_threads": threads, "display_progress": False},
        }
    if family == "simba":
        from dspy.teleprompt import SIMBA

        p["bsize"] = min(int(p.get("bsize", 32)), len(prep.train))
        opt = SIMBA(
            metric=metric,
            prompt_model=lms.get("teacher"),
            teacher_settings=teacher,
            num_threads=threads,
            **p,
        )
        return opt, {"trainset": prep.train, "seed": req.seed}
    raise ConfigError(f"no optimizer for family {family!r}")


def fold(
    base: AccountPipeline, tuned: dspy.Module, keep_start_demos: bool = False
) -> AccountPipeline:
    """The full pipeline with the tuned target's predictors in place (names match: the target
    module keeps the pipeline's attribute names). With `keep_start_demos`, a tuned predictor
    left without demos keeps the ones it had in `base`."""
    result = base.deepcopy()
    predictors = dict(result.named_predictors())
    for name, predictor in tuned.named_predictors():
        if name not in predictors:
            raise OptimizeError(f"the optimized program has an unknown predictor {name!r}")
        state = predictor.dump_state()
        if keep_start_demos and not state["demos"]:
            state["demos"] = predictors[name].dump_state()["demos"]
        predictors[name].load_state(state)
    return result


@dataclass
class CompileOutcome:
    program: AccountPipeline
    status: Status
    stop_reason: str | None
    kept: str  # what was kept: "optimized", "best candidate ...", "collected demos", "start"
    seconds: float


def compile_target(
    prep: Prepared, phase: Phase, progress: Progress, extra_callbacks: list[Any]
) -> CompileOutcome:
    """Run the recipe's optimizer on the target; a spent budget keeps the best so far."""

    req = prep.request
    base = prep.start.program
    student = build_target(req.target, base.deepcopy())
    lms = {role: metered(lm, phase) for role, lm in prep.lms.items()}
    tracker = CandidateTracker()
    t0 = time.perf_counter()
    if req.recipe.family == "labeled-fewshot":
        return _labeled(prep, phase, progress, t0)
    optimizer = None
    keep = bool(req.recipe.params.get("keep_start_demos", False))
    try:
        with dspy.context(
            lm=lms["task"], adapter=dspy.JSONAdapter(), callbacks=[tracker, *extra_callbacks]
        ):
            optimizer, kwargs = build_optimizer(prep, lms)
            tuned = optimizer.compile(student, **kwargs)
        return CompileOutcome(
            fold(base, tuned, keep), "completed", None, "optimized", time.perf_counter() - t0
        )
    except BudgetExhausted as stop:
        progress(f"budget: {stop.reason}; keeping the best program so far")
        program, kept = _best_so_far(base, student, tracker, optimizer, keep)
        return CompileOutcome(
            program, "budget_stopped", stop.reason, kept, time.perf_counter() - t0
        )
    except AccountflowError:
        raise
    except Exception as exc:
        raise OptimizeError(
            f"the {req.recipe.name} optimizer failed on {req.target}: {type(exc).__name__}: "
            f"{one_line(exc)}"
        ) from exc


def _with_labeled_demos(prep: Prepared, seed: int) -> AccountPipeline:
    k = int(prep.request.recipe.params.get("k", 4))
    program = prep.start.program.deepcopy()
    predictors = dict(program.named_predictors())
    for name, items in labeled_demos(prep.request.target, prep.train, k, seed).items():
        predictors[name].demos = items
    return program


def _labeled(prep: Prepared, phase: Phase, progress: Progress, t0: float) -> CompileOutcome:
    """labeled-fewshot: one seeded demo set, or with `candidates` N > 1 the best of N seeded
    sets and the starting program on the slice held out of train (the val set, never dev): which
    k examples a small model sees moves its answers more than any one example, so the choice is
    measured instead of left to the seed."""
    req = prep.request
    candidates = int(req.recipe.params.get("candidates", 1))
    if candidates <= 1:
        program = _with_labeled_demos(prep, req.seed)
        return CompileOutcome(program, "completed", None, "optimized", time.perf_counter() - t0)
    best: tuple[float, str, AccountPipeline] | None = None
    pool = [("the starting program", prep.start.program)] + [
        (f"demo set seed {req.seed + i}", _with_labeled_demos(prep, req.seed + i))
        for i in range(candidates)
    ]
    quiet: Progress = lambda _msg: None  # noqa: E731 - one line per candidate is enough
    try:
        for label, program in pool:
            report = _eval(prep, program, phase, quiet, examples=prep.val)
            progress(f"  candidate {label}: val {report.aggregate:.3f}")
            if best is None or report.aggregate > best[0]:
                best = (report.aggregate, label, program)
    except BudgetExhausted as stop:
        if best is None:
            return CompileOutcome(
                prep.start.program.deepcopy(),
                "budget_stopped",
                stop.reason,
                "start",
                time.perf_counter() - t0,
            )
        return CompileOutcome(
            best[2],
            "budget_stopped",
            stop.reason,
            f"best candidate so far ({best[1]})",
            time.perf_counter() - t0,
        )
    assert best is not None
    return CompileOutcome(
        best[2],
        "completed",
        None,
        f"optimized ({best[1]}, val {best[0]:.3f})",
        time.perf_counter() - t0,
    )


def _best_so_far(
    base: AccountPipeline,
    student: dspy.Module,
    tracker: CandidateTracker,
    optimizer: Any,
    keep_start_demos: bool,
) -> tuple[AccountPipeline, str]:
    if tracker.best is not None:
        size, score, state = tracker.best
        candidate = student.deepcopy()
        candidate.load_state(state)
        return fold(base, candidate), f"best evaluated candidate ({score:.1f} on {size} examples)"
    traces = getattr(optimizer, "name2traces", None)
    if traces and any(traces.values()) and hasattr(optimizer, "student"):
        # BootstrapFewShot keeps the traces it accepted so far; its _train turns them into
        # demos (the labeled-demo pool it would have set at the end of bootstrapping is empty).
        if not hasattr(optimizer, "validation"):
            optimizer.validation = []
        program = fold(base, optimizer._train(), keep_start_demos)
        return program, "demos bootstrapped before the stop"
    return base.deepcopy(), "the starting program (nothing was evaluated before the stop)"


# ---------------------------------------------------------------------------- the run
def _eval(
    prep: Prepared,
    program: AccountPipeline,
    phase: Phase,
    say: Progress,
    examples: list[dspy.Example] | None = None,
) -> Any:
    """Score `program` on the dev set (or `examples`, the test split) with the run's weights."""
    examples = prep.dev if examples is None else examples
    lm = metered(prep.lms["task"], phase)
    total = len(examples)
    done: list[int] = []

    def each(row: Any) -> None:  # slow models take minutes per evaluation: show each example
        done.append(1)
        failed = f" ({row.error})" if row.error else ""
        say(f"  {phase.name} {len(done)}/{total} {row.example_id}: {row.score:.2f}{failed}")

    return evaluate(
        program,
        prep.request.target,
        examples,
        prep.weights,
        threads=prep.request.threads,
        lm=lm,
        progress=each,
    )


def execute(prep: Prepared, progress: Progress | None = None) -> OptimizeResult:
    """Run a prepared optimization end to end (see the module docstring)."""
    from accountflow import tracking  # lazy: MLflow's import costs seconds
    from accountflow.optimizers import mlflow_record as rec

    say = progress or (lambda _msg: None)
    req, settings, recipe = prep.request, prep.settings, prep.request.recipe
    meter = Meter(max_calls=req.max_calls, budget_usd=req.budget_usd)
    warnings: list[str] = []
    started = time.perf_counter()
    run_name = f"{recipe.name}-{prep.start.version}-s{req.seed}"
    tags = {"accountflow.kind": "optimize", "target": req.target, "optimizer": recipe.name}
    with tracking.start_run(settings, rec.experiment_name(req.target), run_name, tags) as run:
        run_id = run.info.run_id
        rec.adopt_experiment(run.info.experiment_id)
        tracking.log_params(
            rec.params_of(
                {
                    "target": req.target,
                    "optimizer": recipe.name,
                    "family": recipe.family,
                    "opt": recipe.params,
                    "metrics": prep.weights,
                    "lm": req.lm,
                    "teacher_lm": req.teacher_lm,
                    "reflection_lm": req.reflection_lm,
                    "seed": req.seed,
                    "threads": req.threads,
                    "max_calls": req.max_calls,
                    "budget_usd": req.budget_usd,
                    "start_program": prep.start.version,
                    "start_source": prep.start.source,
                    "data": prep.data_params,
                    "estimate": {
                        "calls": prep.estimate.total_calls,
                        "cost_usd": prep.estimate.cost_usd,
                    },
                }
            )
        )
        tracking.log_metrics({"estimate_calls": prep.estimate.total_calls})
        reserve_usd = _reserve_usd(prep)
        say(
            f"dev evaluation of the starting program {prep.start.version} "
            f"({len(prep.dev)} examples)"
        )
        stop_reason: str | None = None
        before = after = None
        try:
            before = _eval(
                prep,
                prep.start.program,
                meter.phase("before", prep.reserve_calls, reserve_usd),
                say,
            )
        except BudgetExhausted as stop:
            stop_reason = stop.reason
        if before is not None:
            say(f"dev score before: {before.aggregate:.3f}")
            rec.log_eval(before, "before")
        if stop_reason is None:
            say(
                f"compiling with {recipe.name} on {len(prep.train)} train / {len(prep.val)} "
                "val examples"
            )
            with rec.dspy_autolog(req.autolog) as callbacks:
                outcome = compile_target(
                    prep,
                    meter.phase("compile", prep.reserve_calls, reserve_usd),
                    say,
                    callbacks,
                )
        else:
            outcome = CompileOutcome(
                prep.start.program.deepcopy(),
                "budget_stopped",
                stop_reason,
                "the starting program",
                0.0,
            )
        say(f"compiled in {outcome.seconds:.1f}s ({outcome.kept})")
        try:
            after = _eval(prep, outcome.program, meter.phase("after"), say)
        except BudgetExhausted as stop:
            warnings.append(f"no after score: {stop.reason}")
        if after is not None:
            say(f"dev score after: {after.aggregate:.3f}")
            rec.log_eval(after, "after")
        test_before = test_after = None
        if prep.test:
            # after the dev evaluations, so a spent budget costs the report, never the program
            say(f"test split {req.recipe.testset} ({len(prep.test)} examples): reported only")
            try:
                test_before = _eval(
                    prep, prep.start.program, meter.phase("test"), say, examples=prep.test
                )
                rec.log_eval(test_before, "test_before")
                test_after = _eval(prep, outcome.program, meter.phase("test"), say, prep.test)
                rec.log_eval(test_after, "test_after")
            except BudgetExhausted as stop:
                warnings.append(f"no test score: {stop.reason}")

        with tempfile.TemporaryDirectory() as tmp:
            program_file = Path(tmp) / "program.json"
            version = write_program_file(outcome.program, program_file)
            diff = diff_states(
                program_state(prep.start.program),
                program_state(outcome.program),
                prep.start.version,
                version,
            )
            source = rec.log_files(
                program_file,
                {
                    "diff.md": render_diff(diff),
                    "recipe.json": recipe_json(recipe),
                },
            )
        wall = time.perf_counter() - started
        usage = meter.snapshot()
        paired, dev_figures = _paired_figures("dev", before, after)
        _, test_figures = _paired_figures("test", test_before, test_after)
        if paired is not None:
            say(
                f"dev delta {paired.mean_delta:+.3f} per example, 95% CI "
                f"[{paired.ci_low:+.3f}, {paired.ci_high:+.3f}] (paired bootstrap, n {paired.n})"
            )
        tracking.log_metrics(
            {
                **dev_figures,
                **{f"before.{k}": v for k, v in (before.metric_means if before else {}).items()},
                **{f"after.{k}": v for k, v in (after.metric_means if after else {}).items()},
                **test_figures,
                **{
                    f"test_before.{k}": v
                    for k, v in (test_before.metric_means if test_before else {}).items()
                },
                **{
                    f"test_after.{k}": v
                    for k, v in (test_after.metric_means if test_after else {}).items()
                },
                # the fit ranking (Spearman, band accuracy, distinct scores) of each evaluation
                **{
                    f"{label}.{k}": v
                    for label, report in (
                        ("before", before),
                        ("after", after),
                        ("test_before", test_before),
                        ("test_after", test_after),
                    )
                    if report is not None
                    for k, v in report.ranking.items()
                },
                **usage,
                "wall_time_s": round(wall, 3),
                "compile_time_s": round(outcome.seconds, 3),
                "changed_predictors": len(diff.changed),
            }
        )
        status: Status = outcome.status
        import mlflow

        mlflow.set_tags(
            {
                "status": status,
                "program_version": version,
                "stop_reason": outcome.stop_reason or "",
                "kept": outcome.kept,
            }
        )
        registered: tuple[str | None, int | None] = (None, None)
        try:
            registered = rec.register(
                req.target, run_id, source, version, {"optimizer": recipe.name, "status": status}
            )
        except Exception as exc:  # the run and the program are still recorded
            warnings.append(f"could not register the program in MLflow: {exc}")
        entry = save_program(
            settings,
            outcome.program,
            req.target,
            ProgramMeta(
                optimizer=recipe.name,
                parent_version=prep.start.version,
                model=req.lm,
                dev_score_before=before.aggregate if before else None,
                dev_score=after.aggregate if after else None,
                metrics={
                    k: v for k, v in (after.metric_means if after else {}).items() if v is not None
                },
                recipe=recipe.model_dump(mode="json"),
                mlflow_run_id=run_id,
                registered_model=registered[0],
                registered_version=registered[1],
                stop_reason=outcome.stop_reason,
            ),
        )
        promoted = False
        refusal = promotion_refusal(
            before.aggregate if before else None, after.aggregate if after else None, paired
        )
        if req.promote and refusal is not None:
            warnings.append(
                f"not promoted: {refusal}; `accountflow programs promote {entry.version}` "
                "promotes it anyway"
            )
        elif req.promote:
            entry = _promote(settings, entry, warnings)
            promoted = True
    return OptimizeResult(
        status=status,
        stop_reason=outcome.stop_reason,
        target=req.target,
        recipe=recipe.name,
        version=entry.version,
        parent_version=prep.start.version,
        changed=entry.version != prep.start.version,
        changed_predictors=[p.name for p in diff.changed],
        metrics_before=before.metric_means if before else {},
        metrics_after=after.metric_means if after else {},
        **dev_figures,
        test_metrics_before=test_before.metric_means if test_before else {},
        test_metrics_after=test_after.metric_means if test_after else {},
        **test_figures,
        usage=usage,
        wall_time_s=round(wall, 3),
        compile_time_s=round(outcome.seconds, 3),
        estimate=prep.estimate,
        mlflow_run_id=run_id,
        mlflow_experiment=rec.experiment_name(req.target),
        registered_model=registered[0],
        registered_version=registered[1],
        program_path=entry.path,
        promoted=promoted,
        warnings=warnings,
    )


def _paired_figures(
    split: str, before: Any, after: Any
) -> tuple[PairedResult | None, dict[str, float | None]]:
    """One split's scores before and after and the paired bootstrap of its examples, named
    as MLflow logs them and `OptimizeResult` holds them (`dev_delta`, `test_score_after`...)."""
    both = before is not None and after is not None
    paired = paired_delta(after.rows, before.rows) if both else None
    return paired, {
        f"{split}_score_before": before.aggregate if before is not None else None,
        f"{split}_score_after": after.aggregate if after is not None else None,
        f"{split}_delta": paired.mean_delta if paired else None,
        f"{split}_delta_ci_low": paired.ci_low if paired else None,
        f"{split}_delta_ci_high": paired.ci_high if paired else None,
    }


def promotion_refusal(
    before: float | None, after: float | None, paired: PairedResult | None
) -> str | None:
    """Why `--promote` must not make this program the default, or None: a program whose dev
    score fell (mean paired delta below zero, or a lower aggregate when nothing is paired) would
    make every later command worse, which is never what an unattended `--promote` means."""
    if paired is not None and paired.mean_delta < 0:
        return (
            f"the dev score fell ({paired.mean_delta:+.3f} per example, 95% CI "
            f"[{paired.ci_low:+.3f}, {paired.ci_high:+.3f}])"
        )
    if paired is None and before is not None and after is not None and after < before:
        return f"the dev score fell from {before:.3f} to {after:.3f}"
    return None


def _reserve_usd(prep: Prepared) -> float:
    """Dollars kept back for the final evaluation (0 when the price is unknown or free)."""
    est = prep.estimate
    if not est.cost_usd or not est.total_calls:
        return 0.0
    return est.cost_usd * prep.reserve_calls / est.total_calls


def _promote(settings: Settings, entry: ProgramVersion, warnings: list[str]) -> ProgramVersion:
    from accountflow.optimizers.mlflow_record import set_promoted_alias

    promoted = promote(settings, entry.version)
    assert promoted is not None
    warning = set_promoted_alias(settings, promoted)
    if warning:
        warnings.append(warning)
    return promoted


def optimize(
    settings: Settings, request: OptimizeRequest, progress: Progress | None = None
) -> OptimizeResult:
    """Prepare and execute in one call (the Python API)."""
    return execute(prepare(settings, request), progress)
