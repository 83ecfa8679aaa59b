"""DSPy Signature classes: the prompt contracts of each step.

Their docstrings are the instructions the model sees; optimizers rewrite them, so keep the
product and the seller out of them (those arrive as inputs). In the analysis, the seller (the
same for every account) is the first input, so the embedded model reuses it from a warm KV cache
(`lm/local.py`); the writing steps keep their original order (moved first there, the 0.5B model
overran channel length limits more often in eval smoke).
"""

from accountflow.signatures.analysis import AnalyzeAccount
from accountflow.signatures.campaign import ClassifyReply as ClassifyReply
from accountflow.signatures.colleague import WriteColleagueReference
from accountflow.signatures.outreach import WriteChannelMessage, WriteEmail
from accountflow.signatures.research import ResearchCompany

__all__ = [
    "AnalyzeAccount",
    "ResearchCompany",
    "WriteChannelMessage",
    "WriteColleagueReference",
    "WriteEmail",
]
