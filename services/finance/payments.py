"""Payments and refunds: how a payment settles a customer's open invoices, and
how much may be paid back.

A payment is allocated as the payer says, invoice by invoice, or, when they
say nothing, to the oldest open invoices first: by due date, then issue date,
then invoice number. Only invoices in the payment's currency take part. What
is left over becomes the customer's credit, in the payment's currency; the
allocations and the credit always add up to the payment exactly. Applying an
existing credit to invoices follows the same rules, with the credit as the
amount.

Plain Python: no nameko, no database, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

from services.finance.domain import OPEN_STATUSES, OpenInvoice, parse_invoice_number
from services.finance.money import ZERO, check_amount, check_currency, money_error
from shared.errors import Invalid


@dataclass(frozen=True)
class Allocation:
    invoice_id: str
    amount: Decimal


@dataclass(frozen=True)
class PaymentAllocation:
    allocations: tuple[Allocation, ...]
    credit: Decimal     # what no invoice took: the customer's credit

    @property
    def allocated(self) -> Decimal:
        return sum((a.amount for a in self.allocations), ZERO)


def oldest_first(invoices: Iterable[OpenInvoice]) -> list[OpenInvoice]:
    """By due date, then issue date, then invoice number (year and sequence, not text;
    the numbers are those :func:`~services.finance.domain.format_invoice_number` makes)."""
    def age(invoice: OpenInvoice):
        number = parse_invoice_number(invoice.number)
        return invoice.due_date, invoice.issue_date, number.year, number.seq, number.series, invoice.invoice_id
    return sorted(invoices, key=age)


def _explicit(amount: Decimal, currency: str, invoices: list[OpenInvoice],
              explicit: Mapping[str, Decimal]) -> PaymentAllocation:
    by_id = {invoice.invoice_id: invoice for invoice in invoices}
    errors: dict[str, str] = {}
    for invoice_id, part in explicit.items():
        invoice = by_id.get(invoice_id)
        error = money_error(part, currency)
        if invoice is None:
            error = "not an open invoice of this customer"
        elif invoice.status not in OPEN_STATUSES:
            error = f"a {invoice.status.value} invoice takes no payment"
        elif invoice.currency != currency:
            error = f"the invoice is in {invoice.currency}, the payment in {currency}"
        elif error is None and part > invoice.open_amount:
            error = f"at most the invoice's open amount {invoice.open_amount}"
        if error:
            errors[f"allocations.{invoice_id}"] = error
    if errors:
        raise Invalid("some allocations are not valid", errors=errors)
    allocated = sum(explicit.values(), ZERO)
    if allocated > amount:
        raise Invalid(f"the allocations add up to {allocated}, more than the payment's {amount}",
                      errors={"allocations": f"at most {amount} in all"})
    allocations = tuple(Allocation(invoice_id, Decimal(part)) for invoice_id, part in explicit.items())
    return PaymentAllocation(allocations, amount - allocated)


def allocate_payment(amount: Decimal, open_invoices: Iterable[OpenInvoice],
                     explicit: Mapping[str, Decimal] | None = None, *, currency: str) -> PaymentAllocation:
    """How a payment of ``amount`` in ``currency`` settles the customer's open invoices.

    With ``explicit`` ({invoice_id: amount}) exactly those allocations, each a positive
    amount of at most that invoice's open amount, together at most the payment (an
    empty mapping keeps the whole payment as credit); Invalid naming
    ``allocations.<invoice_id>`` otherwise. Without it, oldest first (:func:`oldest_first`),
    each invoice taking at most its open amount. Either way the allocations plus the
    credit are the payment, and no invoice is allocated more than it has open."""
    check_currency(currency)
    amount = check_amount(amount, currency)
    invoices = list(open_invoices)
    if explicit is not None:
        return _explicit(amount, currency, invoices, explicit)
    remaining = amount
    allocations = []
    takers = (i for i in invoices if i.status in OPEN_STATUSES and i.currency == currency and i.open_amount > 0)
    for invoice in oldest_first(takers):
        if remaining == 0:
            break
        part = min(remaining, invoice.open_amount)
        allocations.append(Allocation(invoice.invoice_id, part))
        remaining -= part
    return PaymentAllocation(tuple(allocations), remaining)


def check_refund(amount: Decimal, credit_balance: Decimal, currency: str) -> Decimal:
    """The amount of a refund; Invalid unless it is a positive amount of ``currency``
    and at most the customer's credit balance in it, the limit it names."""
    amount = check_amount(amount, currency)
    if amount > credit_balance:
        raise Invalid(f"a refund can be at most the customer's credit balance, {credit_balance} {currency}",
                      errors={"amount": f"at most the credit balance {credit_balance}"},
                      extra={"limit": str(credit_balance)})
    return amount
