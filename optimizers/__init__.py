"""Optimizer recipes and the MLflow-tracked runner: `accountflow optimize` and its Python API.

```python
from accountflow.config import Settings
from accountflow.optimizers import OptimizeRequest, get_recipe, optimize

settings = Settings.load(lm="fake")
recipe = get_recipe("bootstrap").with_overrides(train_limit=8, dev_limit=4)
result = optimize(settings, OptimizeRequest(target="analysis", recipe=recipe, lm=settings.lm))
print(result.version, result.dev_score_before, result.dev_score_after, result.mlflow_run_id)
```
"""

from typing import TYPE_CHECKING

from accountflow._lazy import lazy_getattr

if TYPE_CHECKING:
    from accountflow.optimizers.recipes import (
        FAMILIES,
        RECIPES,
        Estimate,
        Recipe,
        estimate,
        get_recipe,
        load_recipe,
    )
    from accountflow.optimizers.runner import (
        OptimizeError,
        OptimizeRequest,
        OptimizeResult,
        execute,
        optimize,
        prepare,
    )

# resolved on first use, so `accountflow --help` does not import DSPy or MLflow (PEP 562)
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ["FAMILIES", "RECIPES", "Estimate", "Recipe", "estimate", "get_recipe", "load_recipe"],
        "accountflow.optimizers.recipes",
    ),
    **dict.fromkeys(
        ["OptimizeError", "OptimizeRequest", "OptimizeResult", "execute", "optimize", "prepare"],
        "accountflow.optimizers.runner",
    ),
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "FAMILIES",
    "RECIPES",
    "Estimate",
    "OptimizeError",
    "OptimizeRequest",
    "OptimizeResult",
    "Recipe",
    "estimate",
    "execute",
    "get_recipe",
    "load_recipe",
    "optimize",
    "prepare",
]
