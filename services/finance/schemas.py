"""Marshmallow schemas of the finance service's RPC and HTTP payloads.

Each use case answers through its ``...Out`` schema once (:func:`dump`); the
routes document the same schemas. Amounts go out as decimal strings in their
currency's minor unit (``Money`` values are rounded by the use cases before the
dump, never here)."""
from __future__ import annotations

from marshmallow import Schema, validate

from shared import fields
from shared.fields import WireDateTime
from shared.listing import Page, Strict, sort_field

Currency = lambda **kw: fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code such as EUR"), **kw)  # noqa: E731
Id = lambda **kw: fields.String(validate=validate.Length(min=1, max=36), **kw)  # noqa: E731
Out = lambda **kw: fields.Decimal(as_string=True, **kw)  # noqa: E731

INVOICE_SORT = ("created_at", "issue_date", "due_date", "number", "gross_total")
PLAN_SORT = ("created_at", "start_date")
RATE_SORT = ("valid_from", "currency", "created_at")
PAYMENT_SORT = ("received_on", "created_at", "amount")
CREDIT_NOTE_SORT = ("issued_at", "number", "amount")
# An amount from the wire: at most three places (the currencies' minor units); the
# use cases check it against its currency's (money.check_amount).
AmountIn = lambda **kw: fields.Decimal(places=3, max_digits=16, as_string=True,  # noqa: E731
                                       validate=validate.Range(min=0, min_inclusive=False), **kw)


# --- Invoices --------------------------------------------------------------------

class InvoiceLineIn(Strict):
    description = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    quantity = fields.Decimal(places=6, max_digits=18, as_string=True, required=True,
                              validate=validate.Range(min=0, min_inclusive=False))
    unit_price = fields.Decimal(places=6, max_digits=18, as_string=True, required=True,
                                validate=validate.Range(min=0))
    discount = fields.Decimal(places=4, max_digits=7, as_string=True, load_default=None,
                              validate=validate.Range(min=0, max=100),
                              metadata={"description": "percent off the line; 0 when omitted"})
    tax_rate = fields.Decimal(places=4, max_digits=7, as_string=True, load_default=None,
                              validate=validate.Range(min=0, max=100),
                              metadata={"description": "percent of the discounted net; 0 when omitted"})


class InvoiceIn(Strict):
    account_id = Id(required=True)
    contract_id = Id(allow_none=True, load_default=None)
    currency = Currency(load_default=None, allow_none=True,
                        metadata={"description": "the company currency when omitted"})
    lines = fields.List(fields.Nested(InvoiceLineIn), required=True, validate=validate.Length(min=1, max=500))


class InvoiceQuery(Page):
    sort = sort_field(INVOICE_SORT, "-created_at")
    account_id = Id()
    contract_id = Id()
    status = fields.String(validate=validate.OneOf(["draft", "issued", "partially_paid", "paid", "void"]))


class InvoiceLineOut(Schema):
    position = fields.Integer()
    description = fields.String()
    quantity = Out()
    unit_price = Out()
    discount = Out()
    tax_rate = Out()
    net = Out()
    tax = Out()
    gross = Out()


class InvoiceOut(Schema):
    id = fields.String()
    number = fields.String(allow_none=True, metadata={"description": "given at issue: SERIES-YEAR-SEQ"})
    status = fields.String()
    account_id = fields.String()
    account_name = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True, metadata={"description": "the account's owner"})
    team_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    contract_id = fields.String(allow_none=True)
    instalment_id = fields.String(allow_none=True)
    currency = fields.String()
    net_total = Out()
    tax_total = Out()
    gross_total = Out()
    company_currency = fields.String(allow_none=True)
    rate = Out(allow_none=True, metadata={"description": "to the company currency, fixed at issue"})
    gross_company = Out(allow_none=True)
    paid_total = Out(metadata={"description": "what payments have settled of gross_total"})
    credited_total = Out(metadata={"description": "what credit notes have settled of gross_total"})
    open_amount = Out(metadata={"description": "gross_total - paid_total - credited_total, never below 0"})
    issue_date = fields.Date(allow_none=True)
    due_date = fields.Date(allow_none=True)
    lines = fields.List(fields.Nested(InvoiceLineOut))
    created_at = WireDateTime()
    issued_at = WireDateTime(allow_none=True)
    voided_at = WireDateTime(allow_none=True)


