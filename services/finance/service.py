"""The finance service's nameko entrypoints: thin, each one use case.

Every ``@rpc`` method receives the caller as a typed
:class:`~shared.caller.Caller`; the use cases ask ``shared.policy`` with it.
Event handlers and the issuing timer act for nobody in particular and need none.
"""
from __future__ import annotations

import logging

from nameko.timer import Timer

from services.finance import contracts, credit_notes, invoices, plans, rates, receipts
from services.finance.models import metadata
from services.finance.settings import finance_settings
from shared.db import utcnow
from shared.http_face import HttpFace, ServesHttp
from shared.nameko_ext import Database, RequestContext, ServiceSettings, event_handler, readiness, rpc

log = logging.getLogger(__name__)

ISSUE_BATCH = 100   # instalments issued per tick at most, each in its own transaction


class SettingTimer(Timer):
    """``@timer`` whose interval is a finance setting, read when the service starts
    (nothing is read at import)."""

    def __init__(self, setting: str, **kwargs):
        super().__init__(interval=None, **kwargs)
        self.setting = setting

    def setup(self):
        self.interval = getattr(finance_settings(), self.setting)
        super().setup()


class FinanceService(ServesHttp):
    name = "finance"

    db = Database(metadata, contracts.PUBLISHED_EVENTS)
    web = HttpFace("services.finance.api:blueprint")  # its routes, served here: the http RPC method
    request_id = RequestContext()
    settings = ServiceSettings(finance_settings)

    @rpc
    def ping(self, caller):
        return readiness(self.db)

    # Invoices
    @rpc
    def create_invoice(self, caller, data):
        return invoices.create_invoice(self.db, caller, data, self.settings)

    @rpc
    def get_invoice(self, caller, invoice_id):
        return invoices.get_invoice(self.db.session, caller, invoice_id)

    @rpc
    def list_invoices(self, caller, filters, limit=50, offset=0):
        return invoices.list_invoices(self.db.session, caller, filters, limit, offset)

    @rpc
    def issue_invoice(self, caller, invoice_id):
        return invoices.issue_invoice(self.db, caller, invoice_id, self.settings)

    @rpc
    def void_invoice(self, caller, invoice_id):
        return invoices.void_invoice(self.db, caller, invoice_id)

    # Payments
    @rpc
    def record_payment(self, caller, data):
        return receipts.record_payment(self.db, caller, data, self.settings)

    @rpc
    def get_payment(self, caller, payment_id):
        return receipts.get_payment(self.db.session, caller, payment_id)

    @rpc
    def list_payments(self, caller, filters, limit=50, offset=0):
        return receipts.list_payments(self.db.session, caller, filters, limit, offset)

    # Credit notes
    @rpc
    def issue_credit_note(self, caller, data):
        return credit_notes.issue_credit_note(self.db, caller, data)

    @rpc
    def get_credit_note(self, caller, credit_note_id):
        return credit_notes.get_credit_note(self.db.session, caller, credit_note_id)

    @rpc
    def list_credit_notes(self, caller, filters, limit=50, offset=0):
        return credit_notes.list_credit_notes(self.db.session, caller, filters, limit, offset)

    # Receivable plans
    @rpc
    def get_receivable_plan(self, caller, plan_id):
        return plans.get_plan(self.db.session, caller, plan_id)

    @rpc
    def list_receivable_plans(self, caller, filters, limit=50, offset=0):
        return plans.list_plans(self.db.session, caller, filters, limit, offset)

    # Exchange rates
    @rpc
    def add_exchange_rate(self, caller, data):
        return rates.add_rate(self.db, caller, data, self.settings.company_currency)

    @rpc
    def list_exchange_rates(self, caller, filters, limit=50, offset=0):
        return rates.list_rates(self.db.session, caller, filters, limit, offset, self.settings.company_currency)

    # Issuing what falls due
    @SettingTimer.decorator(setting="issue_interval")
    def issue_due_instalments(self):
        """Each planned instalment due by today becomes an issued invoice, each in its own
        transaction; at most ISSUE_BATCH a tick (the next tick goes on)."""
        today = utcnow().date()
        due = invoices.due_instalments(self.db.session, today, self.settings.company_currency, ISSUE_BATCH)
        self.db.rollback()   # the read's transaction: each issue takes its own
        for instalment_id in due:
            try:
                invoices.issue_instalment(self.db, instalment_id, self.settings, today)
                self.db.commit()
            except Exception:
                self.db.rollback()
                log.exception("could not issue instalment %s; it stays planned and is tried again", instalment_id)

    # Events
    @event_handler(contracts.ACCOUNT_CREATED)
    def on_account_created(self, event):
        plans.upsert_account(self.db.session, event["payload"])

    @event_handler(contracts.CONTRACT_SIGNED)
    def on_contract_signed(self, event):
        plans.apply_contract_signed(self.db, event["payload"])

    @event_handler(contracts.CONTRACT_TERMINATED)
    def on_contract_terminated(self, event):
        plans.apply_contract_terminated(self.db, event["payload"])
