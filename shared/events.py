"""The event envelope and the contract of every event in the catalog.

One envelope for all events (``event_id`` for deduplication, ``event_type``
``<service>.<noun>_<past-tense verb>``, ``version``, ``occurred_at``,
``producer``, ``correlation_id``, ``payload``). Each event type has one
marshmallow schema here; producers validate against it before the event is
written to the outbox, consumers load with it. Schemas ignore unknown fields
on load, so a producer may add a field without breaking a v1 consumer.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate


class PayloadSchema(Schema):
    class Meta:
        unknown = EXCLUDE


Money = lambda **kw: fields.Decimal(as_string=True, allow_none=True, **kw)  # noqa: E731
Str = lambda **kw: fields.String(allow_none=True, load_default=None, **kw)  # noqa: E731


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
    account_id = Str()
    opportunity_id = Str()
    due_at = fields.AwareDateTime(allow_none=True, load_default=None)
    duration_minutes = fields.Integer(allow_none=True, load_default=None)
    outcome = Str()
    cost = Money(load_default=None)
    currency = Str()


class UserChanged(PayloadSchema):
    user_id = fields.String(required=True)
    name = Str()
    role = fields.String(required=True)
    team_id = Str()
    branch_id = Str()
    partner_id = Str()
    territory = Str()
    segments = fields.List(fields.String(), load_default=list)
    sources = fields.List(fields.String(), load_default=list)
    active = fields.Boolean(required=True)


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


# event_type -> (current version, payload schema)
CATALOG: dict[str, tuple[int, type[Schema]]] = {
    "leads.lead_created": (1, LeadCreated),
    "leads.lead_assigned": (1, LeadAssigned),
    "leads.lead_status_changed": (1, LeadStatusChanged),
    "leads.lead_converted": (1, LeadConverted),
    "leads.lead_merged": (1, LeadMerged),
    "leads.activity_logged": (1, ActivityLogged),
    "gateway.user_changed": (1, UserChanged),
    "sales.account_created": (1, AccountCreated),
    "sales.opportunity_created": (1, OpportunityCreated),
    "sales.opportunity_stage_changed": (1, OpportunityStageChanged),
    "sales.opportunity_won": (1, OpportunityClosed),
    "sales.opportunity_lost": (1, OpportunityClosed),
    "sales.contract_signed": (1, ContractSigned),
    "sales.contract_terminated": (1, ContractTerminated),
    "sales.activity_logged": (1, ActivityLogged),
    "sales.target_approved": (1, TargetApproved),
}


class UnknownEvent(KeyError):
    pass


@lru_cache(maxsize=None)
def _schema(event_type: str) -> Schema:
    """One schema instance per event type: building one deep-copies every field."""
    try:
        return CATALOG[event_type][1]()
    except KeyError:
        raise UnknownEvent(f"{event_type!r} is not in the event catalog (shared/events.py)") from None


@dataclass(frozen=True)
class Event:
    """An event as it travels: envelope fields plus a JSON-safe payload."""

    event_type: str
    payload: dict[str, Any]
    producer: str
    version: int = 1
    correlation_id: str | None = None
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def to_message(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "producer": self.producer,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
        }


def make_event(event_type: str, payload: dict[str, Any], *, correlation_id: str | None = None) -> Event:
    """Validate ``payload`` against the catalog and wrap it in an envelope.

    Raises ``marshmallow.ValidationError`` when the payload breaks the
    contract, so a bad event fails the producer's transaction instead of
    reaching a consumer.
    """
    version, _ = CATALOG.get(event_type, (None, None))
    schema = _schema(event_type)
    errors = schema.validate(schema.dump(payload))
    if errors:
        raise ValidationError(errors)
    return Event(
        event_type=event_type,
        payload=schema.dump(payload),
        producer=event_type.split(".", 1)[0],
        version=version,
        correlation_id=correlation_id,
    )


def load_event(message: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a received message into (envelope, payload loaded by its schema)."""
    envelope = {k: v for k, v in message.items() if k != "payload"}
    payload = _schema(message["event_type"]).load(message.get("payload") or {})
    return envelope, payload
