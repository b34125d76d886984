"""Marshmallow schemas of the leads service: the RPC payloads, which the
gateway also uses to validate requests and to generate the OpenAPI document."""
from __future__ import annotations

from datetime import time

from marshmallow import EXCLUDE, Schema, ValidationError, validate, validates_schema

from services.leads.domain import ACTIVITY_TYPES, LeadSource, LeadStatus
from services.leads.planner import MAX_PLAN_LEADS, MAX_PLAN_OWNERS, time_zone
from shared.errors import Invalid
from shared import fields, listing
from shared.fields import WireDateTime
from shared.listing import Strict

SOURCES = [s.value for s in LeadSource]
STATUSES = [s.value for s in LeadStatus] + ["prospect"]
SORTABLE = ["created_at", "-created_at", "updated_at", "-updated_at", "score", "-score",
            "company", "-company", "estimated_value", "-estimated_value", "status", "-status"]
Tag = fields.String(validate=validate.Length(min=1, max=60))


def valid_time_zone(name: str) -> None:
    try:
        time_zone(name)
    except Invalid as exc:
        raise ValidationError(exc.errors["time_zone"]) from None


class LeadWrite(Strict):
    company = fields.String(validate=validate.Length(min=1, max=200))
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    email = fields.Email(allow_none=True)
    phone = fields.String(allow_none=True, validate=validate.Length(max=50))
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    territory = fields.String(allow_none=True, validate=validate.Length(max=100))
    source = fields.String(validate=validate.OneOf(SOURCES))
    channel = fields.String(allow_none=True, validate=validate.Length(max=100))
    campaign = fields.String(allow_none=True, validate=validate.Length(max=100))
    segment = fields.String(allow_none=True, validate=validate.Length(max=60))
    industry = fields.String(allow_none=True, validate=validate.Length(max=100))
    estimated_value = fields.Money(allow_none=True, validate=validate.Range(min=0))
    currency = fields.String(allow_none=True, validate=validate.Regexp(r"^[A-Z]{3}$",
                             error="must be an ISO 4217 code such as EUR"))
    acquisition_cost = fields.Money(allow_none=True, validate=validate.Range(min=0))
    tags = fields.List(Tag)
    interests = fields.List(Tag)
    notes = fields.String(allow_none=True, validate=validate.Length(max=10000))

    @validates_schema
    def _money_has_currency(self, data, **_):
        if (data.get("estimated_value") is not None or data.get("acquisition_cost") is not None) \
                and not data.get("currency"):
            raise ValidationError("required when an amount is given", "currency")


class LeadCreate(LeadWrite):
    company = fields.String(required=True, validate=validate.Length(min=1, max=200))
    source = fields.String(load_default="other", validate=validate.OneOf(SOURCES))
    owner_id = fields.String(allow_none=True)
    status = fields.String(load_default="new", validate=validate.OneOf(["new", "prospect"]))


class LeadUpdate(LeadWrite):
    version = fields.Integer(required=True, metadata={"description": "the version you read; a stale one gets 409"})


class LeadOut(Schema):
    id = fields.String()
    company = fields.String()
    contact_name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    territory = fields.String(allow_none=True)
    source = fields.String()
    channel = fields.String(allow_none=True)
    campaign = fields.String(allow_none=True)
    segment = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    estimated_value = fields.Decimal(as_string=True, allow_none=True)
    currency = fields.String(allow_none=True)
    acquisition_cost = fields.Decimal(as_string=True, allow_none=True)
    tags = fields.List(fields.String())
    interests = fields.List(fields.String())
    notes = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    status = fields.String()
    disqualify_reason = fields.String(allow_none=True)
    score = fields.Integer()
    in_pool = fields.Boolean()
    merged_into_id = fields.String(allow_none=True)
    version = fields.Integer()
    created_at = WireDateTime()
    updated_at = WireDateTime()
    last_touched_at = WireDateTime(allow_none=True)
    converted_at = WireDateTime(allow_none=True)


class LeadFilter(Strict):
    status = fields.String(validate=validate.OneOf(STATUSES))
    owner_id = fields.String()
    team_id = fields.String()
    partner_id = fields.String()
    source = fields.String(validate=validate.OneOf(SOURCES))
    segment = fields.String()
    territory = fields.String()
    tag = fields.String()
    q = fields.String(metadata={"description": "substring of company, contact or email"})
    in_pool = fields.Boolean()
    created_after = fields.AwareDateTime()
    created_before = fields.AwareDateTime()
    min_score = fields.Integer()


class Page(listing.Page):
    sort = fields.String(load_default="-created_at", validate=validate.OneOf(SORTABLE))


class LeadListQuery(LeadFilter, Page):
    pass


