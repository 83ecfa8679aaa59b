"""Colleague reference: a message to one contact citing a colleague's real engagement."""

import dspy


class WriteColleagueReference(dspy.Signature):
    """You write the middle of a short email from the seller's sender to `contact`, whose
    colleague `referrer` recently contacted the seller about `topic`. The greeting ("Hi
    Sue,") and the signature are added for you: do not write them.

    Rules:
    - First sentence: their colleague (name and title from `referrer`) asked us about the
      topic, in the topic's own words.
    - Then one or two sentences on why it may matter to the contact's role at the company,
      naming the company exactly as written in `account`.
    - End with a simple question inviting a short call.
    - Body at most 90 words; subject at most 60 characters. No placeholders or brackets.
    - Mention only this engagement: no other companies, tools, meetings, people or numbers.
    - If `feedback` is not empty, it lists what was wrong with your previous answer: fix it.
    """

    seller: str = dspy.InputField(desc="who is selling what; the tone to use")
    account: str = dspy.InputField(desc="the company's own fields, one per line")
    contact: str = dspy.InputField(desc="the person to write to")
    referrer: str = dspy.InputField(desc="the colleague who really engaged with the seller")
    topic: str = dspy.InputField(desc="what the colleague asked about")
    feedback: str = dspy.InputField(desc="problems to fix from a previous attempt, or empty")
    subject: str = dspy.OutputField(desc="email subject, at most 60 characters")
    body: str = dspy.OutputField(desc="the email's middle: no greeting, no signature")
