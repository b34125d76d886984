"""Marshmallow schemas of the sales service: its RPC payloads and HTTP routes
(api.py, run in the service), validation and the OpenAPI document alike.

The use cases dump each answer once, through the ``...Out`` schema the API
documents (:func:`dump`); the routes pass it on without dumping again."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, validate

from shared import fields
from shared.fields import WireDateTime, utc_dump
from shared.listing import Page, Strict, sort_field

Currency = lambda **kw: fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code such as EUR"), **kw)  # noqa: E731
Amount = lambda **kw: fields.Money(validate=validate.Range(min=0), **kw)  # noqa: E731


class _Beside:
    """A record as a schema reads it, with values computed beside it taking precedence."""

    __slots__ = ("_record", "_computed")

    def __init__(self, record, computed: dict):
        self._record, self._computed = record, computed

    def __getattr__(self, name: str):
        if name in self._computed:
            return self._computed[name]
        return getattr(self._record, name)


def dump(schema: Schema, record, **computed) -> dict:
    """``record`` as ``schema`` shows it: the answer of a use case, times in UTC.
    ``computed`` gives the fields the record does not hold itself (an opportunity's
    totals, a contact's accounts). ``record`` is only read, never changed."""
    return utc_dump(schema, _Beside(record, computed) if computed else record)


ACCOUNT_SORT = ("name", "created_at", "next_contact_on", "lifetime_value", "last_purchase_on")
CONTACT_SORT = ("name", "created_at")
PRODUCT_SORT = ("sku", "name", "list_price")
OPPORTUNITY_SORT = ("created_at", "name", "amount", "expected_close_date", "updated_at")
CONTRACT_SORT = ("end_date", "start_date", "total", "created_at")
ACTIVITY_SORT = ("due_at", "created_at")
TARGET_SORT = ("period_start", "owner_id", "created_at")


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
    next_contact_on = fields.Date(allow_none=True, metadata={
        "description": "set by hand; otherwise the cadence rule plans it"})
    competition_level = fields.String(validate=validate.OneOf(["low", "medium", "high"]))
    repeat_purchase_probability = fields.Integer(validate=validate.Range(min=0, max=100), metadata={
        "description": "percent; with competition level and product life cycle, sets the contact cadence"})


class AccountPatch(AccountIn):
    name = fields.String(validate=validate.Length(min=1, max=200))


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
    competition_level = fields.String()
    repeat_purchase_probability = fields.Integer()
    last_contacted_on = fields.String(allow_none=True)
    last_purchase_on = fields.String(allow_none=True)
    lifetime_value = fields.Decimal(as_string=True)
    source_lead_id = fields.String(allow_none=True)
    created_at = WireDateTime()


class FollowUpOut(AccountOut):
    days_overdue = fields.Integer()


class FollowUpQuery(Page):
    owner_id = fields.String()
    as_of = fields.Date(metadata={"description": "today when omitted"})


class AccountQuery(Page):
    sort = sort_field(ACCOUNT_SORT, "name")
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


class ContactPatch(Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    email = fields.Email(allow_none=True)
    phone = fields.String(allow_none=True)
    interests = fields.List(fields.String())
    topics = fields.List(fields.String(), metadata={"description": "topics discussed with the contact"})


class ContactRoles(Strict):
    roles = fields.List(fields.String(validate=validate.OneOf(
        ["decision_maker", "influencer", "buyer", "user", "payer", "suspect", "prospect", "customer"])),
        required=True, metadata={"description": "the contact's roles at this account; empty unlinks"})


class ContactAccountOut(Schema):
    account_id = fields.String()
    roles = fields.List(fields.String())


class ContactOut(Schema):
    id = fields.String()
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    interests = fields.List(fields.String())
    topics = fields.List(fields.String())
    accounts = fields.List(fields.Nested(ContactAccountOut), metadata={
        "description": "the accounts it is linked to, with its roles at each"})
    created_at = WireDateTime()


class ContactQuery(Page):
    sort = sort_field(CONTACT_SORT, "name")
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
    life_cycle_days = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=36500), metadata={
        "description": "how long the product lasts before it is bought again; drives the contact cadence"})


class ProductPatch(Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    line_of_business = fields.String(allow_none=True)
    list_price = Amount()
    unit_cost = Amount()
    active = fields.Boolean()
    life_cycle_days = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=36500))


class ProductQuery(Page):
    sort = sort_field(PRODUCT_SORT, "sku")
    active_only = fields.Boolean(load_default=True)
    line_of_business = fields.String()
    currency = fields.String()
    q = fields.String(metadata={"description": "part of the name or SKU"})


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
    life_cycle_days = fields.Integer(allow_none=True)


