"""accountflow: B2B account research and outreach as DSPy programs.

The flat public API; `accountflow.signatures`, `.optimizers`, `.evals` and `.datasets` hold the
prompt contracts, optimizer recipes, evaluation suites and bundled data.
"""

from accountflow import _env  # noqa: F401  (must precede dspy/litellm/mlflow imports)
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
    AccountPipeline,
    ColleagueReferrer,
    PainPointAnalyst,
    Personalizer,
    Researcher,
)
from accountflow.orchestrator import Orchestrator
from accountflow.store import Store

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
