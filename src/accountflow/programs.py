"""The program registry: optimized `AccountPipeline`s saved as DSPy JSON, versioned, promoted.

A version is `accountflow.modules.program_version`: the first 12 hex of the sha256 of the program
state as canonical JSON (sorted keys). The file on disk is DSPy's own `program.save()` format, so
`AccountPipeline().load(path)` works without accountflow; its `metadata` block (library versions)
is outside the hash, so the same prompts keep their version across library upgrades, and step
records (which carry `program_version`) name exactly the registry entry that produced them.

Files live in `<home>/programs/<version>.json`; metadata and promotions live in DuckDB (`programs`,
`program_promotions`) so they can be joined with `runs`/`steps`. The promoted version is what
every command loads by default; promoting `default` goes back to the built-in program.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from accountflow.config import Settings
from accountflow.errors import ConfigError, InputError, NotFoundError
from accountflow.pipeline import AccountPipeline, program_version
from accountflow.store import Store
from accountflow.store.codec import utcnow
from accountflow.store.programs import ProgramMeta, ProgramVersion

BUILTIN = "default"  # the ref naming the built-in program (what `promote default` goes back to)
Source = Literal["promoted", "registry", "file", "default"]


class LoadedProgram(BaseModel):
    """A program resolved from a ref, with where it came from (for messages and records)."""

    model_config = {"arbitrary_types_allowed": True}

    program: AccountPipeline
    version: str
    source: Source


# ---------------------------------------------------------------------------- files
def program_state(program: AccountPipeline) -> dict[str, Any]:
    """The program's DSPy state as saved (no per-predictor LMs)."""
    return without_lms(program).dump_state()


def read_program_file(path: Path, settings: Settings | None = None) -> AccountPipeline:
    """An `AccountPipeline` from a program JSON (ours or any `program.save()` of one)."""
    if not path.is_file():
        raise InputError(f"Program file {path} does not exist.")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"Program file {path} is not valid JSON ({type(exc).__name__}).") from None
    if not isinstance(state, dict):
        raise InputError(f"Program file {path} must hold a JSON object of predictor states.")
    state.pop("metadata", None)
    program = AccountPipeline(settings.max_rule_retries if settings else 2)
    missing = sorted(set(dict(program.named_predictors())) - set(state))
    if missing:
        raise InputError(
            f"Program file {path} is not an AccountPipeline state: it has no {missing[0]!r}."
        )
    try:
        program.load_state(state)
    except Exception as exc:
        raise InputError(
            f"Program file {path} does not fit AccountPipeline ({type(exc).__name__}: {exc})."
        ) from None
    return program


def without_lms(program: AccountPipeline) -> AccountPipeline:
    """A copy with no per-predictor LM: the model is chosen at run time (`--lm`), never baked
    into a program (a stored LM could also carry an endpoint)."""
    clean = program.deepcopy()
    for _, predictor in clean.named_predictors():
        predictor.lm = None
    return clean


def write_program_file(program: AccountPipeline, path: Path) -> str:
    """Save the program (without LMs) as DSPy JSON at `path` and return its version; the file
    is read back and re-hashed so the registry never names a version loading would not give."""
    clean = without_lms(program)
    version = program_version(clean)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.json")
    clean.save(str(tmp))
    reloaded = read_program_file(tmp)
    if program_version(reloaded) != version:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"program {version} does not survive a JSON round trip")
    tmp.replace(path)
    return version


# ---------------------------------------------------------------------------- registry
@contextmanager
def _store(settings: Settings, store: Store | None) -> Iterator[Store]:
    """Use the caller's open store (a command already holding it) or open one briefly."""
    if store is not None:
        yield store
        return
    with Store(settings.db_path) as opened:
        yield opened


def save_program(
    settings: Settings,
    program: AccountPipeline,
    target: str,
    meta: ProgramMeta | dict[str, Any] | None = None,
    store: Store | None = None,
) -> ProgramVersion:
    """Write the program to the state dir and record it; saving the same program again (the
    same version) keeps its first creation time and updates what the latest run said about it."""
    meta = meta if isinstance(meta, ProgramMeta) else ProgramMeta(**(meta or {}))
    program = without_lms(program)
    version = program_version(program)
    path = settings.programs_dir / f"{version}.json"
    write_program_file(program, path)
    entry = ProgramVersion(
        **meta.model_dump(), version=version, target=target, path=str(path), created_at=utcnow()
    )
    with _store(settings, store) as db:
        db.programs.save(entry)
        return get_program(settings, version, store=db)


