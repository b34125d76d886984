"""The sales service's nameko entrypoints: thin, each one use case."""
from __future__ import annotations

from services.sales import accounts, contracts, conversion, opportunities, pipelines
from services.sales.models import metadata
from shared.nameko_ext import Database, RequestContext, event_handler, rpc


class SalesService:
    name = "sales"

    db = Database(metadata)
    request_id = RequestContext()

    @rpc
    def ping(self, caller):
        return "pong"

    # Accounts, contacts, products
    @rpc
    def create_account(self, caller, data):
        return accounts.create_account(self.db, caller, data)

    @rpc
    def get_account(self, caller, account_id):
        return accounts.get_account(self.db.session, caller, account_id)

    @rpc
    def list_accounts(self, caller, filters, limit=50, offset=0):
        return accounts.list_accounts(self.db.session, caller, filters, limit, offset)

    @rpc
    def create_contact(self, caller, data):
        return accounts.create_contact(self.db, caller, data)

    @rpc
    def get_contact(self, caller, contact_id):
        return accounts.get_contact(self.db.session, caller, contact_id)

    @rpc
    def list_contacts(self, caller, filters, limit=50, offset=0):
        return accounts.list_contacts(self.db.session, caller, filters, limit, offset)

    @rpc
    def create_product(self, caller, data):
        return accounts.create_product(self.db, caller, data)

    @rpc
    def list_products(self, caller, active_only=True, limit=50, offset=0):
        return accounts.list_products(self.db.session, caller, active_only, limit, offset)

    # Pipelines and opportunities
    @rpc
    def create_pipeline(self, caller, data):
        return pipelines.create_pipeline(self.db, caller, data)

    @rpc
    def list_pipelines(self, caller):
        return pipelines.list_pipelines(self.db.session, caller)

    @rpc
    def create_opportunity(self, caller, data):
        return opportunities.create_opportunity(self.db, caller, data)

    @rpc
    def get_opportunity(self, caller, opportunity_id):
        return opportunities.get_opportunity(self.db.session, caller, opportunity_id)

    @rpc
    def list_opportunities(self, caller, filters, limit=50, offset=0):
        return opportunities.list_opportunities(self.db.session, caller, filters, limit, offset)

    @rpc
    def update_opportunity(self, caller, opportunity_id, data):
        return opportunities.update_opportunity(self.db, caller, opportunity_id, data)

    @rpc
    def move_stage(self, caller, opportunity_id, stage):
        return opportunities.move_stage(self.db, caller, opportunity_id, stage)

    @rpc
    def mark_won(self, caller, opportunity_id):
        return opportunities.mark_won(self.db, caller, opportunity_id)

    @rpc
    def mark_lost(self, caller, opportunity_id, reason, competitor=None):
        return opportunities.mark_lost(self.db, caller, opportunity_id, reason, competitor)

    # Quotes and contracts
    @rpc
    def create_quote(self, caller, opportunity_id, valid_until):
        return contracts.create_quote(self.db, caller, opportunity_id, valid_until)

    @rpc
    def decide_quote(self, caller, quote_id, status):
        return contracts.decide_quote(self.db, caller, quote_id, status)

    @rpc
    def list_quotes(self, caller, opportunity_id):
        return contracts.list_quotes(self.db.session, caller, opportunity_id)

    @rpc
    def create_contract(self, caller, data):
        return contracts.create_contract(self.db, caller, data)

    @rpc
    def get_contract(self, caller, contract_id):
        return contracts.get_contract(self.db.session, caller, contract_id)

    @rpc
    def list_contracts(self, caller, filters, limit=50, offset=0):
        return contracts.list_contracts(self.db.session, caller, filters, limit, offset)

    @rpc
    def update_contract(self, caller, contract_id, data):
        return contracts.update_contract(self.db, caller, contract_id, data)

    @rpc
    def sign_contract(self, caller, contract_id):
        return contracts.sign_contract(self.db, caller, contract_id)

    @rpc
    def terminate_contract(self, caller, contract_id, terminated_on, reason):
        return contracts.terminate_contract(self.db, caller, contract_id, terminated_on, reason)

    # Events
    @event_handler("leads", "leads.lead_converted")
    def on_lead_converted(self, event):
        conversion.apply_lead_converted(self.db, event["payload"])
