"""Repeat-contact cadence: when each account should next be contacted.

A cadence rule is an extension point (entry point group ``crm.sales.cadence``,
chosen by ``SALES_CADENCE_RULE``); the built-in ``standard`` rule weighs
the competition level, the probability of a repeat purchase and the life
cycle of the products the account bought. Plain Python: no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

COMPETITION_LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class AccountFacts:
    """What a cadence rule may look at."""
    today: date
    competition_level: str
    repeat_purchase_probability: int
    last_contacted_on: date | None
    last_purchase_on: date | None
    shortest_product_life_cycle_days: int | None
    lifecycle: str


class CadenceRule(Protocol):
    name: str

    def next_contact_on(self, account: AccountFacts) -> date | None:
        """The date of the next contact, or None for no follow-up; pure and deterministic."""


@dataclass(frozen=True)
class StandardCadence:
    """Regular touches, more often under stronger competition and a likelier
    repeat purchase; and a touch ahead of the end of a bought product's life
    cycle, when that comes first and after the last contact.

    The regular interval is ``base_days[competition] * (1.5 - p/100)`` for a
    repeat-purchase probability ``p`` in percent, kept within ``bounds``;
    it runs from the last contact, else the last purchase, else today.
    Former customers get no follow-up.
    """

    name = "standard"
    base_days: dict = field(default_factory=lambda: {"low": 90, "medium": 60, "high": 30})
    bounds: tuple[int, int] = (7, 365)
    renewal_lead_days: int = 30

    def interval_days(self, competition_level: str, probability: int) -> int:
        base = self.base_days.get(competition_level, self.base_days["medium"])
        low, high = self.bounds
        return max(low, min(high, round(base * (1.5 - probability / 100))))

    def next_contact_on(self, account: AccountFacts) -> date | None:
        if account.lifecycle == "former":
            return None
        anchor = account.last_contacted_on or account.last_purchase_on or account.today
        touch = anchor + timedelta(days=self.interval_days(account.competition_level,
                                                           account.repeat_purchase_probability))
        life = account.shortest_product_life_cycle_days
        if life and account.last_purchase_on:
            lead = min(self.renewal_lead_days, life // 10)
            renewal = account.last_purchase_on + timedelta(days=life - lead)
            if renewal > (account.last_contacted_on or date.min):
                return min(touch, renewal)
        return touch