def promoted_version(settings: Settings, store: Store | None = None) -> str | None:
    """The version every command loads by default, or None for the built-in program."""
    with _store(settings, store) as db:
        return db.programs.promoted_version()


def list_programs(
    settings: Settings, target: str | None = None, store: Store | None = None
) -> list[ProgramVersion]:
    """Registered programs, newest first."""
    with _store(settings, store) as db:
        return db.programs.entries(target)


def get_program(settings: Settings, version: str, store: Store | None = None) -> ProgramVersion:
    """One entry by version or a unique prefix of one (like git commits)."""
    ref = version.strip().lower()
    if not ref or any(c not in "0123456789abcdef" for c in ref):
        raise NotFoundError(
            f"{version!r} is not a program version; `accountflow programs list` shows them."
        )
    with _store(settings, store) as db:
        rows = db.programs.by_prefix(ref)
    if not rows:
        raise NotFoundError(
            f"No program {version!r}; `accountflow programs list` shows the versions."
        )
    if len(rows) > 1:
        raise NotFoundError(f"Program version prefix {version!r} is ambiguous; give more.")
    return rows[0]


def promote(settings: Settings, ref: str, store: Store | None = None) -> ProgramVersion | None:
    """Make a registered version (or `default`, the built-in program) what commands load."""
    with _store(settings, store) as db:
        entry = None if ref == BUILTIN else get_program(settings, ref, store=db)
        db.programs.promote(entry.version if entry else None)
        return get_program(settings, entry.version, store=db) if entry else None


def resolve_program(
    settings: Settings, ref: str | None = None, store: Store | None = None
) -> LoadedProgram:
    """The program a `--program` ref names: a version or prefix, a path to a program JSON,
    `default`; None means the promoted version, else the built-in program."""
    if ref is None:
        version = promoted_version(settings, store=store)
        if version is None:
            return _builtin(settings)
        entry = get_program(settings, version, store=store)
        return _from_entry(settings, entry, "promoted")
    if ref == BUILTIN:
        return _builtin(settings)
    path = Path(ref).expanduser()
    if ref.endswith(".json") or path.is_file():
        program = read_program_file(path, settings)
        return LoadedProgram(program=program, version=program_version(program), source="file")
    if ref == program_version(AccountPipeline()):
        return _builtin(settings)
    return _from_entry(settings, get_program(settings, ref, store=store), "registry")


def load_program(
    settings: Settings, ref: str | None = None, store: Store | None = None
) -> AccountPipeline:
    """The program to run: see `resolve_program` for what `ref` may be."""
    return resolve_program(settings, ref, store=store).program


def _builtin(settings: Settings) -> LoadedProgram:
    program = AccountPipeline(settings.max_rule_retries)
    return LoadedProgram(program=program, version=program_version(program), source="default")


def _from_entry(settings: Settings, entry: ProgramVersion, source: Source) -> LoadedProgram:
    # the state dir's own copy first, so a moved or copied state dir still loads its programs
    path = settings.programs_dir / f"{entry.version}.json"
    if not path.is_file():
        path = Path(entry.path)
    if not path.is_file():
        raise ConfigError(
            f"Program {entry.version}'s file {path} is missing; restore it or promote another "
            "version (`accountflow programs promote default` goes back to the built-in program)."
        )
    program = read_program_file(path, settings)
    version = program_version(program)
    if version != entry.version:
        raise ConfigError(
            f"Program file {path} hashes to {version}, not {entry.version}: it was edited; "
            "restore it or promote another version."
        )
    return LoadedProgram(program=program, version=version, source=source)


# ---------------------------------------------------------------------------- views
class PredictorView(BaseModel):
    """One predictor's prompt as a person reads it: instructions, field notes, demos."""

    name: str
    instructions: str
    fields: dict[str, str] = Field(default_factory=dict)  # field name -> "Prefix: description"
    demos: list[dict[str, Any]] = Field(default_factory=list)


class PredictorDiff(BaseModel):
    name: str
    instructions_diff: list[str] = Field(default_factory=list)  # unified diff lines
    fields_changed: dict[str, tuple[str, str]] = Field(default_factory=dict)
    demos_before: int = 0
    demos_after: int = 0
    demos_added: list[dict[str, Any]] = Field(default_factory=list)
    demos_removed: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.instructions_diff or self.fields_changed or self.demos_added or self.demos_removed
        )


