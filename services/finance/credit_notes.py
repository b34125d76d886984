"""Credit notes: part or all of an issued invoice's open amount taken back, numbered
in their own gap-free series (``CN-2027-000001``, the invoice series' counters:
``invoices.next_number``). The rules are ``domain.check_creditable`` and
``domain.check_credit_note``."""
from __future__ import annotations

from typing import Any

from services.finance import domain, invoices
from services.finance.domain import InvoiceStatus
from services.finance.models import Account, CreditNote, Invoice
from services.finance.money import ZERO, round_money
from services.finance.schemas import CREDIT_NOTE_SORT, CreditNoteIn, CreditNoteOut
from services.finance.scoping import page, visible, with_account, within
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, new_id, utcnow
from shared.errors import Invalid, NotFound
from shared.listing import load, ordering

CREDIT_NOTE_SERIES = "CN"

_credit_note_out = CreditNoteOut()


def issue_credit_note(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    """A credit note on an issued or partially paid invoice (409 for another status) of
    at most its open amount (422 naming the limit); the invoice becomes paid when
    nothing is left open. Emits ``finance.credit_note_issued`` and, when it settled
    the invoice, ``finance.invoice_paid``."""
    policy.require(caller, "credit_note.write")
    data = load(CreditNoteIn(), data)
    session = uow.session
    try:
        invoice, account = visible(session, Invoice, caller, data["invoice_id"], "invoice", "invoice.read",
                                   for_update=True)
    except NotFound:
        raise Invalid(f"invoice {data['invoice_id']} not found",
                      errors={"invoice_id": "an invoice you may see"}) from None
    policy.require(caller, "credit_note.write", account)
    domain.check_creditable(InvoiceStatus(invoice.status))
    reason = data["reason"].strip()
    if not reason:
        raise Invalid("a credit note says why", errors={"reason": "required"})
    currency = invoice.currency
    amount = domain.check_credit_note(data["amount"], invoices.open_on(invoice), currency)
    now = utcnow()
    note = CreditNote(id=new_id(), number=invoices.next_number(session, CREDIT_NOTE_SERIES, now.year),
                      invoice_id=invoice.id, account_id=account.id, currency=currency, amount=amount,
                      reason=reason, created_by=caller.user_id, issued_at=now)
    session.add(note)
    invoice.credited_total = (invoice.credited_total or ZERO) + amount
    became_paid = invoices.settle(invoice)
    session.flush()
    uow.emit("finance.credit_note_issued", {
        "credit_note_id": note.id, "number": note.number, "invoice_id": invoice.id,
        "invoice_number": invoice.number, "account_id": account.id, "currency": currency,
        "amount": round_money(amount, currency), "reason": note.reason, "open_amount": invoices.open_on(invoice),
        "invoice_status": invoice.status})
    if became_paid:
        uow.emit("finance.invoice_paid", invoices.invoice_paid_payload(invoice))
    return credit_note_answer(note, invoice.number, account)


def credit_note_answer(note: CreditNote, invoice_number: str | None, account: Account) -> dict[str, Any]:
    return _credit_note_out.dump({
        "id": note.id, "number": note.number, "invoice_id": note.invoice_id, "invoice_number": invoice_number,
        "account_id": note.account_id, "account_name": account.name, "owner_id": account.owner_id,
        "team_id": account.team_id, "partner_id": account.partner_id, "currency": note.currency,
        "amount": round_money(note.amount, note.currency), "reason": note.reason, "created_by": note.created_by,
        "issued_at": note.issued_at})


def _number_of(session, invoice_id: str) -> str | None:
    invoice = session.get(Invoice, invoice_id)
    return invoice.number if invoice is not None else None


def get_credit_note(session, caller: Caller, credit_note_id: str) -> dict[str, Any]:
    note, account = visible(session, CreditNote, caller, credit_note_id, "credit note", "credit_note.read")
    return credit_note_answer(note, _number_of(session, note.invoice_id), account)


def list_credit_notes(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = within(with_account(CreditNote), caller, "credit_note.read")
    for name in ("account_id", "invoice_id"):
        if filters.get(name):
            query = query.where(getattr(CreditNote, name) == filters[name])
    rows, total = page(session, query, limit, offset,
                       ordering(CreditNote, filters.get("sort"), CREDIT_NOTE_SORT, "-issued_at"))
    return {"items": [credit_note_answer(note, _number_of(session, note.invoice_id), account)
                      for note, account in rows], "total": total}
