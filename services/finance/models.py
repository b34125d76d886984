"""The finance service's tables (its own database; nobody else reads them)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Exact, Instant, new_id, service_metadata, utcnow

metadata = service_metadata()

# Exact and Instant behave the same on PostgreSQL and SQLite (see shared.db). Amounts
# keep four places, so that a currency of three (BHD) is exact; answers show each
# amount in its currency's minor unit.
Amount = Exact(18, 4)
Quantity = Exact(18, 6)      # quantities and unit prices: six places, twelve digits before
Percent = Exact(7, 4)
Rate = Exact(18, 12)         # an exchange rate's twelve places, six digits before
When = Instant


class Base(DeclarativeBase):
    metadata = metadata


class Account(Base):
    """Finance's copy of a sales account (``sales.account_created``): whose invoices
    these are, for who may see them. A contract signed before the account's event
    arrived makes a first copy from the contract's owner and partner."""
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    team_id: Mapped[str | None] = mapped_column(String(36), index=True)
    partner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class ReceivablePlan(Base):
    """What a signed contract will be invoiced, one plan per contract."""
    __tablename__ = "receivable_plans"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    contract_id: Mapped[str] = mapped_column(String(36), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Amount)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    billing_frequency: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="active")   # active, terminated
    terminated_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class PlannedInstalment(Base):
    __tablename__ = "instalments"
    __table_args__ = (UniqueConstraint("plan_id", "sequence", name="uq_instalments_plan_id_sequence"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(ForeignKey("receivable_plans.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(Amount)
    status: Mapped[str] = mapped_column(String(12), default="planned", index=True)  # receivables.InstalmentStatus
    invoice_id: Mapped[str | None] = mapped_column(String(36))


class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[str | None] = mapped_column(String(40), unique=True)   # given at issue, never before
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)   # domain.InvoiceStatus
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    contract_id: Mapped[str | None] = mapped_column(String(36), index=True)
    instalment_id: Mapped[str | None] = mapped_column(String(36), unique=True)   # one invoice per instalment
    currency: Mapped[str] = mapped_column(String(3))
    net_total: Mapped[Decimal] = mapped_column(Amount)
    tax_total: Mapped[Decimal] = mapped_column(Amount)
    gross_total: Mapped[Decimal] = mapped_column(Amount)
    company_currency: Mapped[str | None] = mapped_column(String(3))
    rate: Mapped[Decimal | None] = mapped_column(Rate)
    gross_company: Mapped[Decimal | None] = mapped_column(Amount)
    issue_date: Mapped[date | None] = mapped_column(Date, index=True)
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(When)
    voided_at: Mapped[datetime | None] = mapped_column(When)
    # what payments and credit notes have settled of gross_total (domain.open_amount)
    paid_total: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0), server_default="0")
    credited_total: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0), server_default="0")


class InvoiceLineRow(Base):
    __tablename__ = "invoice_lines"

    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(String(1000))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Quantity)
    discount: Mapped[Decimal] = mapped_column(Percent)
    tax_rate: Mapped[Decimal] = mapped_column(Percent)
    net: Mapped[Decimal] = mapped_column(Amount)
    tax: Mapped[Decimal] = mapped_column(Amount)
    gross: Mapped[Decimal] = mapped_column(Amount)


class InvoiceSeries(Base):
    """The next sequence number of a series in a year: taken by the transaction that
    issues an invoice (``invoices.next_number``), so numbers have no gaps."""
    __tablename__ = "invoice_series"

    series: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_value: Mapped[int] = mapped_column(Integer, default=1)


class ExchangeRate(Base):
    """Units of the company currency for one unit of ``currency``, from ``valid_from``
    until the next rate of that currency."""
    __tablename__ = "exchange_rates"
    __table_args__ = (UniqueConstraint("currency", "valid_from", name="uq_exchange_rates_currency_valid_from"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(Rate)
    valid_from: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)



class Payment(Base):
    """Money a customer paid, in one currency. What its allocations did not take is the
    customer's credit in that currency: an account's credit balance is the sum of its
    payments' amounts less their allocations (``receipts.credit_balance``)."""
    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Amount)
    received_on: Mapped[date] = mapped_column(Date, index=True)
    reference: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class PaymentAllocation(Base):
    """How much of a payment settled one invoice."""
    __tablename__ = "payment_allocations"

    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), primary_key=True, index=True)
    amount: Mapped[Decimal] = mapped_column(Amount)


class CreditNote(Base):
    """A credit note on an invoice, numbered in its own gap-free series (``CN-2027-000001``)."""
    __tablename__ = "credit_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Amount)
    reason: Mapped[str] = mapped_column(String(1000))
    created_by: Mapped[str | None] = mapped_column(String(36))
    issued_at: Mapped[datetime] = mapped_column(When, default=utcnow)
