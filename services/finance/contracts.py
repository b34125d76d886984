"""The finance service's public face: the events it publishes and what it reads
from the events it consumes.

Consumers read these contracts from the exported documents
(``docs/contracts/``, ``crm contracts export``), never from this module.
"""
from __future__ import annotations

from marshmallow import fields

from shared.events import ConsumedEvent, EventContract, PayloadSchema, Str

# --- Events published ----------------------------------------------------------

Amount = lambda **kw: fields.Decimal(as_string=True, required=True, **kw)  # noqa: E731


class IssuedLine(PayloadSchema):
    description = fields.String(required=True)
    quantity = Amount()
    unit_price = Amount()
    discount = Amount(metadata={"description": "percent off the line"})
    tax_rate = Amount(metadata={"description": "percent of the discounted net"})
    net = Amount()
    tax = Amount()
    gross = Amount()


class InvoiceIssued(PayloadSchema):
    """An invoice got its number. Amounts are decimal strings in the invoice's currency,
    rounded half-up per line to its minor unit; the totals are the sums of the lines'."""
    invoice_id = fields.String(required=True)
    number = fields.String(required=True, metadata={"description": "SERIES-YEAR-SEQ, gap-free per series and year"})
    account_id = fields.String(required=True)
    contract_id = Str()
    instalment_id = Str(metadata={"description": "the receivable plan's instalment it bills, if any"})
    currency = fields.String(required=True)
    net_total = Amount()
    tax_total = Amount()
    gross_total = Amount()
    company_currency = fields.String(required=True)
    rate = Amount(metadata={"description": "units of the company currency for one unit of the invoice's, "
                                           "fixed at issue"})
    gross_company = Amount(metadata={"description": "gross_total times rate, rounded half-up to the company "
                                                    "currency's minor unit"})
    issue_date = fields.Date(required=True)
    due_date = fields.Date(required=True)
    lines = fields.List(fields.Nested(IssuedLine), required=True)


class AllocatedPart(PayloadSchema):
    invoice_id = fields.String(required=True)
    invoice_number = fields.String(required=True)
    amount = Amount(metadata={"description": "what this payment settled of the invoice"})
    open_amount = Amount(metadata={"description": "what is still open on the invoice after it"})
    status = fields.String(required=True, metadata={"description": "the invoice's status after it: "
                                                                   "issued, partially_paid or paid"})


class PaymentReceived(PayloadSchema):
    """A customer's payment was recorded and allocated to their open invoices; what no
    invoice took is their credit. Amounts are decimal strings in the payment's currency."""
    payment_id = fields.String(required=True)
    account_id = fields.String(required=True)
    currency = fields.String(required=True)
    amount = Amount()
    received_on = fields.Date(required=True)
    reference = Str()
    allocations = fields.List(fields.Nested(AllocatedPart), required=True)
    unallocated = Amount(metadata={"description": "what this payment left over: added to the customer's credit"})
    credit_balance = Amount(metadata={"description": "the customer's credit in this currency after the payment"})


class InvoicePaid(PayloadSchema):
    """An issued invoice has nothing open any more: settled by payments, credit notes or both."""
    invoice_id = fields.String(required=True)
    number = fields.String(required=True)
    account_id = fields.String(required=True)
    contract_id = Str()
    currency = fields.String(required=True)
    gross_total = Amount()
    paid_total = Amount()
    credited_total = Amount()


class CreditNoteIssued(PayloadSchema):
    """A credit note was issued on an invoice, with its own gap-free number; it lowers the
    invoice's open amount."""
    credit_note_id = fields.String(required=True)
    number = fields.String(required=True, metadata={"description": "CN-YEAR-SEQ, gap-free per year"})
    invoice_id = fields.String(required=True)
    invoice_number = fields.String(required=True)
    account_id = fields.String(required=True)
    currency = fields.String(required=True)
    amount = Amount()
    reason = fields.String(required=True)
    open_amount = Amount(metadata={"description": "what is still open on the invoice after it"})
    invoice_status = fields.String(required=True, metadata={"description": "the invoice's status after it"})


PUBLISHED_EVENTS = (
    EventContract("finance.invoice_issued", 1, InvoiceIssued,
                  "An invoice was issued with its number: lines, totals, tax, due date and rate to company currency."),
    EventContract("finance.payment_received", 1, PaymentReceived,
                  "A payment was recorded: how it was allocated to open invoices and the customer's credit after it."),
    EventContract("finance.invoice_paid", 1, InvoicePaid,
                  "An invoice was settled in full (by payments, credit notes or both); emitted once."),
    EventContract("finance.credit_note_issued", 1, CreditNoteIssued,
                  "A credit note was issued on an invoice, lowering its open amount."),
)

# --- Events consumed -----------------------------------------------------------


class AccountForFinance(PayloadSchema):
    """What finance keeps of an account: its name and who may see its invoices."""
    account_id = fields.String(required=True)
    name = fields.String(required=True)
    owner_id = Str()
    team_id = Str()
    partner_id = Str()


class ScheduledInstalment(PayloadSchema):
    due_date = fields.Date(required=True)
    amount = fields.Decimal(as_string=True, required=True)


class SignedContract(PayloadSchema):
    """What finance plans the receivables of a signed contract from."""
    contract_id = fields.String(required=True)
    account_id = fields.String(required=True)
    owner_id = Str()
    partner_id = Str()
    currency = fields.String(required=True)
    total = fields.Decimal(as_string=True, required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(allow_none=True, load_default=None)
    billing_frequency = fields.String(required=True)
    billing_schedule = fields.List(fields.Nested(ScheduledInstalment), required=True)


class TerminatedContract(PayloadSchema):
    contract_id = fields.String(required=True)
    terminated_on = fields.Date(required=True)


ACCOUNT_CREATED = ConsumedEvent("sales.account_created", versions=(1,), schema=AccountForFinance,
                                handler="on_account_created")
CONTRACT_SIGNED = ConsumedEvent("sales.contract_signed", versions=(1,), schema=SignedContract,
                                handler="on_contract_signed")
CONTRACT_TERMINATED = ConsumedEvent("sales.contract_terminated", versions=(1,), schema=TerminatedContract,
                                    handler="on_contract_terminated")

CONSUMED_EVENTS = (ACCOUNT_CREATED, CONTRACT_SIGNED, CONTRACT_TERMINATED)
