"""The sales service's nameko entrypoints: thin, each one use case.

Every ``@rpc`` method receives the caller as a typed
:class:`~shared.caller.Caller`; the use cases ask ``shared.policy`` with it.
Event handlers act for nobody in particular and need none.
"""
from __future__ import annotations

from services.sales import (accounts, activities, agreements, contracts, conversion, opportunities, pipelines,
                            roster, selections, targets)
from services.sales.models import metadata
from services.sales.settings import sales_settings
from shared.http_face import HttpFace, ServesHttp
from shared.nameko_ext import Database, RequestContext, ServiceSettings, event_handler, readiness, rpc


class SalesService(ServesHttp):
    name = "sales"

    db = Database(metadata, contracts.PUBLISHED_EVENTS)
    web = HttpFace("services.sales.api:blueprint")  # its routes, served here: the http RPC method
    request_id = RequestContext()
    settings = ServiceSettings(sales_settings)  # read at the start, though only the cadence rule uses them

    @rpc
    def ping(self, caller):
        return readiness(self.db)

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
    def update_account(self, caller, account_id, data):
        return accounts.update_account(self.db, caller, account_id, data)

    @rpc
    def follow_ups(self, caller, filters, limit=50, offset=0):
        return accounts.follow_ups(self.db.session, caller, filters, limit, offset)

    @rpc
    def create_contact(self, caller, data):
        return accounts.create_contact(self.db, caller, data)

    @rpc
    def update_contact(self, caller, contact_id, data):
        return accounts.update_contact(self.db, caller, contact_id, data)

    @rpc
    def link_contact(self, caller, contact_id, account_id, roles):
        return accounts.link_contact(self.db, caller, contact_id, account_id, roles)

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
    def update_product(self, caller, product_id, data):
        return accounts.update_product(self.db, caller, product_id, data)

    @rpc
    def list_products(self, caller, filters, limit=50, offset=0):
        return accounts.list_products(self.db.session, caller, filters, limit, offset)

    # Activities
    @rpc
    def log_activity(self, caller, data):
        return activities.log_activity(self.db, caller, data)

    @rpc
    def record_activity_outcome(self, caller, activity_id, outcome):
        return activities.record_outcome(self.db, caller, activity_id, outcome)

    @rpc
    def list_activities(self, caller, filters, limit=50, offset=0):
        return activities.list_activities(self.db.session, caller, filters, limit, offset)

    # Customer selections
    @rpc
    def search_customers(self, caller, target, criteria, limit=50, offset=0):
        return selections.search(self.db.session, caller, target, criteria, limit, offset)

    @rpc
    def save_selection(self, caller, data):
        return selections.save_selection(self.db, caller, data)

    @rpc
    def list_selections(self, caller, limit=50, offset=0):
        return selections.list_selections(self.db.session, caller, limit, offset)

    @rpc
    def get_selection(self, caller, selection_id):
        return selections.get_selection(self.db.session, caller, selection_id)

    @rpc
    def selection_results(self, caller, selection_id, limit=50, offset=0):
        return selections.selection_results(self.db.session, caller, selection_id, limit, offset)

    @rpc
    def delete_selection(self, caller, selection_id):
        return selections.delete_selection(self.db, caller, selection_id)

    # Sales targets
    @rpc
    def create_target(self, caller, data):
        return targets.create_target(self.db, caller, data)

    @rpc
    def get_target(self, caller, target_id):
        return targets.get_target(self.db.session, caller, target_id)

    @rpc
    def list_targets(self, caller, filters, limit=50, offset=0):
        return targets.list_targets(self.db.session, caller, filters, limit, offset)

    @rpc
    def update_target(self, caller, target_id, data):
        return targets.update_target(self.db, caller, target_id, data)

    @rpc
    def submit_target(self, caller, target_id):
        return targets.submit_target(self.db, caller, target_id)

    @rpc
    def approve_target(self, caller, target_id):
        return targets.approve_target(self.db, caller, target_id)

    @rpc
    def reject_target(self, caller, target_id, note):
        return targets.reject_target(self.db, caller, target_id, note)

    @rpc
    def consolidated_targets(self, caller, filters, level="team"):
        return targets.consolidated_targets(self.db.session, caller, filters, level)

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
        return agreements.create_quote(self.db, caller, opportunity_id, valid_until)

    @rpc
    def decide_quote(self, caller, quote_id, status):
        return agreements.decide_quote(self.db, caller, quote_id, status)

    @rpc
    def list_quotes(self, caller, opportunity_id):
        return agreements.list_quotes(self.db.session, caller, opportunity_id)

    @rpc
    def create_contract(self, caller, data):
        return agreements.create_contract(self.db, caller, data)

    @rpc
    def get_contract(self, caller, contract_id):
        return agreements.get_contract(self.db.session, caller, contract_id)

    @rpc
    def list_contracts(self, caller, filters, limit=50, offset=0):
        return agreements.list_contracts(self.db.session, caller, filters, limit, offset)

    @rpc
    def update_contract(self, caller, contract_id, data):
        return agreements.update_contract(self.db, caller, contract_id, data)

    @rpc
    def sign_contract(self, caller, contract_id):
        return agreements.sign_contract(self.db, caller, contract_id)

    @rpc
    def terminate_contract(self, caller, contract_id, terminated_on, reason):
        return agreements.terminate_contract(self.db, caller, contract_id, terminated_on, reason)

    # Events
    @event_handler(contracts.LEAD_CONVERTED)
    def on_lead_converted(self, event):
        conversion.apply_lead_converted(self.db, event["payload"])

    @event_handler(contracts.USER_CHANGED)
    def on_user_changed(self, event):
        roster.upsert_rep(self.db.session, event["payload"])
