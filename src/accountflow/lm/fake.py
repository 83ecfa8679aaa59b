"""The `fake` backend: a deterministic, schema-aware DSPy engine for tests, dry runs and benchmarks.

It reads the JSON schema that DSPy's JSONAdapter sends and the `[[ ## field ## ]]` inputs of the
prompt, and answers with schema-valid JSON built from those inputs: messages name the contact and
the company, stay inside the channel length limits, and say they are fake. It never calls out.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from dspy.lm15 import (
    Message,
    Request,
    Response,
    ServerError,
    TextPart,
    Usage,
    response_to_events,
)

from accountflow.rules import first_name

FAKE_MARK = "(fake)"
_INPUT_RE = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\Z)", re.S)
_LINE_RE = r"(?im)^\s*{key}\s*:\s*(.+?)\s*$"

Responder = Callable[[Request, dict[str, Any]], "dict[str, Any] | str | None"]


def _line(text: str, key: str) -> str | None:
    m = re.search(_LINE_RE.format(key=re.escape(key)), text)
    return m.group(1).strip() if m else None


def _digest(*parts: object) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


class _Context:
    """What the fake knows about the call: the parsed inputs and a few named facts."""

    def __init__(self, inputs: dict[str, str]) -> None:
        self.inputs = inputs
        text = "\n".join(inputs.values())
        self.company = _line(inputs.get("account", text), "company_name") or "your company"
        contact = inputs.get("contact") or inputs.get("target_contact") or ""
        self.name = _line(contact, "name") or "there"
        self.first = first_name(self.name) if self.name.split() else self.name
        self.referrer = _line(inputs.get("referrer", ""), "name") or ""
        self.topic = (inputs.get("topic") or "").strip()
        product = re.search(r"product: ([^\n]+)", inputs.get("seller", ""))
        self.product = product.group(1).strip() if product else "our product"
        self.seed = _digest(self.company, self.name, self.referrer, sorted(inputs))
        description = _line(inputs.get("account", ""), "description") or ""
        first = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0].strip()
        self.quote = first or f"company_name: {self.company}"
        # sentences of the research step's pages and documents ("[n] URL" headers left out):
        # the fake quotes them as key facts, as a model that read the pages would
        sources = inputs.get("sources") or ""
        self.source_sentences = [
            s.strip()
            for line in sources.splitlines()
            if line.strip() and not re.match(r"^\[\d+\] ", line)
            for s in re.split(r"(?<=[.!?])\s", line)
            if len(s.split()) >= 5
        ]


class FakeEngine:
    """Deterministic engine; `responder` lets a test replace or edit any answer."""

    supports_response_schema = True
    supported_params = frozenset({"response_format", "temperature", "max_tokens", "seed"})

    def __init__(
        self,
        latency_ms: float = 0.0,
        responder: Responder | None = None,
        fail_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.latency_ms = latency_ms
        self.responder = responder
        self.fail_rate = fail_rate
        self.calls = 0
        self.failures = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ engine protocol
    def complete(self, request: Request) -> Response:
        with self._lock:
            self.calls += 1
            fail = self.fail_rate > 0 and self._rng.random() < self.fail_rate
            self.failures += fail
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if fail:
            raise ServerError("injected fault (fake fail_rate)", status=503, provider="fake")
        system = (
            request.system
            if isinstance(request.system, str)
            else "".join(p.text for p in (request.system or []))
        )
        user = request.messages[-1].text or "" if request.messages else ""
        answer: Any = self.answer(system, user, request.config.response_format)
        if self.responder is not None:
            replaced = self.responder(request, answer)
            answer = answer if replaced is None else replaced
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        prompt_tokens = (len(system) + sum(len(m.text or "") for m in request.messages)) // 4
        return Response(
            id=None,
            model="fake",
            message=Message.assistant([TextPart(text)]),
            finish_reason="stop",
            usage=Usage(
                input_tokens=prompt_tokens,
                output_tokens=len(text) // 4 + 1,
                total_tokens=prompt_tokens + len(text) // 4 + 1,
            ),
        )

    def stream(self, request: Request) -> Iterator[Any]:
        return response_to_events(self.complete(request))

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ generation
    def answer(
        self, system: str, user: str, response_format: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The answer to a DSPy prompt (system text, last user message, the response format
        DSPy asked for); also what the tests' OpenAI-compatible stub server replies."""
        inputs = {k: v.strip() for k, v in _INPUT_RE.findall(user)}
        fmt = response_format or {}
        schema = None
        if fmt.get("type") == "json_schema":
            spec = fmt.get("json_schema", fmt)  # OpenAI wire format nests it one level down
            schema = spec.get("schema")
        return self.generate(schema, inputs, system)

    def generate(
        self, schema: dict[str, Any] | None, inputs: dict[str, str], system: str = ""
    ) -> dict[str, Any]:
        ctx = _Context(inputs)
        if schema is None:  # no schema sent: answer every output field named in the prompt
            names = re.findall(r"^\d+\. `(\w+)`", system.split("Your output fields are:")[-1], re.M)
            return {n: self._string(n, ctx, {}) for n in names}
        return self._value(schema, schema.get("$defs", {}), ctx, "", {})

    def _value(
        self,
        schema: dict[str, Any],
        defs: dict[str, Any],
        ctx: _Context,
        name: str,
        siblings: dict[str, Any],
    ) -> Any:
        if "$ref" in schema:
            return self._value(defs[schema["$ref"].split("/")[-1]], defs, ctx, name, siblings)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [s for s in schema[key] if s.get("type") != "null"]
                nullable = len(options) < len(schema[key])
                channel = siblings.get("channel")
                if nullable and name == "subject" and channel not in (None, "email"):
                    return None
                return self._value(options[0], defs, ctx, name, siblings) if options else None
        if "enum" in schema:
            values = schema["enum"]
            return values[_digest(ctx.seed, name) % len(values)]
        if "const" in schema:
            return schema["const"]
        kind = schema.get("type")
        if kind == "object":
            return self._object(schema, defs, ctx)
        if kind == "array":
            return self._array(schema, defs, ctx, name)
        if kind == "integer":
            lo = int(schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1))
            top = schema.get("maximum", schema.get("exclusiveMaximum", lo + 101) - 1)
            hi = int(top)
            if "minimum" not in schema and "exclusiveMinimum" not in schema:
                lo = min(0, hi - 100)
            return lo + _digest(ctx.seed, name) % (hi - lo + 1)
        if kind == "number":
            low, high = float(schema.get("minimum", 0.0)), float(schema.get("maximum", 1.0))
            return round(low + (high - low) * (_digest(ctx.seed, name) % 1000) / 1000, 3)
        if kind == "boolean":
            return False
        text = self._string(name, ctx, siblings)
        return text[: schema["maxLength"]] if "maxLength" in schema else text

    def _object(self, schema: dict[str, Any], defs: dict[str, Any], ctx: _Context) -> dict:
        props: dict[str, Any] = schema.get("properties", {})
        out: dict[str, Any] = {}
        # enums first so that strings can depend on them (a message's body on its channel)
        order = sorted(props, key=lambda k: 0 if "enum" in self._resolve(props[k], defs) else 1)
        for key in order:
            out[key] = self._value(props[key], defs, ctx, key, out)
        return {k: out[k] for k in props}

    def _array(
        self, schema: dict[str, Any], defs: dict[str, Any], ctx: _Context, name: str
    ) -> list:
        items = self._resolve(schema.get("items", {"type": "string"}), defs)
        if "enum" in items:  # e.g. a channel sequence: every value, in order
            return list(items["enum"])
        if "criterion" in items.get("properties", {}) and ctx.inputs.get("criteria"):
            # criterion judgments: one per listed criterion, quoting the account
            ids = [ln.split(":", 1)[0].strip() for ln in ctx.inputs["criteria"].splitlines()]
            ids = [i for i in ids if i][: int(schema.get("maxItems", len(ids)))]
            judged = []
            for cid in ids:
                item = self._object(items, defs, _with(ctx, cid))
                item["criterion"] = cid
                judged.append(item)
            return judged
        enum_prop = next(
            (k for k, v in items.get("properties", {}).items() if "enum" in self._resolve(v, defs)),
            None,
        )
        if enum_prop is not None:  # e.g. one message per channel
            values = self._resolve(items["properties"][enum_prop], defs)["enum"]
            result = []
            for value in values:
                item = self._object(items, defs, _with(ctx, value))
                item[enum_prop] = value
                if "subject" in item:
                    item["subject"] = self._string("subject", ctx, {}) if value == "email" else None
                if "body" in item:
                    item["body"] = self._string("body", ctx, {enum_prop: value})
                result.append(item)
            return result
        count = min(max(int(schema.get("minItems", 0)), 2), int(schema.get("maxItems", 2)))
        return [self._value(items, defs, _with(ctx, i), name, {}) for i in range(count)]

    @staticmethod
    def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = defs[schema["$ref"].split("/")[-1]]
        return schema

    def _string(self, name: str, ctx: _Context, siblings: dict[str, Any]) -> str:
        channel = siblings.get("channel") or ctx.inputs.get("channel")
        if name == "message":  # one channel's message (the channel arrives as an input)
            name = "body"
        if name == "subject":
            return f"{ctx.company}: a quick idea {FAKE_MARK}"[:80]
        if name == "body":
            hello = f"Hi {ctx.first},"
            if ctx.referrer:
                return (
                    f"{hello} your colleague {ctx.referrer} asked us about {ctx.topic}. "
                    f"Could {ctx.product} help {ctx.company} too? {FAKE_MARK}"
                )
            if channel == "sms":
                sms = f"{hello} {ctx.product} for {ctx.company}? Reply YES for a call. {FAKE_MARK}"
                return sms[:160]
            if channel == "call":
                return f"{hello} I'm calling about {ctx.company} and {ctx.product}. {FAKE_MARK}"
            if "Reviewer note:" in ctx.inputs.get("feedback", ""):  # a regenerated draft
                return (
                    f"{hello} after another look at {ctx.company}, I think {ctx.product} could "
                    f"help your team. Worth a short call next week? {FAKE_MARK}"
                )
            return (
                f"{hello} I looked at {ctx.company} and think {ctx.product} could help with "
                f"what your team is working on. Open to a short call next week? {FAKE_MARK}"
            )
        if name == "fact" and ctx.source_sentences:
            return ctx.source_sentences[ctx.seed % len(ctx.source_sentences)]
        if name in {"quote", "evidence"}:  # a span of the account text, as the rules ask
            return ctx.quote
        if name in {"summary", "fit_rationale", "description"}:
            return f"{FAKE_MARK} {name.replace('_', ' ')} for {ctx.company}"
        if name == "call_to_action":
            return "Open to a 15-minute call next week?"
        return f"{FAKE_MARK} {name.replace('_', ' ')} {ctx.seed % 97} for {ctx.company}"


def _with(ctx: _Context, salt: object) -> _Context:
    """A copy of the context whose generated values differ by `salt` (list items, channels)."""
    clone = _Context.__new__(_Context)
    clone.__dict__.update(ctx.__dict__)
    clone.seed = _digest(ctx.seed, salt)
    return clone


class AsyncFakeEngine:
    def __init__(self, sync: FakeEngine) -> None:
        self.sync = sync

    async def complete(self, request: Request) -> Response:
        return self.sync.complete(request)

    async def stream(self, request: Request) -> AsyncIterator[Any]:
        for event in self.sync.stream(request):
            yield event

    async def aclose(self) -> None:
        pass
