"""Account-based campaigns: multi-contact prioritization, channel escalation, conflict detection
with auto-pause, scheduling and colleague references, persisted in DuckDB.

Names are imported on first use (PEP 562) so that `accountflow.campaign.cli` can be registered
in the CLI without importing the engine, DSPy or DuckDB.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "CampaignEngine": "engine",
    "CampaignConfig": "config",
    "load_config": "config",
    "extract_contacts": "rules",
    "prioritize": "rules",
    "title_score": "rules",
    "available_channels": "rules",
    "select_channel": "rules",
    "select_contact": "rules",
    "to_lead": "rules",
    "next_touch_due": "schedule",
    "find_conflicts": "responses",
    "ReplyClassifier": "replies",
    "RecordingSender": "senders",
    "SMTPSender": "senders",
    "Sender": "senders",
    "Delivery": "senders",
    "CampaignContact": "models",
    "CampaignSnapshot": "models",
    "CampaignState": "models",
    "CampaignStateError": "models",
    "CampaignStatus": "models",
    "Conflict": "models",
    "ConflictReport": "models",
    "ConflictType": "models",
    "ContactRole": "models",
    "DeliveryStatus": "models",
    "Lead": "models",
    "MessageKind": "models",
    "OutboxEntry": "models",
    "ResponseKind": "models",
    "ResponseResult": "models",
    "Sentiment": "models",
    "StartResult": "models",
    "StepAction": "models",
    "StepResult": "models",
    "Touch": "models",
}

__all__ = [
    "CampaignConfig",
    "CampaignContact",
    "CampaignEngine",
    "CampaignSnapshot",
    "CampaignState",
    "CampaignStateError",
    "CampaignStatus",
    "Conflict",
    "ConflictReport",
    "ConflictType",
    "ContactRole",
    "Delivery",
    "DeliveryStatus",
    "Lead",
    "MessageKind",
    "OutboxEntry",
    "RecordingSender",
    "ReplyClassifier",
    "ResponseKind",
    "ResponseResult",
    "SMTPSender",
    "Sender",
    "Sentiment",
    "StartResult",
    "StepAction",
    "StepResult",
    "Touch",
    "available_channels",
    "extract_contacts",
    "find_conflicts",
    "load_config",
    "next_touch_due",
    "prioritize",
    "select_channel",
    "select_contact",
    "title_score",
    "to_lead",
]

if TYPE_CHECKING:
    from accountflow.campaign.config import CampaignConfig, load_config
    from accountflow.campaign.engine import CampaignEngine
    from accountflow.campaign.models import (
        CampaignContact,
        CampaignSnapshot,
        CampaignState,
        CampaignStateError,
        CampaignStatus,
        Conflict,
        ConflictReport,
        ConflictType,
        ContactRole,
        DeliveryStatus,
        Lead,
        MessageKind,
        OutboxEntry,
        ResponseKind,
        ResponseResult,
        Sentiment,
        StartResult,
        StepAction,
        StepResult,
        Touch,
    )
    from accountflow.campaign.replies import ReplyClassifier
    from accountflow.campaign.responses import find_conflicts
    from accountflow.campaign.rules import (
        available_channels,
        extract_contacts,
        prioritize,
        select_channel,
        select_contact,
        title_score,
        to_lead,
    )
    from accountflow.campaign.schedule import next_touch_due
    from accountflow.campaign.senders import Delivery, RecordingSender, Sender, SMTPSender


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'accountflow.campaign' has no attribute {name!r}")
    value = getattr(import_module(f"accountflow.campaign.{module}"), name)
    globals()[name] = value
    return value
