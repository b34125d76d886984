"""The finance service's HTTP routes, served by the service itself (shared.http_face):
invoices (and their PDF), payments, credit notes, receivable plans and exchange rates."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView

from services.finance import schemas as s
from services.finance.documents import invoice_document, render_invoice_pdf
from services.finance.settings import finance_settings
from shared.errors import Conflict
from shared.web import Blueprint, call, page, page_schema, policy

blueprint = Blueprint("finance", __name__, url_prefix="/api/v1",
                      description="Invoices with gap-free numbers, payments and credit notes settling them, the receivable plans of signed contracts, "
                                  "exchange rates to the company currency")


def _paged(method: str, args: dict):
    args = dict(args)
    limit, offset = args.pop("limit"), args.pop("offset")
    return page(call(method, args, limit, offset), limit, offset)


@blueprint.route("/invoices")
class Invoices(MethodView):
    @policy("invoice.read")
    @blueprint.arguments(s.InvoiceQuery(), location="query")
    @blueprint.response(200, page_schema(s.InvoiceOut))
    def get(self, args):
        """Invoices of the accounts you may see, filtered by account, contract or status."""
        return _paged("list_invoices", args)

    @policy("invoice.write")
    @blueprint.arguments(s.InvoiceIn())
    @blueprint.response(201, s.InvoiceOut)
    def post(self, data):
        """A draft invoice with its lines and totals (rounded half-up per line); issue it to number it."""
        return call("create_invoice", data)


@blueprint.route("/invoices/<invoice_id>")
@policy("invoice.read")
@blueprint.response(200, s.InvoiceOut)
def get_invoice(invoice_id):
    return call("get_invoice", invoice_id)


@blueprint.route("/invoices/<invoice_id>/pdf")
@policy("invoice.read")
@blueprint.response(200, description="the invoice as a PDF document (A4)", content_type="application/pdf")
def invoice_pdf(invoice_id):
    """The issued invoice as a PDF: seller, customer, its lines, the totals and the payment terms.
    A draft has no number yet (409)."""
    invoice = call("get_invoice", invoice_id)
    if invoice["number"] is None:
        raise Conflict("a draft has no number and no document yet: issue it first",
                       extra={"status_now": invoice["status"]})
    document = render_invoice_pdf(invoice_document(invoice, seller=finance_settings().company_name))
    return Response(document, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{invoice["number"]}.pdf"'})


@blueprint.route("/invoices/<invoice_id>/issue", methods=["POST"])
@policy("invoice.write")
@blueprint.response(200, s.InvoiceOut)
def issue_invoice(invoice_id):
    """Issue a draft: its gap-free number, dates, rate to the company currency; emits finance.invoice_issued."""
    return call("issue_invoice", invoice_id)


@blueprint.route("/invoices/<invoice_id>/void", methods=["POST"])
@policy("invoice.write")
@blueprint.response(200, s.InvoiceOut)
def void_invoice(invoice_id):
    """Void a draft, or an issued invoice nothing was paid or credited on; its number stays used."""
    return call("void_invoice", invoice_id)


@blueprint.route("/payments")
class Payments(MethodView):
    @policy("payment.read")
    @blueprint.arguments(s.PaymentQuery(), location="query")
    @blueprint.response(200, page_schema(s.PaymentOut))
    def get(self, args):
        """Payments of the accounts you may see, filtered by account or currency."""
        return _paged("list_payments", args)

    @policy("payment.write")
    @blueprint.arguments(s.PaymentIn())
    @blueprint.response(201, s.PaymentOut)
    def post(self, data):
        """Record a payment of an account: allocated to the invoices it names, or oldest first to the
        account's open invoices in its currency; the rest is the customer's credit. Emits
        finance.payment_received, and finance.invoice_paid for each invoice it settles."""
        return call("record_payment", data)


@blueprint.route("/payments/<payment_id>")
@policy("payment.read")
@blueprint.response(200, s.PaymentOut)
def get_payment(payment_id):
    return call("get_payment", payment_id)


@blueprint.route("/credit-notes")
class CreditNotes(MethodView):
    @policy("credit_note.read")
    @blueprint.arguments(s.CreditNoteQuery(), location="query")
    @blueprint.response(200, page_schema(s.CreditNoteOut))
    def get(self, args):
        """Credit notes of the accounts you may see, filtered by account or invoice."""
        return _paged("list_credit_notes", args)

    @policy("credit_note.write")
    @blueprint.arguments(s.CreditNoteIn())
    @blueprint.response(201, s.CreditNoteOut)
    def post(self, data):
        """A credit note on an issued or partially paid invoice, of at most its open amount (422 naming
        the limit), numbered CN-YEAR-SEQ without gaps. Emits finance.credit_note_issued."""
        return call("issue_credit_note", data)


@blueprint.route("/credit-notes/<credit_note_id>")
@policy("credit_note.read")
@blueprint.response(200, s.CreditNoteOut)
def get_credit_note(credit_note_id):
    return call("get_credit_note", credit_note_id)


@blueprint.route("/receivable-plans")
@policy("receivable_plan.read")
@blueprint.arguments(s.PlanQuery(), location="query")
@blueprint.response(200, page_schema(s.PlanOut))
def list_plans(args):
    """The receivable plans of signed contracts (one per contract), with their instalments."""
    return _paged("list_receivable_plans", args)


@blueprint.route("/receivable-plans/<plan_id>")
@policy("receivable_plan.read")
@blueprint.response(200, s.PlanOut)
def get_plan(plan_id):
    return call("get_receivable_plan", plan_id)


@blueprint.route("/exchange-rates")
class ExchangeRates(MethodView):
    @policy("exchange_rate.read")
    @blueprint.arguments(s.RateQuery(), location="query")
    @blueprint.response(200, page_schema(s.RateOut))
    def get(self, args):
        return _paged("list_exchange_rates", args)

    @policy("exchange_rate.write")
    @blueprint.arguments(s.RateIn())
    @blueprint.response(201, s.RateOut)
    def post(self, data):
        """A rate to the company currency, valid from a day until the currency's next rate."""
        return call("add_exchange_rate", data)