class StageIn(Strict):
    key = fields.String(required=True)
    name = fields.String(required=True)
    probability = fields.Integer(required=True, validate=validate.Range(min=0, max=100))
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
    quantity = fields.Decimal(places=4, max_digits=13, as_string=True, required=True,
                              validate=validate.Range(min=0, min_inclusive=False))
    unit_price = Amount()
    discount_pct = fields.Decimal(places=2, max_digits=5, as_string=True, load_default="0",
                                  validate=validate.Range(min=0, max=100))
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


class LineOut(Schema):
    """A line as an opportunity, quote or contract shows it (unit cost only with cost.read)."""
    product_id = fields.String(allow_none=True)
    description = fields.String()
    quantity = fields.Decimal(as_string=True)
    unit_price = fields.Decimal(as_string=True)
    discount_pct = fields.Decimal(as_string=True)
    unit_cost = fields.Decimal(as_string=True)
    net = fields.Decimal(as_string=True)


class OpportunityTotals(Schema):
    """Of all lines; cost and margins only with cost.read."""
    amount = fields.Decimal(as_string=True)
    cost = fields.Decimal(as_string=True)
    margin = fields.Decimal(as_string=True)
    margin_pct = fields.Decimal(as_string=True)


class StageChangeOut(Schema):
    from_ = fields.String(attribute="from", data_key="from", allow_none=True,
                          metadata={"description": "null for the first stage"})
    to = fields.String()
    actor_id = fields.String(allow_none=True)
    at = WireDateTime()


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
    lines = fields.List(fields.Nested(LineOut))
    totals = fields.Nested(OpportunityTotals)
    stage_history = fields.List(fields.Nested(StageChangeOut))
    version = fields.Integer()
    created_at = WireDateTime()


class OpportunityQuery(Page):
    sort = sort_field(OPPORTUNITY_SORT, "-created_at")
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
    lines = fields.List(fields.Nested(LineOut))
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
    lines = fields.List(fields.Nested(LineOut))
    billing_frequency = fields.String()
    schedule = fields.List(fields.Dict())
    version = fields.Integer()
    signed_at = WireDateTime(allow_none=True)
    terminated_at = WireDateTime(allow_none=True)
    termination_reason = fields.String(allow_none=True)


class ContractQuery(Page):
    sort = sort_field(CONTRACT_SORT, "end_date")
    account_id = fields.String()
    status = fields.String(validate=validate.OneOf(["draft", "signed", "terminated"]))
    renewal_within_days = fields.Integer(validate=validate.Range(min=1, max=3650), metadata={
        "description": "only signed contracts ending within this many days (the renewals list)"})


class Terminate(Strict):
    terminated_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class SalesActivityIn(Strict):
    type = fields.String(required=True, validate=validate.OneOf(["call", "meeting", "email", "task"]))
    subject = fields.String(allow_none=True, validate=validate.Length(max=300))
    owner_id = fields.String(allow_none=True, metadata={"description": "you when omitted"})
    opportunity_id = fields.String(allow_none=True)
    due_at = fields.AwareDateTime(allow_none=True, metadata={"description": "now when omitted"})
    duration_minutes = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=24 * 60))
    cost = Amount(allow_none=True)
    currency = Currency(allow_none=True)
    outcome = fields.String(allow_none=True, validate=validate.Length(min=1, max=500), metadata={
        "description": "given now, the activity is logged as done and counts as a contact"})
    notes = fields.String(allow_none=True)


class SalesActivityOut(Schema):
    id = fields.String()
    account_id = fields.String()
    opportunity_id = fields.String(allow_none=True)
    type = fields.String()
    subject = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True)
    due_at = WireDateTime()
    duration_minutes = fields.Integer()
    cost = fields.Decimal(as_string=True, allow_none=True)
    currency = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    outcome_at = WireDateTime(allow_none=True)
    notes = fields.String(allow_none=True)
    created_at = WireDateTime()


class SalesActivityQuery(Page):
    sort = sort_field(ACTIVITY_SORT, "-due_at")
    owner_id = fields.String()
    type = fields.String(validate=validate.OneOf(["call", "meeting", "email", "task"]))
    open = fields.Boolean(metadata={"description": "true: no outcome yet; false: done"})


class OutcomeIn(Strict):
    outcome = fields.String(required=True, validate=validate.Length(min=1, max=500))


