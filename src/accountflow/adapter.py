"""DSPy's JSONAdapter with its per-signature work done once.

Profiling a cached replay showed most of each call's CPU in rebuilding the same system message
and the same JSON schema (pydantic schema generation) for a signature it had already seen; on a
batch of thousands of accounts that dominates. Both depend only on the signature (and on what
the LM supports), so they are memoized per signature class; optimizers that rewrite
instructions create new signature classes, which get their own entries.
"""

from __future__ import annotations

import copy
import threading
import weakref
from typing import Any

import dspy


class JSONAdapter(dspy.JSONAdapter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._system: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()
        self._formats: weakref.WeakKeyDictionary[type, dict[tuple[bool, bool], Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._memo_lock = threading.Lock()

    def format_system_message(self, signature: type[dspy.Signature]) -> str:
        with self._memo_lock:
            cached = self._system.get(signature)
        if cached is None:
            cached = super().format_system_message(signature)
            with self._memo_lock:
                self._system[signature] = cached
        return cached

    def _prepare_response_format(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: type[dspy.Signature]
    ) -> None:
        key = ("response_format" in lm.supported_params, bool(lm.supports_response_schema))
        with self._memo_lock:
            per_signature = self._formats.get(signature)
            known = per_signature is not None and key in per_signature
            value = per_signature[key] if known and per_signature is not None else None
        if not known:
            probe: dict[str, Any] = {}
            super()._prepare_response_format(lm, probe, signature)
            value = probe.get("response_format")
            with self._memo_lock:
                self._formats.setdefault(signature, {})[key] = value
        if value is not None:
            lm_kwargs["response_format"] = copy.deepcopy(value)
