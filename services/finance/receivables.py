"""The receivable plan of a signed contract, and what its termination cancels.

The plan has one instalment per entry of the contract's billing schedule (as
``sales.contract_signed`` carries it), in the contract's currency. Sales
computes the schedule in cents; a currency with fewer minor units (JPY) cannot
be invoiced in cents, so each instalment is the running total rounded half-up
to the currency's minor unit, less the rounded running total before it. The
instalments therefore add up exactly to the contract total (rounded to the
minor unit), and a schedule already in the currency's unit is kept unchanged.
An entry that rounds to nothing is dropped; its share is in a neighbour.

Termination: an instalment already invoiced stays (it is settled by payment or
credit note). A planned one, not yet invoiced, is cancelled when it falls due
after the termination date. Planned ones due on or before that date stay and
are invoiced as usual: the termination date becomes the contract's end date
(sales moves ``end_date`` to it) and may lie weeks ahead after a notice period;
what falls due within the contract's term is still owed.

Plain Python: no nameko, no database, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Iterable, Mapping, Sequence

from services.finance.money import ZERO, check_currency, number_error, round_money
from shared.bounds import check_dates
from shared.errors import Invalid

MAX_INSTALMENTS = 1200      # a hundred years, monthly, as sales allows
SCHEDULE_PLACES = 6


class InstalmentStatus(str, Enum):
    PLANNED = "planned"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Instalment:
    sequence: int           # 1, 2, ... in due-date order
    due_date: date
    amount: Decimal
    status: InstalmentStatus = InstalmentStatus.PLANNED


def _entry(index: int, raw: Any, errors: dict[str, str]) -> tuple[date, Decimal] | None:
    path = f"billing_schedule.{index}"
    try:
        due = raw["due_date"] if isinstance(raw["due_date"], date) else date.fromisoformat(raw["due_date"])
        amount = raw["amount"] if isinstance(raw["amount"], (Decimal, float, int)) else Decimal(raw["amount"])
    except (KeyError, TypeError, ValueError, InvalidOperation):
        errors[path] = "needs due_date (YYYY-MM-DD) and amount (a decimal string)"
        return None
    error = number_error(amount, SCHEDULE_PLACES) or (None if amount > 0 else "must be more than 0")
    if error:
        errors[f"{path}.amount"] = error
        return None
    try:
        check_dates(due_date=due)
    except Invalid as exc:
        errors[f"{path}.due_date"] = exc.errors["due_date"]
        return None
    return due, Decimal(amount)


def receivable_plan(billing_schedule: Sequence[Mapping], currency: str, total: Decimal) -> list[Instalment]:
    """The instalments to invoice for a contract of ``total`` in ``currency``, from its
    billing schedule ([{due_date, amount}], due dates rising). Invalid, naming
    ``billing_schedule.<n>...``, for a malformed, empty or too long schedule, or one
    that does not add up to the total. The instalments add up to the total rounded
    to the currency's minor unit, exactly."""
    check_currency(currency)
    error = number_error(total, SCHEDULE_PLACES) or (None if total > 0 else "must be more than 0")
    if error:
        raise Invalid(f"the contract total is not valid: {error}", errors={"total": error})
    if not billing_schedule or len(billing_schedule) > MAX_INSTALMENTS:
        raise Invalid(f"a billing schedule has 1 to {MAX_INSTALMENTS} instalments",
                      errors={"billing_schedule": f"1 to {MAX_INSTALMENTS} instalments"})
    errors: dict[str, str] = {}
    entries = []
    for index, raw in enumerate(billing_schedule):
        entry = _entry(index, raw, errors)
        if entry and entries and entry[0] <= entries[-1][0]:
            errors[f"billing_schedule.{index}.due_date"] = "after the previous instalment"
        if entry:
            entries.append(entry)
    if errors:
        raise Invalid("the billing schedule is not valid", errors=errors)
    scheduled = sum((amount for _, amount in entries), ZERO)
    if scheduled != total:
        raise Invalid(f"the billing schedule adds up to {scheduled}, the contract total is {total}",
                      errors={"billing_schedule": f"must add up to {total}"})
    plan: list[Instalment] = []
    running = planned = ZERO
    for due, amount in entries:
        running += amount
        upto = round_money(running, currency)
        if upto > planned:
            plan.append(Instalment(len(plan) + 1, due, upto - planned))
        planned = upto
    return plan


def instalments_to_cancel(instalments: Iterable[Instalment], terminated_on: date) -> list[Instalment]:
    """The planned (not yet invoiced) instalments that fall due after ``terminated_on``,
    marked cancelled; invoiced ones and those due on or before that date are kept."""
    return [replace(i, status=InstalmentStatus.CANCELLED) for i in instalments
            if i.status is InstalmentStatus.PLANNED and i.due_date > terminated_on]
