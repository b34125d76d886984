"""The leads service's public face: the events it publishes and what it reads
from the events it consumes (its HTTP routes will join them here).

Consumers read these contracts from the exported documents
(``docs/contracts/``, ``crm contracts export``), never from this module.
"""
from __future__ import annotations

from marshmallow import fields, validate

from shared.events import ConsumedEvent, EventContract, Money, PayloadSchema, Str

# --- Events published ----------------------------------------------------------


class LeadCreated(PayloadSchema):
    lead_id = fields.String(required=True)
    company = Str()
    source = Str()
    channel = Str()
    campaign = Str()
    partner_id = Str()
    segment = Str()
    industry = Str()
    territory = Str()
    owner_id = Str()
    team_id = Str()
    estimated_value = Money(load_default=None)
    currency = Str()
    acquisition_cost = Money(load_default=None)
    status = fields.String(required=True)
    score = fields.Integer(load_default=None, allow_none=True)
    import_job_id = Str()


class LeadAssigned(PayloadSchema):
    lead_id = fields.String(required=True)
    owner_id = Str()
    previous_owner_id = Str()
    team_id = Str()
    rule = fields.String(required=True)


class LeadStatusChanged(PayloadSchema):
    lead_id = fields.String(required=True)
    from_status = fields.String(required=True, data_key="from")
    to_status = fields.String(required=True, data_key="to")
    reason = Str()


class LeadConverted(PayloadSchema):
    lead_id = fields.String(required=True)
    company = fields.String(required=True)
    contact_name = Str()
    email = Str()
    phone = Str()
    address = Str()
    territory = Str()
    source = Str()
    channel = Str()
    campaign = Str()
    partner_id = Str()
    segment = Str()
    industry = Str()
    estimated_value = Money(load_default=None)
    currency = Str()
    owner_id = Str()
    team_id = Str()
    tags = fields.List(fields.String(), load_default=list)
    interests = fields.List(fields.String(), load_default=list)
    notes = Str()


class LeadMerged(PayloadSchema):
    lead_id = fields.String(required=True)
    merged_lead_id = fields.String(required=True)


class ActivityLogged(PayloadSchema):
    activity_id = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["call", "meeting", "email", "task"]))
    owner_id = Str()
    lead_id = Str()
    due_at = fields.AwareDateTime(allow_none=True, load_default=None)
    duration_minutes = fields.Integer(allow_none=True, load_default=None)
    outcome = Str()
    cost = Money(load_default=None)
    currency = Str()


PUBLISHED_EVENTS = (
    EventContract("leads.lead_created", 1, LeadCreated,
                  "A lead was captured: by hand, from a partner, or from an imported file."),
    EventContract("leads.lead_assigned", 1, LeadAssigned,
                  "A lead got a new owner (or went back to the pool), and the rule that chose."),
    EventContract("leads.lead_status_changed", 1, LeadStatusChanged,
                  "A lead moved from one status to another, with the reason given."),
    EventContract("leads.lead_converted", 1, LeadConverted,
                  "A qualified lead was converted: the company, contact and deal data sales opens them from."),
    EventContract("leads.lead_merged", 1, LeadMerged,
                  "A duplicate lead was merged into another and is gone."),
    EventContract("leads.activity_logged", 1, ActivityLogged,
                  "A call, meeting, e-mail or task on a lead was logged or got its outcome."),
)

# --- Events consumed -----------------------------------------------------------


class UserForRoster(PayloadSchema):
    """What the leads roster keeps of a user: who may own and be assigned leads."""
    user_id = fields.String(required=True)
    name = Str()
    role = fields.String(required=True)
    team_id = Str()
    territory = Str()
    segments = fields.List(fields.String(), load_default=list)
    sources = fields.List(fields.String(), load_default=list)
    active = fields.Boolean(required=True)


USER_CHANGED = ConsumedEvent("gateway.user_changed", versions=(1,), schema=UserForRoster,
                             handler="on_user_changed")

CONSUMED_EVENTS = (USER_CHANGED,)
