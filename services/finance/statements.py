"""A customer's statement of account for a period, in one currency.

Invoices and refunds raise what the customer owes; payments and credit notes
lower it. A positive balance is owed by the customer, a negative one is their
credit. The opening balance is everything before the period; the lines are the
period's entries in date order, each with the balance after it; the closing
balance is the last of those (the opening one when the period is quiet).
Entries of the same day come invoices first, then credit notes, payments and
refunds, then by reference, so the same records always give the same statement.

Plain Python: no nameko, no database, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Iterable

from services.finance.money import ZERO, round_money
from shared.errors import Invalid


class EntryKind(str, Enum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    REFUND = "refund"


_SIGN = {EntryKind.INVOICE: 1, EntryKind.REFUND: 1, EntryKind.PAYMENT: -1, EntryKind.CREDIT_NOTE: -1}
_SAME_DAY_ORDER = {kind: order for order, kind in enumerate(EntryKind)}


@dataclass(frozen=True)
class StatementEntry:
    on: date
    kind: EntryKind
    reference: str          # the invoice, credit note, payment or refund number
    amount: Decimal         # above 0; the kind says which way it moves the balance

    @property
    def change(self) -> Decimal:
        return self.amount * _SIGN[self.kind]


@dataclass(frozen=True)
class StatementLine:
    entry: StatementEntry
    balance: Decimal        # after this entry


@dataclass(frozen=True)
class Statement:
    period_start: date
    period_end: date
    opening_balance: Decimal
    lines: tuple[StatementLine, ...]
    closing_balance: Decimal


def account_statement(entries: Iterable[StatementEntry], period_start: date, period_end: date,
                      currency: str) -> Statement:
    """The statement from ``period_start`` to ``period_end``, both included; entries after
    the period are left out. Invalid for a period that ends before it starts or an
    entry whose amount is not above 0 (a sign error would flip the balance silently)."""
    if period_end < period_start:
        raise Invalid("a statement period cannot end before it starts", errors={"period_end": "before period_start"})
    entries = list(entries)
    bad = {f"entries.{i}.amount": "must be more than 0" for i, e in enumerate(entries) if not e.amount > 0}
    if bad:
        raise Invalid("every statement entry has an amount above 0", errors=bad)
    opening = sum((e.change for e in entries if e.on < period_start), round_money(ZERO, currency))
    in_period = sorted((e for e in entries if period_start <= e.on <= period_end),
                       key=lambda e: (e.on, _SAME_DAY_ORDER[e.kind], e.reference))
    balance = opening
    lines = []
    for entry in in_period:
        balance += entry.change
        lines.append(StatementLine(entry, balance))
    return Statement(period_start, period_end, opening, tuple(lines), balance)
