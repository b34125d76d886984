"""The leads service's nameko entrypoints: thin, each one use case."""
from __future__ import annotations

from datetime import timedelta

from nameko.timer import timer

from services.leads import activities, assignment_rules, contracts, importer, leads, pool, roster
from services.leads.models import metadata
from services.leads.settings import leads_settings
from shared.http_face import HttpFace, ServesHttp
from shared.nameko_ext import Database, RequestContext, ServiceSettings, event_handler, readiness, rpc


class LeadsService(ServesHttp):
    name = "leads"

    db = Database(metadata, contracts.PUBLISHED_EVENTS)
    web = HttpFace("services.leads.api:blueprint")  # its routes, served here: the http RPC method
    request_id = RequestContext()
    settings = ServiceSettings(leads_settings)

    @rpc
    def ping(self, caller):
        return readiness(self.db)

    # Leads
    @rpc
    def create_lead(self, caller, data):
        return leads.create_lead(self.db, caller, data)

    @rpc
    def get_lead(self, caller, lead_id):
        return leads.get_lead(self.db.session, caller, lead_id)

    @rpc
    def lead_history(self, caller, lead_id):
        return leads.history(self.db.session, caller, lead_id)

    @rpc
    def list_leads(self, caller, filters, sort="-created_at", limit=50, offset=0):
        return leads.list_leads(self.db.session, caller, filters, sort, limit, offset)

    @rpc
    def list_pool(self, caller, filters, sort="-created_at", limit=50, offset=0):
        return leads.list_leads(self.db.session, caller, filters, sort, limit, offset, pool_only=True)

    @rpc
    def export_leads(self, caller, filters, sort="-created_at", offset=0, limit=1000):
        return leads.list_leads(self.db.session, caller, filters, sort, limit, offset)

    @rpc
    def update_lead(self, caller, lead_id, data):
        return leads.update_lead(self.db, caller, lead_id, data)

    @rpc
    def change_status(self, caller, lead_id, status, reason=None):
        return leads.change_status(self.db, caller, lead_id, status, reason)

    @rpc
    def convert_lead(self, caller, lead_id):
        return leads.convert_lead(self.db, caller, lead_id)

    @rpc
    def assign_lead(self, caller, lead_id, owner_id=None, rule=None):
        return assignment_rules.assign_lead(self.db, caller, lead_id, owner_id, rule)

    @rpc
    def claim_lead(self, caller, lead_id):
        return pool.claim_lead(self.db, caller, lead_id, self.settings.pool_claim_cap)

    @rpc
    def release_lead(self, caller, lead_id):
        return pool.release_lead(self.db, caller, lead_id)

    @rpc
    def merge_leads(self, caller, target_id, source_id):
        return leads.merge_leads(self.db, caller, target_id, source_id)

    @rpc
    def reassign_owner(self, caller, from_owner_id, to_owner_id=None):
        return pool.reassign_owner(self.db, caller, from_owner_id, to_owner_id)

    # Assignment rules
    @rpc
    def create_assignment_rule(self, caller, data):
        return assignment_rules.create_assignment_rule(self.db, caller, data)

    @rpc
    def list_assignment_rules(self, caller):
        return assignment_rules.list_assignment_rules(self.db.session, caller)

    @rpc
    def delete_assignment_rule(self, caller, rule_id):
        return assignment_rules.delete_assignment_rule(self.db, caller, rule_id)

    # Import
    @rpc
    def start_import(self, caller, filename, mapping=None):
        return importer.start_import(self.db, caller, filename, mapping)

    @rpc
    def add_import_chunk(self, caller, job_id, seq, rows):
        return importer.add_chunk(self.db, caller, job_id, seq, rows)

    @rpc
    def finish_import(self, caller, job_id, total_rows):
        return importer.finish_upload(self.db, caller, job_id, total_rows)

    @rpc
    def fail_import(self, caller, job_id, reason):
        return importer.fail_upload(self.db, caller, job_id, reason)

    @rpc
    def get_import(self, caller, job_id, error_offset=0, error_limit=100):
        return importer.get_import(self.db.session, caller, job_id, error_offset, error_limit)

    @timer(interval=0.5)
    def process_imports(self):
        # One transaction per chunk, so progress is visible and a crash loses no chunk.
        for _ in range(20):
            if not importer.process_next_chunk(self.db):
                break
            self.db.commit()

    @timer(interval=60)
    def fail_abandoned_imports(self):
        importer.fail_abandoned_uploads(self.db, timedelta(seconds=self.settings.import_upload_timeout))
        self.db.commit()

    # Activities
    @rpc
    def create_activity(self, caller, data):
        return activities.create_activity(self.db, caller, data)

    @rpc
    def list_activities(self, caller, filters, sort="due_at", limit=50, offset=0):
        return activities.list_activities(self.db.session, caller, filters, sort, limit, offset)

    @rpc
    def plan_calls(self, caller, data):
        return activities.plan_calls(self.db, caller, data, self.settings.default_time_zone)

    @rpc
    def record_outcome(self, caller, activity_id, outcome):
        return activities.record_outcome(self.db, caller, activity_id, outcome)

    @rpc
    def outcome_required(self, caller):
        return activities.outcome_required(self.db.session, caller)

    @rpc
    def calendar_token(self, caller):
        return activities.calendar_token(self.db, caller)

    @rpc
    def calendar_feed(self, _anonymous, token):
        """The feed's secret address is its only credential: the caller is anonymous."""
        return activities.calendar_feed(self.db.session, token)

    # Housekeeping and the roster
    @timer(interval=3600)
    def return_stale_leads(self):
        while pool.release_stale(self.db, self.settings.pool_stale_days):
            self.db.commit()

    @event_handler(contracts.USER_CHANGED)
    def on_user_changed(self, event):
        roster.upsert_rep(self.db.session, event["payload"])
