"""Billing schedules of contracts: one-off, monthly, quarterly, or explicit instalments.

Every schedule adds up to the contract total exactly; the rounding remainder
of an even split goes on the last instalment.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Mapping, Sequence

from shared.bounds import check_dates
from shared.errors import Invalid

CENT = Decimal("0.01")
MAX_INSTALMENTS = 1200  # a hundred years, monthly


class Frequency(str, Enum):
    ONE_OFF = "one_off"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    INSTALMENTS = "instalments"


@dataclass(frozen=True)
class Instalment:
    due_date: date
    amount: Decimal


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (Jan 31 -> Feb 28)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _split(total: Decimal, parts: int) -> list[Decimal]:
    each = (total / parts).quantize(CENT, rounding="ROUND_DOWN")
    return [each] * (parts - 1) + [total - each * (parts - 1)]


def _periodic(total: Decimal, start: date, end: date | None, months: int) -> list[Instalment]:
    if end is None:
        raise Invalid("a periodic schedule needs the contract's end date", errors={"end_date": "required"})
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_INSTALMENTS * months:
        raise Invalid(f"a schedule has at most {MAX_INSTALMENTS} instalments",
                      errors={"end_date": "too far from start_date for this billing frequency"})
    dates = []
    n = 0
    while (due := add_months(start, n * months)) <= end:
        dates.append(due)
        n += 1
    return [Instalment(d, a) for d, a in zip(dates, _split(total, len(dates)))]


def _explicit(total: Decimal, start: date, end: date | None, raw: Sequence[Mapping] | None) -> list[Instalment]:
    errors: dict[str, str] = {}
    plan: list[Instalment] = []
    if len(raw or ()) > MAX_INSTALMENTS:
        raise Invalid(f"a schedule has at most {MAX_INSTALMENTS} instalments",
                      errors={"instalments": f"at most {MAX_INSTALMENTS}"})
    for index, item in enumerate(raw or ()):
        try:
            due = item["due_date"] if isinstance(item["due_date"], date) else date.fromisoformat(item["due_date"])
            amount = Decimal(str(item["amount"]))
        except (KeyError, ValueError, InvalidOperation, TypeError):
            errors[f"instalments.{index}"] = "needs due_date (YYYY-MM-DD) and amount"
            continue
        if not amount.is_finite():
            errors[f"instalments.{index}.amount"] = "not a number"
            continue
        if isinstance(item["amount"], float):
            errors[f"instalments.{index}.amount"] = "a decimal string, not a float"
        if amount <= 0:
            errors[f"instalments.{index}.amount"] = "must be more than 0"
        if due < start or (end is not None and due > end):
            errors[f"instalments.{index}.due_date"] = "within the contract's dates"
        if plan and due <= plan[-1].due_date:
            errors[f"instalments.{index}.due_date"] = "after the previous instalment"
        plan.append(Instalment(due, amount))
    if not plan and not errors:
        errors["instalments"] = "at least one instalment"
    if errors:
        raise Invalid("the instalments are not valid", errors=errors)
    added = sum((i.amount for i in plan), Decimal("0"))
    if added != total:
        raise Invalid(f"instalments add up to {added}, the contract total is {total}",
                      errors={"instalments": f"must add up to {total}"})
    return plan


def billing_schedule(frequency: Frequency, total: Decimal, currency: str, start: date, end: date | None,
                     instalments: Sequence[Mapping] | None = None) -> list[Instalment]:
    """The instalments of a contract; Invalid for dates outside the accepted years
    (so that no due date computed from them can overflow) or an impossible plan."""
    check_dates(start_date=start, end_date=end)
    total = Decimal(total).quantize(CENT)
    if frequency is Frequency.ONE_OFF:
        return [Instalment(start, total)]
    if frequency is Frequency.MONTHLY:
        return _periodic(total, start, end, 1)
    if frequency is Frequency.QUARTERLY:
        return _periodic(total, start, end, 3)
    return _explicit(total, start, end, instalments)
