"""Lead scoring: the extension point and the built-in rule-based score."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class LeadFacts:
    """What a scoring rule may look at."""
    source: str | None
    segment: str | None
    estimated_value: Decimal | None
    currency: str | None
    last_activity_at: datetime | None
    status: str


class ScoringRule(Protocol):
    name: str

    def score(self, lead: LeadFacts, now: datetime) -> int:
        """0..100; pure and deterministic."""


DEFAULT_SOURCE_WEIGHTS = {
    "referral": 30, "existing_customer": 30, "partner": 25, "web_form": 20, "event": 20,
    "analyst": 15, "management": 15, "import": 10, "rented_list": 5, "other": 5,
}
DEFAULT_SEGMENT_WEIGHTS = {"enterprise": 25, "mid_market": 15, "smb": 10}
# (minimum estimated value, points), highest first; currencies are not converted.
DEFAULT_VALUE_BANDS = ((Decimal(100000), 30), (Decimal(20000), 20), (Decimal(5000), 10))


@dataclass(frozen=True)
class RuleBasedScore:
    """Points for source, segment, estimated value and recent activity, clamped to 0..100."""

    name = "rule_based"
    source_weights: dict = field(default_factory=lambda: dict(DEFAULT_SOURCE_WEIGHTS))
    segment_weights: dict = field(default_factory=lambda: dict(DEFAULT_SEGMENT_WEIGHTS))
    value_bands: tuple = DEFAULT_VALUE_BANDS
    recent_days_points: tuple = ((7, 15), (30, 8))

    def score(self, lead: LeadFacts, now: datetime) -> int:
        points = self.source_weights.get(lead.source or "", 0)
        points += self.segment_weights.get((lead.segment or "").lower(), 0)
        if lead.estimated_value is not None:
            points += next((p for minimum, p in self.value_bands if lead.estimated_value >= minimum), 0)
        if lead.last_activity_at is not None:
            age = now - lead.last_activity_at
            points += next((p for days, p in self.recent_days_points if age <= timedelta(days=days)), 0)
        return max(0, min(100, points))
