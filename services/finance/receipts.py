"""Payments: recording what a customer paid, allocating it to their open invoices
(as they say, or oldest first: ``payments.allocate_payment``), and their credit.

A customer's credit in a currency is what their payments in it left over: the sum
of the payments' amounts less the sum of their allocations (no refunds yet), so it
is computed, never stored twice. The invoices a payment may settle are locked
(``SELECT ... FOR UPDATE``) before their open amounts are read, so two payments
at once cannot both take the same open amount.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from services.finance import invoices, payments
from services.finance.domain import OPEN_STATUSES, InvoiceStatus, OpenInvoice
from services.finance.models import Account, Invoice, Payment, PaymentAllocation
from services.finance.money import ZERO, check_amount, check_currency, round_money
from services.finance.schemas import PAYMENT_SORT, PaymentIn, PaymentOut
from services.finance.scoping import page, visible, with_account, within
from services.finance.settings import FinanceSettings
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, new_id, utcnow
from shared.errors import Conflict, Invalid
from shared.listing import load, ordering

_payment_out = PaymentOut()
_OPEN = [status.value for status in OPEN_STATUSES]


def credit_balance(session, account_id: str, currency: str) -> Decimal:
    """The account's credit in ``currency``: its payments less what they settled."""
    paid = session.scalar(select(func.coalesce(func.sum(Payment.amount), 0))
                          .where(Payment.account_id == account_id, Payment.currency == currency))
    allocated = session.scalar(
        select(func.coalesce(func.sum(PaymentAllocation.amount), 0))
        .join(Payment, PaymentAllocation.payment_id == Payment.id)
        .where(Payment.account_id == account_id, Payment.currency == currency))
    return round_money(Decimal(paid) - Decimal(allocated), currency)


def _open_invoice(invoice: Invoice) -> OpenInvoice:
    return OpenInvoice(invoice_id=invoice.id, number=invoice.number, currency=invoice.currency,
                       issue_date=invoice.issue_date, due_date=invoice.due_date,
                       open_amount=invoices.open_on(invoice), status=InvoiceStatus(invoice.status))


def _explicit(session, account: Account, allocations: list[dict] | None) -> dict[str, Decimal] | None:
    """The payer's allocations as {invoice_id: amount}; Invalid for an invoice named twice,
    Conflict for one of the account's invoices that takes no payment (a draft, a void or a paid one)."""
    if allocations is None:
        return None
    explicit: dict[str, Decimal] = {}
    for index, part in enumerate(allocations):
        if part["invoice_id"] in explicit:
            raise Invalid("an invoice is named twice in the allocations",
                          errors={f"allocations.{index}.invoice_id": "named once at most"})
        explicit[part["invoice_id"]] = part["amount"]
    closed = session.execute(select(Invoice.number, Invoice.id, Invoice.status)
                             .where(Invoice.id.in_(list(explicit)), Invoice.account_id == account.id,
                                    Invoice.status.not_in(_OPEN))).all()
    if closed:
        named = ", ".join(f"{number or ident} is {status}" for number, ident, status in closed)
        raise Conflict(f"only an issued or partially paid invoice takes a payment: {named}",
                       extra={"invoice_ids": [ident for _, ident, _ in closed]})
    return explicit


def record_payment(uow: UnitOfWork, caller: Caller, data: dict, settings: FinanceSettings) -> dict[str, Any]:
    """Record a payment of an account and allocate it: to the invoices it names
    (``allocations``), or oldest first over the account's open invoices in its currency.
    Each invoice moves issued -> partially_paid -> paid; what is left is the customer's
    credit. Emits ``finance.payment_received`` and ``finance.invoice_paid`` for each
    invoice it settled in full."""
    policy.require(caller, "payment.write")
    data = load(PaymentIn(), data)
    session = uow.session
    account = session.get(Account, data["account_id"])
    if account is None:
        raise Invalid(f"finance does not know the account {data['account_id']} (yet)",
                      errors={"account_id": "an account finance has received from sales"})
    policy.require(caller, "payment.write", account)
    currency = check_currency(data.get("currency") or settings.company_currency)
    amount = check_amount(data["amount"], currency)
    explicit = _explicit(session, account, data.get("allocations"))
    rows = session.scalars(select(Invoice).where(Invoice.account_id == account.id, Invoice.status.in_(_OPEN))
                           .order_by(Invoice.id).with_for_update()).all()
    allocation = payments.allocate_payment(amount, [_open_invoice(row) for row in rows], explicit,
                                           currency=currency)
    payment = Payment(id=new_id(), account_id=account.id, currency=currency, amount=amount,
                      received_on=data.get("received_on") or utcnow().date(), reference=data.get("reference"),
                      created_by=caller.user_id)
    session.add(payment)
    session.flush()
    by_id = {row.id: row for row in rows}
    parts, paid = [], []
    for part in allocation.allocations:
        invoice = by_id[part.invoice_id]
        session.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount=part.amount))
        invoice.paid_total = (invoice.paid_total or ZERO) + part.amount
        if invoices.settle(invoice):
            paid.append(invoice)
        parts.append({"invoice_id": invoice.id, "invoice_number": invoice.number,
                      "amount": round_money(part.amount, currency), "open_amount": invoices.open_on(invoice),
                      "status": invoice.status})
    session.flush()
    answer = payment_answer(session, payment, account)
    uow.emit("finance.payment_received", {
        "payment_id": payment.id, "account_id": account.id, "currency": currency,
        "amount": round_money(amount, currency), "received_on": payment.received_on,
        "reference": payment.reference, "allocations": parts,
        "unallocated": round_money(allocation.credit, currency), "credit_balance": answer["credit_balance"]})
    for invoice in paid:
        uow.emit("finance.invoice_paid", invoices.invoice_paid_payload(invoice))
    return answer


def payment_answer(session, payment: Payment, account: Account) -> dict[str, Any]:
    currency = payment.currency
    rows = session.execute(select(PaymentAllocation.invoice_id, Invoice.number, PaymentAllocation.amount)
                           .join(Invoice, PaymentAllocation.invoice_id == Invoice.id)
                           .where(PaymentAllocation.payment_id == payment.id)
                           .order_by(Invoice.due_date, Invoice.number)).all()
    allocations = [{"invoice_id": invoice_id, "invoice_number": number, "amount": round_money(amount, currency)}
                   for invoice_id, number, amount in rows]
    allocated = sum((a["amount"] for a in allocations), ZERO)
    return _payment_out.dump({
        "id": payment.id, "account_id": payment.account_id, "account_name": account.name,
        "owner_id": account.owner_id, "team_id": account.team_id, "partner_id": account.partner_id,
        "currency": currency, "amount": round_money(payment.amount, currency), "received_on": payment.received_on,
        "reference": payment.reference, "allocations": allocations,
        "unallocated": round_money(payment.amount - allocated, currency),
        "credit_balance": credit_balance(session, payment.account_id, currency),
        "created_by": payment.created_by, "created_at": payment.created_at})


def get_payment(session, caller: Caller, payment_id: str) -> dict[str, Any]:
    payment, account = visible(session, Payment, caller, payment_id, "payment", "payment.read")
    return payment_answer(session, payment, account)


def list_payments(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = within(with_account(Payment), caller, "payment.read")
    for name in ("account_id", "currency"):
        if filters.get(name):
            query = query.where(getattr(Payment, name) == filters[name])
    rows, total = page(session, query, limit, offset,
                       ordering(Payment, filters.get("sort"), PAYMENT_SORT, "-received_on"))
    return {"items": [payment_answer(session, payment, account) for payment, account in rows], "total": total}
