"""The gateway's own store: who may call the API, and answers kept for idempotent retries."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Instant, add_messaging_tables, utcnow

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s",
})
add_messaging_tables(metadata)
When = Instant  # aware UTC on PostgreSQL and SQLite alike


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = metadata


class Branch(Base):
    __tablename__ = "branches"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    branch_id: Mapped[str | None] = mapped_column(ForeignKey("branches.id"))
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class Partner(Base):
    __tablename__ = "partners"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id"))
    branch_id: Mapped[str | None] = mapped_column(ForeignKey("branches.id"))
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))
    territory: Mapped[str | None] = mapped_column(String(100))
    segments: Mapped[list] = mapped_column(JSON, default=list)
    sources: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)


class ApiKey(Base):
    """``crm_<id>_<secret>``: the id is public (lists, logs), the secret is kept only as a SHA-256."""
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(48), default="", server_default="")
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(When)
    revoked_at: Mapped[datetime | None] = mapped_column(When)


class IdempotencyRecord(Base):
    """The first answer to a POST with an ``Idempotency-Key``, without its secrets, kept
    ``CRM_IDEMPOTENCY_TTL_HOURS``; ``status`` is NULL while in flight."""
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("key_id", "idempotency_key", name="uq_idempotency_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10), default="POST", server_default="POST")
    path: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(When, default=utcnow, index=True)  # expiry


class HttpContract(Base):
    """The last HTTP contract each service announced (shared.http_face), so that the
    gateway routes to a service's paths, and answers 503 for them, while it is down."""
    __tablename__ = "http_contracts"
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    contract: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(When, default=utcnow)
