"""Aging of receivables, and days sales outstanding.

Buckets are by days past the due date: "0-30", "31-60", "61-90" and "90+"
(91 days and more). An invoice not yet due counts in "0-30", with those up to
30 days overdue: the issue asks for exactly these four buckets. Many finance
teams keep a separate "current" bucket for what is not yet due; it would be a
fifth key in front, splitting "0-30", not a change to the others.

DSO = receivables / credit sales of the period * days in the period, rounded
half-up to one decimal; None when there were no credit sales (or only credit
notes), since the ratio then says nothing.

Plain Python: no nameko, no database, no I/O.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext
from typing import Iterable

from services.finance.domain import OPEN_STATUSES, OpenInvoice
from services.finance.money import EXACT, ZERO, round_half_up, round_money
from shared.errors import Invalid

AGING_BUCKETS = ("0-30", "31-60", "61-90", "90+")


def aging_bucket(days_overdue: int) -> str:
    """The bucket of an invoice so many days past due (0 or less: not yet due, "0-30")."""
    if days_overdue <= 30:
        return "0-30"
    if days_overdue <= 60:
        return "31-60"
    return "61-90" if days_overdue <= 90 else "90+"


def aging_buckets(open_invoices: Iterable[OpenInvoice], as_of: date) -> dict[str, Decimal]:
    """The open amounts on ``as_of`` of the issued and partially paid invoices summed per
    bucket, every bucket present (0 when empty).
    Invalid for invoices in more than one currency: convert to the company currency first."""
    invoices = [invoice for invoice in open_invoices if invoice.status in OPEN_STATUSES]
    currencies = sorted({invoice.currency for invoice in invoices})
    if len(currencies) > 1:
        raise Invalid(f"aging adds up one currency, these are in {', '.join(currencies)}",
                      errors={"open_invoices": "all in one currency"})
    buckets = dict.fromkeys(AGING_BUCKETS, round_money(ZERO, currencies[0]) if currencies else ZERO)
    for invoice in invoices:
        buckets[aging_bucket(invoice.days_overdue(as_of))] += invoice.open_amount
    return buckets


def days_sales_outstanding(receivables: Decimal, credit_sales: Decimal, days_in_period: int) -> Decimal | None:
    """receivables / credit_sales * days_in_period, half-up to one decimal; None when
    credit sales are 0 or less. Invalid unless the period has at least one day."""
    if isinstance(days_in_period, bool) or not isinstance(days_in_period, int) or days_in_period < 1:
        raise Invalid("a period has at least one day", errors={"days_in_period": "a whole number above 0"})
    if credit_sales <= 0:
        return None
    with localcontext(EXACT):
        return round_half_up(receivables * days_in_period / credit_sales, 1)
