"""Users, teams, partners and API keys: the gateway's identity store.

API keys look like ``crm_<key id>_<secret>``; only a SHA-256 of the secret is
kept. Every change to a user emits ``gateway.user_changed`` through the
outbox, in the same transaction, so services (the leads roster) follow.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import ApiKey, User, metadata
from shared.db import UnitOfWork, utcnow
from shared.errors import Conflict, Invalid, NotFound

ROLES = ("rep", "manager", "admin", "partner", "ops")
_KEY_SHAPE = re.compile(r"^crm_([0-9a-f]{16})_(.+)$")
USER_FIELDS = ("name", "email", "role", "team_id", "branch_id", "partner_id", "territory",
               "segments", "sources", "active")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key_string() -> str:
    return f"crm_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"


def split_key(key: str) -> tuple[str, str]:
    """(key id, secret). A key of another shape (a CRM_ADMIN_KEY chosen by an
    operator) gets an id derived from its hash, and is its own secret."""
    match = _KEY_SHAPE.match(key)
    if match:
        return match.group(1), match.group(2)
    return _hash("id:" + key)[:16], key


def unit_of_work(sessions: sessionmaker, on_commit=None) -> UnitOfWork:
    return UnitOfWork(sessions, metadata.tables["outbox"], on_commit=on_commit)


def user_dict(user: User) -> dict[str, Any]:
    return {"id": user.id, **{f: getattr(user, f) for f in USER_FIELDS},
            "created_at": user.created_at}


def _emit_user(uow: UnitOfWork, user: User) -> None:
    uow.emit("gateway.user_changed", {
        "user_id": user.id, "name": user.name, "role": user.role, "team_id": user.team_id,
        "branch_id": user.branch_id, "partner_id": user.partner_id, "territory": user.territory,
        "segments": list(user.segments or []), "sources": list(user.sources or []),
        "active": user.active})


def _check_user(session: Session, user: User) -> None:
    if user.role not in ROLES:
        raise Invalid(f"unknown role {user.role!r}", errors={"role": f"one of {', '.join(ROLES)}"})
    if user.role == "partner" and not user.partner_id:
        raise Invalid("a partner user belongs to a partner", errors={"partner_id": "required for role partner"})
    if user.email:
        clash = session.scalars(select(User).where(User.email == user.email, User.id != user.id)).first()
        if clash:
            raise Conflict(f"a user with e-mail {user.email} exists", errors={"email": "taken"},
                           extra={"existing_id": clash.id})


def create_user(uow: UnitOfWork, data: dict) -> User:
    user = User(segments=[], sources=[], active=True, created_at=utcnow(),
                **{k: v for k, v in data.items() if k in USER_FIELDS})
    _check_user(uow.session, user)
    uow.session.add(user)
    uow.session.flush()
    _emit_user(uow, user)
    return user


def update_user(uow: UnitOfWork, user_id: str, data: dict) -> User:
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    for name, value in data.items():
        if name in USER_FIELDS:
            setattr(user, name, value)
    _check_user(uow.session, user)
    uow.session.flush()
    _emit_user(uow, user)
    return user


def create_api_key(uow: UnitOfWork, user_id: str, name: str, key: str | None = None) -> tuple[ApiKey, str]:
    """A new key for the user; the full key is returned once and never stored."""
    if uow.session.get(User, user_id) is None:
        raise Invalid(f"user {user_id} does not exist", errors={"user_id": "unknown user"})
    key = key or new_key_string()
    key_id, secret = split_key(key)
    record = ApiKey(id=key_id, user_id=user_id, name=name, secret_hash=_hash(secret), created_at=utcnow())
    uow.session.add(record)
    uow.session.flush()
    return record, key


def authenticate(session: Session, key: str) -> tuple[ApiKey, User] | None:
    key_id, secret = split_key(key)
    record = session.get(ApiKey, key_id)
    if record is None or record.revoked_at is not None:
        return None
    if not hmac.compare_digest(record.secret_hash, _hash(secret)):
        return None
    user = session.get(User, record.user_id)
    if user is None or not user.active:
        return None
    return record, user


def ensure_admin_key(sessions: sessionmaker, key: str) -> None:
    """Make ``key`` valid for the user "admin" (both created if missing)."""
    uow = unit_of_work(sessions)
    try:
        if authenticate(uow.session, key):
            return
        admin = uow.session.scalars(select(User).where(User.name == "admin", User.role == "admin")).first()
        if admin is None:
            admin = create_user(uow, {"name": "admin", "role": "admin"})
        key_id, _ = split_key(key)
        stale = uow.session.get(ApiKey, key_id)
        if stale is not None:
            uow.session.delete(stale)
            uow.session.flush()
        create_api_key(uow, admin.id, "admin key (CRM_ADMIN_KEY or crm up)", key=key)
        uow.commit()
    finally:
        uow.close()


def create_user_with_key(sessions: sessionmaker, role: str, name: str) -> str:
    """The ``crm keys create`` path: the user named ``name`` (created with ``role``
    if missing) gets a new key, which is returned."""
    uow = unit_of_work(sessions)
    try:
        user = uow.session.scalars(select(User).where(User.name == name)).first()
        if user is None:
            user = create_user(uow, {"name": name, "role": role})
        elif user.role != role:
            raise Conflict(f"user {name!r} exists with role {user.role}")
        _, key = create_api_key(uow, user.id, f"{name} (crm keys create)")
        uow.commit()
        return key
    finally:
        uow.close()
