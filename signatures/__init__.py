"""DSPy Signature classes: the prompt contracts of each step.

Their docstrings are the instructions the model sees; optimizers rewrite them, so keep the
product and the seller out of them (those arrive as inputs). The seller, the same for every
account, is the first input: the prompt's stable part then ends as late as possible, and the
embedded model reuses all of it from a warm KV cache (`lm/local.py`). Short constraints the model
must obey (a channel's length limit, feedback) stay last, next to the answer.
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