class ProgramDiff(BaseModel):
    a: str
    b: str
    predictors: list[PredictorDiff]

    @property
    def changed(self) -> list[PredictorDiff]:
        return [p for p in self.predictors if p.changed]


def _field_names() -> dict[str, list[str]]:
    return {n: list(p.signature.fields) for n, p in AccountPipeline().named_predictors()}


def describe_program(state: dict[str, Any]) -> list[PredictorView]:
    """Each predictor's instructions, field notes and demos, from a program state."""
    names = _field_names()
    views = []
    for name, pstate in state.items():
        if not isinstance(pstate, dict) or "signature" not in pstate:
            continue
        sig = pstate["signature"]
        labels = names.get(name, [])
        fields = {
            (
                labels[i] if i < len(labels) else f"field{i}"
            ): f"{f.get('prefix', '')} {f.get('description', '')}".strip()
            for i, f in enumerate(sig.get("fields", []))
        }
        views.append(
            PredictorView(
                name=name,
                instructions=sig.get("instructions", ""),
                fields=fields,
                demos=list(pstate.get("demos", [])),
            )
        )
    return views


def diff_states(
    a: dict[str, Any], b: dict[str, Any], a_label: str = "a", b_label: str = "b"
) -> ProgramDiff:
    """Instruction, field and demo changes per predictor between two program states."""
    before = {v.name: v for v in describe_program(a)}
    after = {v.name: v for v in describe_program(b)}
    diffs = []
    for name in list(before) + [n for n in after if n not in before]:
        x = before.get(name) or PredictorView(name=name, instructions="")
        y = after.get(name) or PredictorView(name=name, instructions="")
        lines = list(
            difflib.unified_diff(
                x.instructions.splitlines(),
                y.instructions.splitlines(),
                fromfile=f"{a_label}:{name}",
                tofile=f"{b_label}:{name}",
                lineterm="",
                n=1,
            )
        )
        fields = {
            k: (x.fields.get(k, ""), y.fields.get(k, ""))
            for k in dict.fromkeys([*x.fields, *y.fields])
            if x.fields.get(k) != y.fields.get(k)
        }
        keys_x = {_demo_key(d) for d in x.demos}
        keys_y = {_demo_key(d) for d in y.demos}
        diffs.append(
            PredictorDiff(
                name=name,
                instructions_diff=lines,
                fields_changed=fields,
                demos_before=len(x.demos),
                demos_after=len(y.demos),
                demos_added=[d for d in y.demos if _demo_key(d) not in keys_x],
                demos_removed=[d for d in x.demos if _demo_key(d) not in keys_y],
            )
        )
    return ProgramDiff(a=a_label, b=b_label, predictors=diffs)


def _demo_key(demo: dict[str, Any]) -> str:
    return json.dumps(demo, sort_keys=True, default=str)


def demo_summary(demo: dict[str, Any], width: int = 160) -> str:
    """One line per demo: its fields, each shortened, so a diff stays readable."""
    parts = []
    for key, value in demo.items():
        if key in {"augmented", "traces"}:
            continue
        text = (
            value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        )
        text = " ".join(text.split())
        parts.append(f"{key}={text[:width]}{'...' if len(text) > width else ''}")
    return "; ".join(parts)


def render_diff(diff: ProgramDiff) -> str:
    """The diff as Markdown: what changed in each predictor's instructions and demos."""
    lines = [f"# Program diff: {diff.a} -> {diff.b}", ""]
    changed = diff.changed
    if not changed:
        lines.append("No instruction, field or demo changes.")
        return "\n".join(lines) + "\n"
    for p in changed:
        lines += [f"## {p.name}", ""]
        if p.instructions_diff:
            lines += ["Instructions:", "", "```diff", *p.instructions_diff, "```", ""]
        for field, (old, new) in p.fields_changed.items():
            lines.append(f"- field `{field}`: {old!r} -> {new!r}")
        if p.fields_changed:
            lines.append("")
        if p.demos_added or p.demos_removed:
            lines.append(f"Demos: {p.demos_before} -> {p.demos_after}")
            lines += [f"- added: {demo_summary(d)}" for d in p.demos_added]
            lines += [f"- removed: {demo_summary(d)}" for d in p.demos_removed]
            lines.append("")
    return "\n".join(lines) + "\n"


def program_state_of(settings: Settings, ref: str, store: Store | None = None) -> tuple[str, dict]:
    """A ref's version and state (for `programs show/diff`)."""
    loaded = resolve_program(settings, ref, store=store)
    return loaded.version, program_state(loaded.program)
