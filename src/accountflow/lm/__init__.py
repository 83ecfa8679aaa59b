"""Model strings -> `dspy.LM`: remote providers through litellm, the embedded model, the fake.

The package names its API lazily (PEP 562): `accountflow.lm.ref` is pure standard library and
is imported by config and resilience without loading DSPy; `build_lm` and friends load it on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accountflow._lazy import lazy_getattr

if TYPE_CHECKING:
    from accountflow.lm.build import (
        build_lm,
        check_credentials,
        configure_lm,
        describe_backend,
        fake_lm,
        use_cache_dir,
    )
    from accountflow.lm.fake import FakeEngine
    from accountflow.lm.ref import Backend, ModelRef, key_env
    from accountflow.lm.usage import CallUsage, TrackedLM, Usage, collect_usage, model_ref

_LAZY: dict[str, str] = {
    "Backend": "accountflow.lm.ref",
    "CallUsage": "accountflow.lm.usage",
    "FakeEngine": "accountflow.lm.fake",
    "ModelRef": "accountflow.lm.ref",
    "TrackedLM": "accountflow.lm.usage",
    "Usage": "accountflow.lm.usage",
    "build_lm": "accountflow.lm.build",
    "check_credentials": "accountflow.lm.build",
    "collect_usage": "accountflow.lm.usage",
    "configure_lm": "accountflow.lm.build",
    "describe_backend": "accountflow.lm.build",
    "fake_lm": "accountflow.lm.build",
    "key_env": "accountflow.lm.ref",
    "model_ref": "accountflow.lm.usage",
    "use_cache_dir": "accountflow.lm.build",
}

__getattr__ = lazy_getattr(__name__, _LAZY, globals())

__all__ = [
    "Backend",
    "CallUsage",
    "FakeEngine",
    "ModelRef",
    "TrackedLM",
    "Usage",
    "build_lm",
    "check_credentials",
    "collect_usage",
    "configure_lm",
    "describe_backend",
    "fake_lm",
    "key_env",
    "model_ref",
    "use_cache_dir",
]