# --- Receivable plans ------------------------------------------------------------

class PlanQuery(Page):
    sort = sort_field(PLAN_SORT, "-created_at")
    account_id = Id()
    contract_id = Id()
    status = fields.String(validate=validate.OneOf(["active", "terminated"]))


class InstalmentOut(Schema):
    id = fields.String()
    sequence = fields.Integer()
    due_date = fields.Date()
    amount = Out()
    status = fields.String(metadata={"description": "planned, invoiced or cancelled"})
    invoice_id = fields.String(allow_none=True)


class PlanOut(Schema):
    id = fields.String()
    contract_id = fields.String()
    account_id = fields.String()
    account_name = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    currency = fields.String()
    total = Out()
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)
    billing_frequency = fields.String()
    status = fields.String()
    terminated_on = fields.Date(allow_none=True)
    instalments = fields.List(fields.Nested(InstalmentOut))
    created_at = WireDateTime()


# --- Exchange rates --------------------------------------------------------------

class RateIn(Strict):
    currency = Currency(required=True)
    rate = fields.Decimal(places=12, max_digits=18, as_string=True, required=True,
                          validate=validate.Range(min=0, min_inclusive=False),
                          metadata={"description": "units of the company currency for one unit of currency"})
    valid_from = fields.Date(required=True)


class RateQuery(Page):
    sort = sort_field(RATE_SORT, "-valid_from")
    currency = Currency()


class RateOut(Schema):
    id = fields.String()
    currency = fields.String()
    company_currency = fields.String()
    rate = Out()
    valid_from = fields.Date()
    created_by = fields.String(allow_none=True)
    created_at = WireDateTime()


# --- Payments --------------------------------------------------------------------

class AllocationIn(Strict):
    invoice_id = Id(required=True)
    amount = AmountIn(required=True)


class PaymentIn(Strict):
    account_id = Id(required=True)
    currency = Currency(load_default=None, allow_none=True,
                        metadata={"description": "the company currency when omitted"})
    amount = AmountIn(required=True)
    received_on = fields.Date(load_default=None, allow_none=True, metadata={"description": "today when omitted"})
    reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    allocations = fields.List(fields.Nested(AllocationIn), load_default=None, allow_none=True,
                              validate=validate.Length(max=100),
                              metadata={"description": "how much each invoice takes; when omitted, the account's "
                                                       "open invoices in the currency take it oldest first. "
                                                       "What is left is the customer's credit"})


class PaymentQuery(Page):
    sort = sort_field(PAYMENT_SORT, "-received_on")
    account_id = Id()
    currency = Currency()


class AllocationOut(Schema):
    invoice_id = fields.String()
    invoice_number = fields.String(allow_none=True)
    amount = Out()


class PaymentOut(Schema):
    id = fields.String()
    account_id = fields.String()
    account_name = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True, metadata={"description": "the account's owner"})
    team_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    currency = fields.String()
    amount = Out()
    received_on = fields.Date()
    reference = fields.String(allow_none=True)
    allocations = fields.List(fields.Nested(AllocationOut))
    unallocated = Out(metadata={"description": "what no invoice took: it became the customer's credit"})
    credit_balance = Out(metadata={"description": "the account's credit in this currency now"})
    created_by = fields.String(allow_none=True)
    created_at = WireDateTime()


# --- Credit notes ----------------------------------------------------------------

class CreditNoteIn(Strict):
    invoice_id = Id(required=True)
    amount = AmountIn(required=True, metadata={"description": "at most the invoice's open amount"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class CreditNoteQuery(Page):
    sort = sort_field(CREDIT_NOTE_SORT, "-issued_at")
    account_id = Id()
    invoice_id = Id()


class CreditNoteOut(Schema):
    id = fields.String()
    number = fields.String(metadata={"description": "CN-YEAR-SEQ, gap-free per year"})
    invoice_id = fields.String()
    invoice_number = fields.String(allow_none=True)
    account_id = fields.String()
    account_name = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    currency = fields.String()
    amount = Out()
    reason = fields.String()
    created_by = fields.String(allow_none=True)
    issued_at = WireDateTime()
