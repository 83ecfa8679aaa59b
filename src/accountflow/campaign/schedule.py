"""When touches are due: intervals, response time, business days. Pure time arithmetic.

All times are naive UTC, like the Store's: an injected clock may return aware datetimes, which
are converted once at the edge (`to_utc_naive`) so comparisons never mix the two.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from accountflow.campaign.config import CampaignConfig

Clock = Callable[[], datetime]


def to_utc_naive(value: datetime) -> datetime:
    """Aware -> the same instant in UTC without tzinfo; naive values are taken as UTC."""
    if value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def is_weekend(value: datetime) -> bool:
    return value.weekday() >= 5


def roll_to_business_day(value: datetime) -> datetime:
    """A weekend time moves to the same time on Monday."""
    while is_weekend(value):
        value += timedelta(days=1)
    return value


def add_business_days(start: datetime, days: int) -> datetime:
    """`days` later counting Monday to Friday only (Friday + 1 is Monday)."""
    value, left = start, days
    while left > 0:
        value += timedelta(days=1)
        if not is_weekend(value):
            left -= 1
    return value


def first_touch_due(now: datetime, config: CampaignConfig) -> datetime:
    return roll_to_business_day(now) if config.business_days_only else now


def next_touch_due(last_touch_at: datetime, touches_done: int, config: CampaignConfig) -> datetime:
    """After touch k (counting from 0, so k = touches_done - 1) the next is due
    `touchpoint_intervals[min(k, len - 1)]` days later, and never before the contact has had
    `response_timeout` hours to answer; with `business_days_only` the days are business days
    and the result never falls on a weekend."""
    intervals = config.touchpoint_intervals
    days = intervals[min(max(touches_done - 1, 0), len(intervals) - 1)]
    if config.business_days_only:
        due = add_business_days(last_touch_at, days)
    else:
        due = last_touch_at + timedelta(days=days)
    due = max(due, last_touch_at + timedelta(hours=config.response_timeout))
    return roll_to_business_day(due) if config.business_days_only else due