class ExportQuery(LeadFilter):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))
    sort = fields.String(load_default="-created_at", validate=validate.OneOf(SORTABLE))
    bom = fields.Boolean(load_default=False, metadata={
        "description": "CSV only: start with a UTF-8 byte order mark, so that Excel reads the text as UTF-8"})


class StatusChange(Strict):
    reason = fields.String(validate=validate.Length(max=500))


class Disqualify(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class Assign(Strict):
    owner_id = fields.String(allow_none=True, metadata={
        "description": "the new owner; omit to let the assignment rules choose"})
    rule = fields.String(metadata={"description": "apply only this assignment rule (by name)"})


class Merge(Strict):
    source_id = fields.String(required=True, metadata={
        "description": "the lead folded into this one; it is closed afterwards"})


class Reassign(Strict):
    from_owner_id = fields.String(required=True)
    to_owner_id = fields.String(allow_none=True, metadata={
        "description": "the new owner; omit or null to put the leads back in the pool"})


class AssignmentRuleIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    strategy = fields.String(required=True, metadata={"description": "an installed strategy, e.g. round_robin, territory, segment, source"})
    priority = fields.Integer(load_default=100)
    team_id = fields.String(allow_none=True)
    source = fields.String(allow_none=True, validate=validate.OneOf(SOURCES))
    segment = fields.String(allow_none=True)
    territory = fields.String(allow_none=True)
    active = fields.Boolean(load_default=True)


class AssignmentRuleOut(AssignmentRuleIn):
    class Meta:
        unknown = EXCLUDE
    id = fields.String()


class ActivityCreate(Strict):
    lead_id = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(ACTIVITY_TYPES))
    subject = fields.String(allow_none=True, validate=validate.Length(max=200))
    owner_id = fields.String(allow_none=True)
    due_at = fields.AwareDateTime(required=True)
    duration_minutes = fields.Integer(load_default=30, validate=validate.Range(min=1, max=1440))
    cost = fields.Money(allow_none=True, validate=validate.Range(min=0))
    currency = fields.String(allow_none=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    notes = fields.String(allow_none=True, validate=validate.Length(max=5000))
    outcome = fields.String(allow_none=True, validate=validate.Length(min=1, max=2000))


class ActivityOut(Schema):
    id = fields.String()
    lead_id = fields.String()
    lead_company = fields.String(allow_none=True)
    type = fields.String()
    subject = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    due_at = WireDateTime()
    duration_minutes = fields.Integer()
    cost = fields.Decimal(as_string=True, allow_none=True)
    currency = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    outcome_at = WireDateTime(allow_none=True)
    created_at = WireDateTime()


class ActivityListQuery(Page):
    owner_id = fields.String()
    lead_id = fields.String()
    type = fields.String(validate=validate.OneOf(ACTIVITY_TYPES))
    due_after = fields.AwareDateTime()
    due_before = fields.AwareDateTime()
    sort = fields.String(load_default="due_at", validate=validate.OneOf(["due_at", "-due_at", "created_at", "-created_at"]))


class PlanCalls(Strict):
    lead_ids = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=MAX_PLAN_LEADS))
    owner_ids = fields.List(fields.String(), validate=validate.Length(min=1, max=MAX_PLAN_OWNERS), metadata={
        "description": "reps whose planners get the calls; default: each lead's owner"})
    first_day = fields.Date(required=True)
    last_day = fields.Date(required=True)
    day_start = fields.Time(load_default=time(9, 0))
    day_end = fields.Time(load_default=time(17, 0))
    duration_minutes = fields.Integer(load_default=15, validate=validate.Range(min=1, max=480))
    skip_weekends = fields.Boolean(load_default=True)
    subject = fields.String(allow_none=True, validate=validate.Length(max=200))
    time_zone = fields.String(validate=[validate.Length(max=64), valid_time_zone], metadata={
        "description": "IANA time zone of the working hours, e.g. Europe/Warsaw; default "
                       "LEADS_DEFAULT_TIME_ZONE (UTC). The calls are stored as UTC instants, "
                       "daylight saving time included", "example": "Europe/Warsaw"})


class Outcome(Strict):
    outcome = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ImportStart(Strict):
    filename = fields.String(required=True)
    mapping = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)


class ImportErrorOut(Schema):
    row = fields.Integer()
    field = fields.String(allow_none=True)
    reason = fields.String()
    existing_lead_id = fields.String(allow_none=True)


class ImportJobOut(Schema):
    id = fields.String()
    filename = fields.String()
    status = fields.String()
    total_rows = fields.Integer()
    processed_rows = fields.Integer()
    imported = fields.Integer()
    rejected = fields.Integer()
    created_at = WireDateTime()
    finished_at = WireDateTime(allow_none=True)
    errors = fields.List(fields.Nested(ImportErrorOut))
