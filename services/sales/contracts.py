"""The sales service's public face: the events it publishes and what it reads
from the events it consumes (its HTTP routes will join them here).

Consumers read these contracts from the exported documents
(``docs/contracts/``, ``crm contracts export``), never from this module.
"""
from __future__ import annotations

from marshmallow import fields, validate

from shared.events import ConsumedEvent, EventContract, Money, PayloadSchema, Str

# --- Events published ----------------------------------------------------------


class AccountCreated(PayloadSchema):
    account_id = fields.String(required=True)
    name = fields.String(required=True)
    owner_id = Str()
    team_id = Str()
    branch_id = Str()
    partner_id = Str()
    segment = Str()
    industry = Str()
    line_of_business = Str()
    source_lead_id = Str()


class SalesLine(PayloadSchema):
    product_id = Str()
    description = fields.String(required=True)
    quantity = fields.Decimal(as_string=True, required=True)
    unit_price = fields.Decimal(as_string=True, required=True)
    discount_pct = fields.Decimal(as_string=True, load_default=None)
    unit_cost = fields.Decimal(as_string=True, required=True)
    net = fields.Decimal(as_string=True, required=True)


class OpportunityCreated(PayloadSchema):
    opportunity_id = fields.String(required=True)
    account_id = fields.String(required=True)
    owner_id = Str()
    team_id = Str()
    partner_id = Str()
    source = Str()
    pipeline_id = fields.String(required=True)
    stage = fields.String(required=True)
    probability = fields.Integer(required=True)
    amount = Money(load_default=None)
    currency = Str()
    expected_close_date = fields.Date(allow_none=True, load_default=None)
    lines = fields.List(fields.Nested(SalesLine), load_default=list)
    source_lead_id = Str()


class OpportunityStageChanged(PayloadSchema):
    opportunity_id = fields.String(required=True)
    from_stage = fields.String(required=True, data_key="from")
    to_stage = fields.String(required=True, data_key="to")
    probability = fields.Integer(required=True)
    amount = Money(load_default=None)
    currency = Str()


class OpportunityClosed(PayloadSchema):
    opportunity_id = fields.String(required=True)
    account_id = fields.String(required=True)
    owner_id = Str()
    amount = Money(load_default=None)
    currency = Str()
    reason = Str()
    competitor = Str()


class BillingInstalment(PayloadSchema):
    due_date = fields.Date(required=True)
    amount = fields.Decimal(as_string=True, required=True)


class ContractSigned(PayloadSchema):
    contract_id = fields.String(required=True)
    account_id = fields.String(required=True)
    opportunity_id = Str()
    owner_id = Str()
    partner_id = Str()
    currency = fields.String(required=True)
    total = fields.Decimal(as_string=True, required=True)
    cost = fields.Decimal(as_string=True, required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(allow_none=True, load_default=None)
    lines = fields.List(fields.Nested(SalesLine), required=True)
    billing_frequency = fields.String(required=True)
    billing_schedule = fields.List(fields.Nested(BillingInstalment), required=True)


class ContractTerminated(PayloadSchema):
    contract_id = fields.String(required=True)
    account_id = fields.String(required=True)
    terminated_on = fields.Date(required=True)
    reason = Str()


class ActivityLogged(PayloadSchema):
    activity_id = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["call", "meeting", "email", "task"]))
    owner_id = Str()
    account_id = Str()
    opportunity_id = Str()
    due_at = fields.AwareDateTime(allow_none=True, load_default=None)
    duration_minutes = fields.Integer(allow_none=True, load_default=None)
    outcome = Str()
    cost = Money(load_default=None)
    currency = Str()


class TargetLine(PayloadSchema):
    label = fields.String(required=True)
    revenue = fields.Decimal(as_string=True, required=True)
    margin = fields.Decimal(as_string=True, required=True)


class TargetApproved(PayloadSchema):
    """The approved plan of one rep for one period; doubtful lines are left out."""
    target_id = fields.String(required=True)
    owner_id = fields.String(required=True)
    team_id = Str()
    branch_id = Str()
    period = fields.String(required=True, validate=validate.OneOf(["day", "week", "month", "quarter"]))
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    currency = fields.String(required=True)
    revenue = fields.Decimal(as_string=True, required=True)
    margin = fields.Decimal(as_string=True, required=True)
    lines = fields.List(fields.Nested(TargetLine), load_default=list)
    approved_by = Str()


PUBLISHED_EVENTS = (
    EventContract("sales.account_created", 1, AccountCreated,
                  "An account was opened, by hand or from a converted lead."),
    EventContract("sales.opportunity_created", 1, OpportunityCreated,
                  "An opportunity was opened in a pipeline, with its lines and first stage."),
    EventContract("sales.opportunity_stage_changed", 1, OpportunityStageChanged,
                  "An opportunity moved to another stage of its pipeline."),
    EventContract("sales.opportunity_won", 1, OpportunityClosed,
                  "An opportunity was won (its quote accepted or marked won)."),
    EventContract("sales.opportunity_lost", 1, OpportunityClosed,
                  "An opportunity was lost, with the reason and the competitor that won."),
    EventContract("sales.contract_signed", 1, ContractSigned,
                  "A contract was signed: its lines with price and cost, and its billing schedule."),
    EventContract("sales.contract_terminated", 1, ContractTerminated,
                  "A signed contract was terminated, from a date and for a reason."),
    EventContract("sales.activity_logged", 1, ActivityLogged,
                  "A call, meeting, e-mail or task on an account or opportunity was logged with its outcome."),
    EventContract("sales.target_approved", 1, TargetApproved,
                  "A rep's sales target for a period was approved."),
)

# --- Events consumed -----------------------------------------------------------


class ConvertedLead(PayloadSchema):
    """What sales opens an account, a contact and an opportunity from."""
    lead_id = fields.String(required=True)
    company = fields.String(required=True)
    contact_name = Str()
    email = Str()
    phone = Str()
    address = Str()
    territory = Str()
    source = Str()
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


class UserForRoster(PayloadSchema):
    """What the sales roster keeps of a user: who may own records, in which team and branch."""
    user_id = fields.String(required=True)
    name = Str()
    role = fields.String(required=True)
    team_id = Str()
    branch_id = Str()
    partner_id = Str()
    active = fields.Boolean(required=True)


LEAD_CONVERTED = ConsumedEvent("leads.lead_converted", versions=(1,), schema=ConvertedLead,
                               handler="on_lead_converted")
USER_CHANGED = ConsumedEvent("gateway.user_changed", versions=(1,), schema=UserForRoster,
                             handler="on_user_changed")

CONSUMED_EVENTS = (LEAD_CONVERTED, USER_CHANGED)
