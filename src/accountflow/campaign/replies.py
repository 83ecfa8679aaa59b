"""The reply classifier: a DSPy module reading a contact's reply for conflicts and citations.

A model reads the text (an out-of-office notice is not a refusal; "please remove me" is an
unsubscribe even without the word), so detection improves with the model and can be optimized
like the other steps.
"""

from __future__ import annotations

import dspy

from accountflow.campaign.models import CampaignContact, Sentiment
from accountflow.signatures import ClassifyReply


class ReplyClassifier(dspy.Module):
    """Sentiment and topic of one reply; the topic is what a colleague reference may cite."""

    def __init__(self) -> None:
        super().__init__()
        self.predict = dspy.Predict(ClassifyReply)

    def forward(
        self, reply: str, contact: CampaignContact | None = None, our_message: str = ""
    ) -> dspy.Prediction:
        who = ""
        if contact is not None:
            who = contact.name + (f", {contact.title}" if contact.title else "")
        out = self.predict(reply=reply, contact=who, our_message=our_message)
        topic = " ".join(str(out.topic or "").split())
        return dspy.Prediction(sentiment=Sentiment(out.sentiment), topic=topic or None)