class SelectionCriteria(Strict):
    tags = fields.List(fields.String())
    interests = fields.List(fields.String())
    roles = fields.List(fields.String(validate=validate.OneOf(
        ["decision_maker", "influencer", "buyer", "user", "payer", "suspect", "prospect", "customer"])))
    segment = fields.String()
    industry = fields.String()
    line_of_business = fields.String()
    territory = fields.String()
    lifecycle = fields.String(validate=validate.OneOf(["prospect", "customer", "former"]))
    owner_id = fields.String()
    products = fields.List(fields.String(), metadata={"description": "product ids or SKUs bought"})
    last_purchase_after = fields.Date()
    last_purchase_before = fields.Date()
    last_contact_after = fields.Date()
    last_contact_before = fields.Date(metadata={"description": "accounts never contacted match too"})
    lifetime_value_min = Amount()
    lifetime_value_max = Amount()


SelectionTarget = lambda **kw: fields.String(validate=validate.OneOf(["accounts", "contacts"]), **kw)  # noqa: E731


class SelectionSearch(Strict):
    target = SelectionTarget(load_default="accounts")
    criteria = fields.Nested(SelectionCriteria, load_default=dict)


class CustomerPage(Schema):
    items = fields.List(fields.Dict(), metadata={
        "description": "accounts (as GET /accounts/{id}) or contacts (as GET /contacts/{id}), by target"})
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class SelectionIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    target = SelectionTarget(load_default="accounts")
    criteria = fields.Nested(SelectionCriteria, required=True)


class SelectionOut(Schema):
    id = fields.String()
    name = fields.String()
    target = fields.String()
    criteria = fields.Dict()
    owner_id = fields.String(allow_none=True)
    count = fields.Integer(allow_none=True, metadata={"description": "how many match now"})
    created_at = WireDateTime()


class TargetLineIn(Strict):
    label = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "what the line plans, e.g. a product line or an account"})
    revenue = Amount(required=True)
    margin = fields.Money(load_default="0")
    doubtful = fields.Boolean(load_default=False, metadata={
        "description": "left out of the approved plan and its consolidation"})


Period = lambda **kw: fields.String(validate=validate.OneOf(["day", "week", "month", "quarter"]), **kw)  # noqa: E731


class TargetIn(Strict):
    owner_id = fields.String(allow_none=True, metadata={
        "description": "the rep; you when omitted. The plan belongs to the rep's team and branch"})
    period = Period(required=True)
    period_start = fields.Date(required=True, metadata={
        "description": "a Monday for a week, the 1st for a month, Jan/Apr/Jul/Oct 1st for a quarter"})
    currency = Currency(required=True)
    lines = fields.List(fields.Nested(TargetLineIn), required=True, validate=validate.Length(min=1))


class TargetPatch(Strict):
    version = fields.Integer(required=True)
    currency = Currency()
    lines = fields.List(fields.Nested(TargetLineIn), validate=validate.Length(min=1))


class TargetTotals(Schema):
    revenue = fields.Decimal(as_string=True)
    margin = fields.Decimal(as_string=True)
    planned_revenue = fields.Decimal(as_string=True)
    planned_margin = fields.Decimal(as_string=True)


class TargetOut(Schema):
    id = fields.String()
    owner_id = fields.String()
    team_id = fields.String(allow_none=True)
    branch_id = fields.String(allow_none=True)
    period = fields.String()
    period_start = fields.String()
    period_end = fields.String()
    currency = fields.String()
    lines = fields.List(fields.Dict())
    status = fields.String()
    totals = fields.Nested(TargetTotals, metadata={
        "description": "revenue and margin of all lines; planned_* without doubtful ones"})
    review_note = fields.String(allow_none=True)
    submitted_at = WireDateTime(allow_none=True)
    approved_at = WireDateTime(allow_none=True)
    approved_by = fields.String(allow_none=True)
    version = fields.Integer()
    created_at = WireDateTime()


class TargetQuery(Page):
    sort = sort_field(TARGET_SORT, "period_start")
    owner_id = fields.String()
    team_id = fields.String()
    branch_id = fields.String()
    period = Period()
    status = fields.String(validate=validate.OneOf(["draft", "submitted", "approved"]))
    from_ = fields.Date(data_key="from", metadata={"description": "periods starting on or after"})
    to = fields.Date(metadata={"description": "periods ending on or before"})


class ConsolidationQuery(Strict):
    level = fields.String(load_default="team", validate=validate.OneOf(["rep", "team", "branch", "company"]))
    period = Period()
    status = fields.String(load_default="approved", validate=validate.OneOf(["draft", "submitted", "approved"]))
    team_id = fields.String()
    branch_id = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()


class ConsolidatedRow(Schema):
    level = fields.String()
    group_id = fields.String(allow_none=True, metadata={"description": "rep, team or branch id; null for company"})
    period = fields.String()
    period_start = fields.String()
    currency = fields.String()
    planned_revenue = fields.Decimal(as_string=True)
    planned_margin = fields.Decimal(as_string=True)
    targets = fields.Integer()


class Review(Strict):
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))
