"""accountflow: B2B account research and outreach as DSPy programs.

The flat public API; `accountflow.signatures`, `.optimizers`, `.evals` and `.datasets` hold the
prompt contracts, optimizer recipes, evaluation suites and bundled data.
"""

from typing import TYPE_CHECKING

from accountflow import _env  # noqa: F401  (must precede dspy/litellm/mlflow imports)
from accountflow._lazy import lazy_getattr

if TYPE_CHECKING:
    from accountflow.config import Settings, load_seller
    from accountflow.errors import AccountflowError, ConfigError, InputError, StoreInUseError
    from accountflow.io import LoadResult, Rejection, load_accounts
    from accountflow.lm import build_lm, configure_lm
    from accountflow.models import (
        Account,
        AccountAnalysis,
        AccountResult,
        Channel,
        ColleagueMessage,
        CompanyProfile,
        Contact,
        Inquiry,
        OutreachMessage,
        OutreachPlan,
        PainPoint,
        RunStatus,
        SellerProfile,
        StepStatus,
    )
    from accountflow.modules import (
        ColleagueReferrer,
        PainPointAnalyst,
        Personalizer,
        Researcher,
    )
    from accountflow.orchestrator import Orchestrator
    from accountflow.pipeline import AccountPipeline
    from accountflow.store import Store

# The flat API is resolved on first use (PEP 562): `accountflow --help` and other light entry
# points must not pay for importing DSPy and DuckDB.
_LAZY: dict[str, str] = {
    "Account": "accountflow.models",
    "AccountAnalysis": "accountflow.models",
    "AccountPipeline": "accountflow.pipeline",
    "AccountResult": "accountflow.models",
    "AccountflowError": "accountflow.errors",
    "Channel": "accountflow.models",
    "ColleagueMessage": "accountflow.models",
    "ColleagueReferrer": "accountflow.modules",
    "CompanyProfile": "accountflow.models",
    "ConfigError": "accountflow.errors",
    "Contact": "accountflow.models",
    "InputError": "accountflow.errors",
    "Inquiry": "accountflow.models",
    "LoadResult": "accountflow.io",
    "Orchestrator": "accountflow.orchestrator",
    "OutreachMessage": "accountflow.models",
    "OutreachPlan": "accountflow.models",
    "PainPoint": "accountflow.models",
    "PainPointAnalyst": "accountflow.modules",
    "Personalizer": "accountflow.modules",
    "Rejection": "accountflow.io",
    "Researcher": "accountflow.modules",
    "RunStatus": "accountflow.models",
    "SellerProfile": "accountflow.models",
    "Settings": "accountflow.config",
    "StepStatus": "accountflow.models",
    "Store": "accountflow.store",
    "StoreInUseError": "accountflow.errors",
    "build_lm": "accountflow.lm",
    "configure_lm": "accountflow.lm",
    "load_accounts": "accountflow.io",
    "load_seller": "accountflow.config",
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__version__ = "0.1.0"

__all__ = [
    "Account",
    "AccountAnalysis",
    "AccountPipeline",
    "AccountResult",
    "AccountflowError",
    "Channel",
    "ColleagueMessage",
    "ColleagueReferrer",
    "CompanyProfile",
    "ConfigError",
    "Contact",
    "InputError",
    "Inquiry",
    "LoadResult",
    "Orchestrator",
    "OutreachMessage",
    "OutreachPlan",
    "PainPoint",
    "PainPointAnalyst",
    "Personalizer",
    "Rejection",
    "Researcher",
    "RunStatus",
    "SellerProfile",
    "Settings",
    "StepStatus",
    "Store",
    "StoreInUseError",
    "build_lm",
    "configure_lm",
    "load_accounts",
    "load_seller",
]
