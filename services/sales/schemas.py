"""Marshmallow schemas of the sales service: RPC payloads, reused by the gateway
for validation and the OpenAPI document."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from shared.fields import WireDateTime

Currency = lambda **kw: fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code such as EUR"), **kw)  # noqa: E731
Amount = lambda **kw: fields.Decimal(as_string=True, places=2, validate=validate.Range(min=0), **kw)  # noqa: E731


class Strict(Schema):
    class Meta:
        unknown = "raise"


class Page(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class AccountIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    owner_id = fields.String(allow_none=True)
    segment = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    line_of_business = fields.String(allow_none=True)
    territory = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    lifecycle = fields.String(validate=validate.OneOf(["prospect", "customer", "former"]))
    next_contact_on = fields.Date(allow_none=True)


class AccountOut(Schema):
    id = fields.String()
    name = fields.String()
    owner_id = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    branch_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    segment = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    line_of_business = fields.String(allow_none=True)
    territory = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    lifecycle = fields.String()
    next_contact_on = fields.String(allow_none=True)
    source_lead_id = fields.String(allow_none=True)
    created_at = WireDateTime()


class AccountQuery(Page):
    owner_id = fields.String()
    segment = fields.String()
    industry = fields.String()
    lifecycle = fields.String()
    q = fields.String()


class ContactIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(allow_none=True)
    phone = fields.String(allow_none=True)
    interests = fields.List(fields.String())
    topics = fields.List(fields.String())
    account_id = fields.String(allow_none=True)
    roles = fields.List(fields.String(validate=validate.OneOf(
        ["decision_maker", "influencer", "buyer", "user", "payer", "suspect", "prospect", "customer"])))


class ContactOut(Schema):
    id = fields.String()
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    interests = fields.List(fields.String())
    topics = fields.List(fields.String())
    accounts = fields.List(fields.Dict())
    created_at = WireDateTime()


class ContactQuery(Page):
    account_id = fields.String()
    q = fields.String()


class ProductIn(Strict):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=60))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    line_of_business = fields.String(allow_none=True)
    list_price = Amount(required=True)
    unit_cost = Amount(required=True)
    currency = Currency(required=True)
    active = fields.Boolean(load_default=True)


class ProductOut(Schema):
    class Meta:
        unknown = EXCLUDE
    id = fields.String()
    sku = fields.String()
    name = fields.String()
    line_of_business = fields.String(allow_none=True)
    list_price = fields.Decimal(as_string=True)
    unit_cost = fields.Decimal(as_string=True)
    currency = fields.String()
    active = fields.Boolean()


class StageIn(Strict):
    key = fields.String(required=True)
    name = fields.String(required=True)
    probability = fields.Integer(required=True)
    required_fields = fields.List(fields.String(), load_default=list)


class PipelineIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    line_of_business = fields.String(allow_none=True)
    is_default = fields.Boolean(load_default=False)
    stages = fields.List(fields.Nested(StageIn), required=True)


class PipelineOut(Schema):
    id = fields.String()
    name = fields.String()
    line_of_business = fields.String(allow_none=True)
    is_default = fields.Boolean()
    stages = fields.List(fields.Dict())


class LineIn(Strict):
    product_id = fields.String(allow_none=True)
    description = fields.String(validate=validate.Length(min=1, max=300))
    quantity = fields.Decimal(as_string=True, required=True, validate=validate.Range(min=0, min_inclusive=False))
    unit_price = Amount()
    discount_pct = fields.Decimal(as_string=True, load_default="0", validate=validate.Range(min=0, max=100))
    unit_cost = Amount()


class OpportunityFields(Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    contact_id = fields.String(allow_none=True)
    decision_maker_id = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True)
    probability = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=100))
    amount = Amount(allow_none=True)
    currency = Currency(allow_none=True)
    expected_close_date = fields.Date(allow_none=True)
    next_step = fields.String(allow_none=True)
    competitors = fields.List(fields.String())
    budget_confirmed = fields.Boolean()
    notes = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(LineIn))


class OpportunityIn(OpportunityFields):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    account_id = fields.String(required=True)
    pipeline_id = fields.String(allow_none=True, metadata={"description": "default pipeline when omitted"})
    stage = fields.String(allow_none=True, metadata={"description": "first stage when omitted"})


class OpportunityPatch(OpportunityFields):
    version = fields.Integer(required=True)


class OpportunityOut(Schema):
    id = fields.String()
    name = fields.String()
    account_id = fields.String()
    contact_id = fields.String(allow_none=True)
    decision_maker_id = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    pipeline_id = fields.String()
    stage = fields.String()
    status = fields.String()
    probability = fields.Integer()
    amount = fields.Decimal(as_string=True, allow_none=True)
    currency = fields.String(allow_none=True)
    expected_close_date = fields.String(allow_none=True)
    next_step = fields.String(allow_none=True)
    competitors = fields.List(fields.String())
    budget_confirmed = fields.Boolean()
    notes = fields.String(allow_none=True)
    lost_reason = fields.String(allow_none=True)
    lost_to_competitor = fields.String(allow_none=True)
    lines = fields.List(fields.Dict())
    totals = fields.Dict()
    stage_history = fields.List(fields.Dict())
    version = fields.Integer()
    created_at = WireDateTime()


class OpportunityQuery(Page):
    account_id = fields.String()
    owner_id = fields.String()
    status = fields.String(validate=validate.OneOf(["open", "won", "lost"]))
    stage = fields.String()
    pipeline_id = fields.String()


class StageMove(Strict):
    stage = fields.String(required=True)


class Lost(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    competitor = fields.String(allow_none=True)


class QuoteIn(Strict):
    opportunity_id = fields.String(required=True)
    valid_until = fields.Date(required=True)


class QuoteOut(Schema):
    id = fields.String()
    opportunity_id = fields.String()
    version = fields.Integer()
    status = fields.String()
    valid_until = fields.String()
    lines = fields.List(fields.Dict())
    amount = fields.Decimal(as_string=True)
    cost = fields.Decimal(as_string=True)
    currency = fields.String()
    contract_id = fields.String(allow_none=True)
    created_at = WireDateTime()


class InstalmentIn(Strict):
    due_date = fields.Date(required=True)
    amount = Amount(required=True)


class ContractIn(Strict):
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)
    billing_frequency = fields.String(validate=validate.OneOf(["one_off", "monthly", "quarterly", "instalments"]))
    instalments = fields.List(fields.Nested(InstalmentIn))


class ContractCreate(ContractIn):
    account_id = fields.String(required=True)
    currency = Currency(required=True)
    lines = fields.List(fields.Nested(LineIn), required=True, validate=validate.Length(min=1))
    start_date = fields.Date(required=True)
    billing_frequency = fields.String(required=True, validate=validate.OneOf(["one_off", "monthly", "quarterly", "instalments"]))


class ContractPatch(ContractIn):
    version = fields.Integer(required=True)


class ContractOut(Schema):
    id = fields.String()
    account_id = fields.String()
    opportunity_id = fields.String(allow_none=True)
    quote_id = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True)
    status = fields.String()
    start_date = fields.String()
    end_date = fields.String(allow_none=True)
    currency = fields.String()
    total = fields.Decimal(as_string=True)
    cost = fields.Decimal(as_string=True)
    lines = fields.List(fields.Dict())
    billing_frequency = fields.String()
    schedule = fields.List(fields.Dict())
    version = fields.Integer()
    signed_at = WireDateTime(allow_none=True)
    terminated_at = WireDateTime(allow_none=True)
    termination_reason = fields.String(allow_none=True)


class ContractQuery(Page):
    account_id = fields.String()
    status = fields.String(validate=validate.OneOf(["draft", "signed", "terminated"]))
    renewal_within_days = fields.Integer(validate=validate.Range(min=1, max=3650), metadata={
        "description": "only signed contracts ending within this many days (the renewals list)"})


class Terminate(Strict):
    terminated_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
