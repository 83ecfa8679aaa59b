"""DSPy Signature classes: the prompt contracts of each step.

Their docstrings are the instructions the model sees; optimizers rewrite them, so keep the
product and the seller out of them (those arrive as inputs).
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
