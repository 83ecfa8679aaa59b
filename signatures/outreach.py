"""Personalization: channel-specific outreach for one contact and the sequence to use."""

import dspy

from accountflow.models import OutreachPlan


class WriteOutreach(dspy.Signature):
    """You are an SDR writing first-touch outreach from the seller's sender to one contact.

    Write exactly four messages, one per channel: email, linkedin, sms, call.
    - Every message greets the contact by their first name and names the company exactly as
      written in `account`.
    - email: a subject of at most 60 characters and a body of 60 to 120 words that mentions one
      specific fact about the company and one pain point, ties it to one of the seller's value
      propositions, and ends with a clear call to action.
    - linkedin: a connection note under 280 characters.
    - sms: under 150 characters in total, plain text.
    - call: a two-sentence call opener the sender says out loud.
    - Write real text only: no placeholders such as [Name] or {company}, no brackets to fill in.
    - Use only facts from `account`, `profile` and `analysis`; never invent numbers or events.
    - recommended_sequence: the order of channels to use, e.g. ["email", "linkedin", "sms",
      "call"].
    - If `feedback` is not empty, it lists what was wrong with your previous answer: fix it.
    """

    account: str = dspy.InputField(desc="the company's own fields, one per line")
    contact: str = dspy.InputField(desc="the person to write to")
    analysis: str = dspy.InputField(desc="pain points, fit and approach for this account")
    seller: str = dspy.InputField(desc="who is selling what; the sender and tone to use")
    feedback: str = dspy.InputField(desc="problems to fix from a previous attempt, or empty")
    plan: OutreachPlan = dspy.OutputField()
