"""The sales service's tables (its own database; nobody else reads them)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import ID, Exact, Instant, new_id, service_metadata, utcnow

metadata = service_metadata()

# Exact and Instant behave the same on PostgreSQL and SQLite (see shared.db).
Money = Exact(18, 2)
Quantity = Exact(18, 4)
Percent = Exact(5, 2)
When = Instant


class Base(DeclarativeBase):
    metadata = metadata


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    team_id: Mapped[str | None] = mapped_column(String(36), index=True)
    branch_id: Mapped[str | None] = mapped_column(String(36))
    partner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    segment: Mapped[str | None] = mapped_column(String(60))
    industry: Mapped[str | None] = mapped_column(String(100))
    line_of_business: Mapped[str | None] = mapped_column(String(100))
    territory: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(500))
    tags: Mapped[list] = mapped_column(JSON, default=list)
    lifecycle: Mapped[str] = mapped_column(String(20), default="prospect")
    next_contact_on: Mapped[date | None] = mapped_column(Date, index=True)
    competition_level: Mapped[str] = mapped_column(String(10), default="medium", server_default="medium")
    repeat_purchase_probability: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    last_contacted_on: Mapped[date | None] = mapped_column(Date)
    last_purchase_on: Mapped[date | None] = mapped_column(Date)
    lifetime_value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    source_lead_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class AccountProduct(Base):
    """What an account has bought under signed contracts: the basis of
    "products bought" selections and of the product life cycle in the cadence."""
    __tablename__ = "account_products"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    last_bought_on: Mapped[date] = mapped_column(Date)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(50))
    interests: Mapped[list] = mapped_column(JSON, default=list)
    topics: Mapped[list] = mapped_column(JSON, default=list)
    owner_id: Mapped[str | None] = mapped_column(String(36))
    team_id: Mapped[str | None] = mapped_column(String(36), index=True)
    partner_id: Mapped[str | None] = mapped_column(String(36))
    source_lead_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class AccountContact(Base):
    """A contact's roles in the buying process of one account."""
    __tablename__ = "account_contacts"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    roles: Mapped[list] = mapped_column(JSON, default=list)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    sku: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    line_of_business: Mapped[str | None] = mapped_column(String(100))
    list_price: Mapped[Decimal] = mapped_column(Money)
    unit_cost: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    life_cycle_days: Mapped[int | None] = mapped_column(Integer)


class Pipeline(Base):
    __tablename__ = "pipelines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    line_of_business: Mapped[str | None] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    stages: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class Opportunity(Base):
    __tablename__ = "opportunities"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[str | None] = mapped_column(String(36))
    decision_maker_id: Mapped[str | None] = mapped_column(String(36))
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    team_id: Mapped[str | None] = mapped_column(String(36), index=True)
    partner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    source: Mapped[str | None] = mapped_column(String(40))
    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.id"))
    stage_key: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    probability_override: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    next_step: Mapped[str | None] = mapped_column(String(500))
    competitors: Mapped[list] = mapped_column(JSON, default=list)
    budget_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    lost_reason: Mapped[str | None] = mapped_column(String(500))
    lost_to_competitor: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(When)
    source_lead_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class OpportunityLine(Base):
    __tablename__ = "opportunity_lines"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    opportunity_id: Mapped[str] = mapped_column(ForeignKey("opportunities.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str | None] = mapped_column(String(36))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    discount_pct: Mapped[Decimal] = mapped_column(Percent)
    unit_cost: Mapped[Decimal] = mapped_column(Money)


class StageChange(Base):
    __tablename__ = "stage_history"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    opportunity_id: Mapped[str] = mapped_column(ForeignKey("opportunities.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(40))
    to_stage: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(When, default=utcnow)


class Quote(Base):
    __tablename__ = "quotes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    opportunity_id: Mapped[str] = mapped_column(ForeignKey("opportunities.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    valid_until: Mapped[date] = mapped_column(Date)
    lines: Mapped[list] = mapped_column(JSON)
    amount: Mapped[Decimal] = mapped_column(Money)
    cost: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(When)
    decided_at: Mapped[datetime | None] = mapped_column(When)


class Contract(Base):
    __tablename__ = "contracts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    opportunity_id: Mapped[str | None] = mapped_column(String(36))
    quote_id: Mapped[str | None] = mapped_column(String(36))
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    team_id: Mapped[str | None] = mapped_column(String(36))
    partner_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money)
    cost: Mapped[Decimal] = mapped_column(Money)
    lines: Mapped[list] = mapped_column(JSON)
    billing_frequency: Mapped[str] = mapped_column(String(12))
    schedule: Mapped[list] = mapped_column(JSON)
    signed_at: Mapped[datetime | None] = mapped_column(When)
    terminated_at: Mapped[datetime | None] = mapped_column(When)
    termination_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class Activity(Base):
    """A call, meeting, e-mail or task on an account, optionally about one of its opportunities."""
    __tablename__ = "activities"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    opportunity_id: Mapped[str | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    type: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str | None] = mapped_column(String(300))
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    team_id: Mapped[str | None] = mapped_column(String(36))
    partner_id: Mapped[str | None] = mapped_column(String(36))
    due_at: Mapped[datetime] = mapped_column(When)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    cost: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    outcome: Mapped[str | None] = mapped_column(String(500))
    outcome_at: Mapped[datetime | None] = mapped_column(When)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class Selection(Base):
    """A saved customer selection: criteria that are run again each time."""
    __tablename__ = "selections"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(10))
    criteria: Mapped[dict] = mapped_column(JSON)
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    team_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class Target(Base):
    """A rep's sales plan for one period: revenue and margin lines, some maybe doubtful."""
    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("owner_id", "period", "period_start"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(String(36), index=True)
    team_id: Mapped[str | None] = mapped_column(String(36), index=True)
    branch_id: Mapped[str | None] = mapped_column(String(36))
    period: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[date] = mapped_column(Date, index=True)
    period_end: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    lines: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    review_note: Mapped[str | None] = mapped_column(String(500))
    submitted_at: Mapped[datetime | None] = mapped_column(When)
    approved_at: Mapped[datetime | None] = mapped_column(When)
    approved_by: Mapped[str | None] = mapped_column(String(36))
    # who drafted the plan: approval needs another person (four eyes)
    created_by: Mapped[str | None] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class Rep(Base):
    """The roster: the suite's users as sales knows them, fed by
    ``gateway.user_changed``, so a record's team comes from its owner and not
    from what a client says."""
    __tablename__ = "reps"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[str | None] = mapped_column(String(36), index=True)
    branch_id: Mapped[str | None] = mapped_column(String(36))
    partner_id: Mapped[str | None] = mapped_column(String(36))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
