"""The leads service's tables (its own database; nobody else reads them)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import ID, Exact, Instant, new_id, service_metadata, utcnow

metadata = service_metadata()

# Exact and Instant behave the same on PostgreSQL and SQLite (see shared.db).
Money = Exact(18, 2)
When = Instant


class Base(DeclarativeBase):
    metadata = metadata


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    company: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(500))
    territory: Mapped[str | None] = mapped_column(String(100), index=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str | None] = mapped_column(String(100))
    campaign: Mapped[str | None] = mapped_column(String(100))
    segment: Mapped[str | None] = mapped_column(String(60), index=True)
    industry: Mapped[str | None] = mapped_column(String(100))
    estimated_value: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    acquisition_cost: Mapped[Decimal | None] = mapped_column(Money)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    interests: Mapped[list] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    team_id: Mapped[str | None] = mapped_column(String(36), index=True)
    partner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_by: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), index=True)
    disqualify_reason: Mapped[str | None] = mapped_column(String(500))
    score: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[str | None] = mapped_column(String(36))
    email_norm: Mapped[str | None] = mapped_column(String(320), index=True)
    phone_norm: Mapped[str | None] = mapped_column(String(50), index=True)
    company_norm: Mapped[str | None] = mapped_column(String(200), index=True)
    import_job_id: Mapped[str | None] = mapped_column(String(36))
    import_row: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    last_touched_at: Mapped[datetime | None] = mapped_column(When)
    last_activity_at: Mapped[datetime | None] = mapped_column(When)
    converted_at: Mapped[datetime | None] = mapped_column(When)

    __mapper_args__ = {"version_id_col": version}

    @property
    def in_pool(self) -> bool:
        return self.owner_id is None and self.status in ("new", "contacted", "qualified")


class LeadHistory(Base):
    """Every change to a lead, kept when leads are merged (both histories)."""
    __tablename__ = "lead_history"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(String(36), index=True)
    at: Mapped[datetime] = mapped_column(When, default=utcnow)
    actor_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class Rep(Base):
    """The roster of people who can own leads, fed by ``gateway.user_changed``."""
    __tablename__ = "reps"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[str | None] = mapped_column(String(36), index=True)
    territory: Mapped[str | None] = mapped_column(String(100))
    segments: Mapped[list] = mapped_column(JSON, default=list)
    sources: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # SHA-256 of the calendar feed's token; the token itself is shown once, never stored.
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class AssignmentRule(Base):
    __tablename__ = "assignment_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    strategy: Mapped[str] = mapped_column(String(60))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    team_id: Mapped[str | None] = mapped_column(String(36))
    source: Mapped[str | None] = mapped_column(String(40))
    segment: Mapped[str | None] = mapped_column(String(60))
    territory: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    cursor: Mapped[str | None] = mapped_column(String(36))


class Activity(Base):
    __tablename__ = "activities"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    lead_id: Mapped[str] = mapped_column(String(36), ForeignKey("leads.id"), index=True)
    type: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    team_id: Mapped[str | None] = mapped_column(String(36))
    partner_id: Mapped[str | None] = mapped_column(String(36))
    due_at: Mapped[datetime] = mapped_column(When, index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    cost: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    notes: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None] = mapped_column(When)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow)

    __table_args__ = (Index("ix_activities_owner_due", "owner_id", "due_at"),)


class ImportJob(Base):
    __tablename__ = "import_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    filename: Mapped[str] = mapped_column(String(300))
    caller: Mapped[dict] = mapped_column(JSON)
    mapping: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="receiving")
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    received_chunks: Mapped[int] = mapped_column(Integer, default=0)
    processed_chunks: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    upload_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(When)


class ImportChunk(Base):
    __tablename__ = "import_chunks"

    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("import_jobs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    rows: Mapped[list] = mapped_column(JSON)
    processed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class ImportRowError(Base):
    __tablename__ = "import_errors"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("import_jobs.id"), index=True)
    row: Mapped[int] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(String(500))
    existing_lead_id: Mapped[str | None] = mapped_column(String(36))
