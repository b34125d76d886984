"""Invoices: drafts, issuing with a gap-free number, voiding, and the timer's
issuing of the receivable plans' instalments as they fall due.

Gap-free numbers: the number is taken by the transaction that issues the
invoice, from the ``invoice_series`` row of its series and year, with one
``UPDATE ... SET next_value = next_value + 1 RETURNING``. On PostgreSQL the
row lock makes concurrent issuers wait for each other; on SQLite every
transaction holds the one write lock from its start. A transaction that rolls
back gives its number back with it, so the numbers of a series and year are
1, 2, 3... without a gap or a twin.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update

from services.finance import domain
from services.finance.domain import InvoiceStatus
from services.finance.models import Account, ExchangeRate, Invoice, InvoiceLineRow, InvoiceSeries, \
    PlannedInstalment, ReceivablePlan
from services.finance.money import minor_units, round_money, to_company_currency
from services.finance.rates import rate_on, rate_text
from services.finance.receivables import InstalmentStatus
from services.finance.schemas import INVOICE_SORT, InvoiceIn, InvoiceOut
from services.finance.scoping import page, visible, with_account, within, writable
from services.finance.settings import FinanceSettings
from shared.listing import load, ordering
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, insert_or_skip, new_id, utcnow
from shared.errors import Conflict, Invalid

log = logging.getLogger(__name__)

_invoice_out = InvoiceOut()
ZERO = Decimal(0)


# --- Numbers ---------------------------------------------------------------------

def next_number(session, series: str, year: int) -> str:
    """The next number of ``series`` in ``year``, taken in the caller's transaction
    (see the module's docstring): ``INV-2027-000001`` for the first."""
    table = InvoiceSeries.__table__
    session.execute(insert_or_skip(table, session.get_bind().dialect.name)
                    .values(series=series, year=year, next_value=1))
    taken = session.execute(update(table).where(table.c.series == series, table.c.year == year)
                            .values(next_value=table.c.next_value + 1)
                            .returning(table.c.next_value)).scalar_one() - 1
    return domain.format_invoice_number(series, year, taken)


# --- Answers ---------------------------------------------------------------------

def invoice_answer(session, invoice: Invoice, account: Account) -> dict[str, Any]:
    """The invoice with its lines, amounts in its currency's minor unit."""
    currency = invoice.currency
    lines = [{"position": index + 1, **line} for index, line in enumerate(_lines_payload(session, invoice))]
    company = invoice.company_currency
    return _invoice_out.dump({
        "id": invoice.id, "number": invoice.number, "status": invoice.status, "account_id": invoice.account_id,
        "account_name": account.name, "owner_id": account.owner_id, "team_id": account.team_id,
        "partner_id": account.partner_id, "contract_id": invoice.contract_id,
        "instalment_id": invoice.instalment_id, "currency": currency,
        "net_total": round_money(invoice.net_total, currency), "tax_total": round_money(invoice.tax_total, currency),
        "gross_total": round_money(invoice.gross_total, currency), "company_currency": company,
        "rate": rate_text(invoice.rate) if invoice.rate is not None else None,
        "gross_company": round_money(invoice.gross_company, company) if invoice.gross_company is not None else None,
        "paid_total": round_money(invoice.paid_total, currency),
        "credited_total": round_money(invoice.credited_total, currency),
        "open_amount": round_money(domain.open_amount(invoice.gross_total, invoice.paid_total,
                                                      invoice.credited_total), currency),
        "issue_date": invoice.issue_date, "due_date": invoice.due_date, "lines": lines,
        "created_at": invoice.created_at, "issued_at": invoice.issued_at, "voided_at": invoice.voided_at})


def _lines_payload(session, invoice: Invoice) -> list[dict[str, Any]]:
    rows = session.scalars(select(InvoiceLineRow).where(InvoiceLineRow.invoice_id == invoice.id)
                           .order_by(InvoiceLineRow.position)).all()
    currency = invoice.currency
    return [{"description": r.description, "quantity": r.quantity.normalize(),
             "unit_price": r.unit_price.normalize(), "discount": r.discount.normalize(),
             "tax_rate": r.tax_rate.normalize(), "net": round_money(r.net, currency),
             "tax": round_money(r.tax, currency), "gross": round_money(r.gross, currency)} for r in rows]


# --- Drafts and their lines ------------------------------------------------------

def _add_lines(session, invoice: Invoice, lines: list[domain.InvoiceLine]) -> None:
    totals = domain.invoice_totals(lines, invoice.currency)
    invoice.net_total, invoice.tax_total, invoice.gross_total = totals.net, totals.tax, totals.gross
    session.add(invoice)
    session.flush()
    session.add_all(InvoiceLineRow(invoice_id=invoice.id, position=index + 1, description=line.description.strip(),
                                   quantity=line.quantity, unit_price=line.unit_price, discount=line.discount,
                                   tax_rate=line.tax_rate, net=amounts.net, tax=amounts.tax, gross=amounts.gross)
                    for index, (line, amounts) in enumerate(zip(lines, totals.lines)))


def create_invoice(uow: UnitOfWork, caller: Caller, data: dict, settings: FinanceSettings) -> dict[str, Any]:
    """A draft invoice of an account finance knows, with its lines and totals; no number yet."""
    policy.require(caller, "invoice.write")
    data = load(InvoiceIn(), data)
    session = uow.session
    account = session.get(Account, data["account_id"])
    if account is None:
        raise Invalid(f"finance does not know the account {data['account_id']} (yet)",
                      errors={"account_id": "an account finance has received from sales"})
    policy.require(caller, "invoice.write", account)
    lines = domain.parse_invoice_lines([{**line, "discount": line.get("discount") or "0",
                                         "tax_rate": line.get("tax_rate") or "0"} for line in data["lines"]])
    invoice = Invoice(id=new_id(), account_id=account.id, contract_id=data.get("contract_id"),
                      currency=data.get("currency") or settings.company_currency,
                      status=InvoiceStatus.DRAFT.value, created_by=caller.user_id)
    _add_lines(session, invoice, lines)
    session.flush()
    return invoice_answer(session, invoice, account)


# --- Issuing and voiding ---------------------------------------------------------

def _issue(uow: UnitOfWork, invoice: Invoice, settings: FinanceSettings, today: date) -> None:
    """Number, date, rate and the event of ``invoice``, in the caller's transaction."""
    session = uow.session
    rate = rate_on(session, invoice.currency, today, settings.company_currency)
    if rate is None:
        raise Conflict(f"no exchange rate of {invoice.currency} to {settings.company_currency} is valid on {today}; "
                       "enter one (POST /api/v1/exchange-rates) and issue again",
                       extra={"currency": invoice.currency})
    domain.check_invoice_transition(InvoiceStatus(invoice.status), InvoiceStatus.ISSUED)
    invoice.number = next_number(session, settings.invoice_series, today.year)
    invoice.status = InvoiceStatus.ISSUED.value
    invoice.issue_date, invoice.due_date = today, today + timedelta(days=settings.payment_terms_days)
    invoice.company_currency, invoice.rate = settings.company_currency, rate
    invoice.gross_company = to_company_currency(round_money(invoice.gross_total, invoice.currency), rate,
                                                minor_units(settings.company_currency))
    invoice.issued_at = utcnow()
    session.flush()
    uow.emit("finance.invoice_issued", {
        "invoice_id": invoice.id, "number": invoice.number, "account_id": invoice.account_id,
        "contract_id": invoice.contract_id, "instalment_id": invoice.instalment_id, "currency": invoice.currency,
        "net_total": round_money(invoice.net_total, invoice.currency),
        "tax_total": round_money(invoice.tax_total, invoice.currency),
        "gross_total": round_money(invoice.gross_total, invoice.currency),
        "company_currency": invoice.company_currency, "rate": rate_text(rate),
        "gross_company": invoice.gross_company, "issue_date": invoice.issue_date, "due_date": invoice.due_date,
        "lines": _lines_payload(session, invoice)})


def issue_invoice(uow: UnitOfWork, caller: Caller, invoice_id: str, settings: FinanceSettings,
                  today: date | None = None) -> dict[str, Any]:
    """Issue a draft: its number, issue date (today), due date (after the payment
    terms), the rate to the company currency, and ``finance.invoice_issued``.
    Conflict for another status, or when no rate of its currency is valid today."""
    session = uow.session
    invoice, account = writable(session, Invoice, caller, invoice_id, "invoice", "invoice.read", "invoice.write")
    _issue(uow, invoice, settings, today or utcnow().date())
    return invoice_answer(session, invoice, account)


def void_invoice(uow: UnitOfWork, caller: Caller, invoice_id: str) -> dict[str, Any]:
    """Void a draft or an issued invoice nothing was paid or credited on. An issued invoice keeps its number: a void
    number is not given again, so the series stays without gaps. An instalment it
    billed stays invoiced."""
    session = uow.session
    invoice, account = writable(session, Invoice, caller, invoice_id, "invoice", "invoice.read", "invoice.write")
    domain.check_invoice_transition(InvoiceStatus(invoice.status), InvoiceStatus.VOID,
                                    invoice.paid_total or ZERO, invoice.credited_total or ZERO)
    invoice.status, invoice.voided_at = InvoiceStatus.VOID.value, utcnow()
    session.flush()
    return invoice_answer(session, invoice, account)


# --- Settling: payments and credit notes --------------------------------------

def settle(invoice: Invoice) -> bool:
    """Move an issued invoice along by what has been paid and credited on it
    (``domain.settlement_status``): issued -> partially_paid -> paid. True when it has
    just become paid (its caller emits ``finance.invoice_paid``, once)."""
    current = InvoiceStatus(invoice.status)
    target = domain.settlement_status(invoice.gross_total, invoice.paid_total, invoice.credited_total)
    if target is current:
        return False
    domain.check_invoice_transition(current, target)
    invoice.status = target.value
    return target is InvoiceStatus.PAID


def invoice_paid_payload(invoice: Invoice) -> dict[str, Any]:
    currency = invoice.currency
    return {"invoice_id": invoice.id, "number": invoice.number, "account_id": invoice.account_id,
            "contract_id": invoice.contract_id, "currency": currency,
            "gross_total": round_money(invoice.gross_total, currency),
            "paid_total": round_money(invoice.paid_total, currency),
            "credited_total": round_money(invoice.credited_total, currency)}


def open_on(invoice: Invoice) -> Decimal:
    """What is still open on ``invoice``, in its currency's minor unit."""
    return round_money(domain.open_amount(invoice.gross_total, invoice.paid_total, invoice.credited_total),
                       invoice.currency)


# --- The issuing timer -----------------------------------------------------------

def due_instalments(session, today: date, company_currency: str, limit: int) -> list[str]:
    """Planned instalments due on ``today`` or before, oldest first, whose currency
    has a rate valid today (one without waits, planned, for its rate)."""
    rated = or_(ReceivablePlan.currency == company_currency,
                exists().where(and_(ExchangeRate.currency == ReceivablePlan.currency, ExchangeRate.valid_from <= today)))
    return list(session.scalars(
        select(PlannedInstalment.id).join(ReceivablePlan, PlannedInstalment.plan_id == ReceivablePlan.id)
        .where(PlannedInstalment.status == InstalmentStatus.PLANNED.value, PlannedInstalment.due_date <= today,
               rated)
        .order_by(PlannedInstalment.due_date, PlannedInstalment.id).limit(limit)))


def issue_instalment(uow: UnitOfWork, instalment_id: str, settings: FinanceSettings, today: date) -> str | None:
    """Claim one planned instalment and issue its invoice, in the caller's transaction:
    the instalment becomes invoiced only if it was still planned (another issuer or a
    termination got there first otherwise: None), then an invoice with one line for
    its amount, its number and ``finance.invoice_issued``. Returns the invoice's id."""
    session = uow.session
    claimed = session.execute(update(PlannedInstalment)
                              .where(PlannedInstalment.id == instalment_id,
                                     PlannedInstalment.status == InstalmentStatus.PLANNED.value)
                              .values(status=InstalmentStatus.INVOICED.value)).rowcount
    if not claimed:
        return None
    instalment = session.get(PlannedInstalment, instalment_id)
    session.refresh(instalment)
    plan = session.get(ReceivablePlan, instalment.plan_id)
    count = session.scalar(select(func.count()).where(PlannedInstalment.plan_id == plan.id))
    invoice = Invoice(id=new_id(), account_id=plan.account_id, contract_id=plan.contract_id,
                      instalment_id=instalment.id, currency=plan.currency, status=InvoiceStatus.DRAFT.value)
    line = domain.InvoiceLine(
        description=f"Contract {plan.contract_id}, instalment {instalment.sequence} of {count} "
                    f"due {instalment.due_date.isoformat()}",
        quantity=Decimal(1), unit_price=instalment.amount)
    _add_lines(session, invoice, [line])
    session.flush()
    _issue(uow, invoice, settings, today)
    instalment.invoice_id = invoice.id
    session.flush()
    return invoice.id


# --- Reading ---------------------------------------------------------------------

def get_invoice(session, caller: Caller, invoice_id: str) -> dict[str, Any]:
    invoice, account = visible(session, Invoice, caller, invoice_id, "invoice", "invoice.read")
    return invoice_answer(session, invoice, account)


def list_invoices(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = within(with_account(Invoice), caller, "invoice.read")
    for name in ("account_id", "contract_id", "status"):
        if filters.get(name):
            query = query.where(getattr(Invoice, name) == filters[name])
    rows, total = page(session, query, limit, offset,
                       ordering(Invoice, filters.get("sort"), INVOICE_SORT, "-created_at"))
    return {"items": [invoice_answer(session, invoice, account) for invoice, account in rows], "total": total}
