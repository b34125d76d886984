"""Users, teams, partners and API keys: the gateway's identity store.

Plain functions on a :class:`~shared.db.UnitOfWork` (or a ``sessionmaker``
for the CLI entry points), usable from the HTTP admin routes and ``crm``.

API keys look like ``crm_<key id>_<secret>``: the key id is a uuid4 (shown in
lists and logs), the secret is ``secrets.token_urlsafe(32)`` and only its
SHA-256 is stored. A key of any other shape (an operator's own
``GATEWAY_ADMIN_KEY``) is accepted too: it is its own secret and its id is a
uuid derived from its hash, so the same string always finds the same row.

Every change to a user emits ``gateway.user_changed`` through the outbox, in
the same transaction, so services (the leads roster) follow.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.contracts import PUBLISHED_EVENTS
from gateway.models import ApiKey, Branch, Partner, Team, User, metadata
from shared.caller import ROLES as CALLER_ROLES
from shared.db import UnitOfWork, utcnow
from shared.errors import Conflict, Invalid, NotFound

ROLES = CALLER_ROLES  # every role the policy knows (shared.caller.Role)
# Key ids are uuid4s; 16 hex digits were the ids of the first keys ever made (migration 0001).
_KEY_SHAPE = re.compile(r"^crm_([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16})_(.+)$")
USER_FIELDS = ("name", "email", "role", "team_id", "branch_id", "partner_id", "territory",
               "segments", "sources", "active")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key_string() -> str:
    """A fresh key in the ``crm_<uuid4>_<secret>`` shape (not stored anywhere)."""
    return f"crm_{uuid.uuid4()}_{secrets.token_urlsafe(32)}"


def split_key(key: str) -> tuple[str, str, str]:
    """(key id, secret, display prefix) of a presented key, whatever its shape."""
    match = _KEY_SHAPE.match(key)
    if match:
        return match.group(1), match.group(2), f"crm_{match.group(1)}"
    derived = str(uuid.UUID(hex=_hash("id:" + key)[:32], version=4))
    return derived, key, key[:4] + "..."


def unit_of_work(sessions: sessionmaker, on_commit=None, correlation_id: str | None = None) -> UnitOfWork:
    """A unit of work on the gateway database whose events go to its outbox."""
    return UnitOfWork(sessions, metadata.tables["outbox"], on_commit=on_commit,
                      correlation_id=correlation_id, publishes=PUBLISHED_EVENTS)


def _emit_user(uow: UnitOfWork, user: User) -> None:
    uow.emit("gateway.user_changed", {
        "user_id": user.id, "name": user.name, "role": user.role, "team_id": user.team_id,
        "branch_id": user.branch_id, "partner_id": user.partner_id, "territory": user.territory,
        "segments": list(user.segments or []), "sources": list(user.sources or []),
        "active": user.active})


def check_refs(session: Session, data: dict) -> None:
    """Refuse (422) team, branch or partner ids that do not exist."""
    for field, model in (("team_id", Team), ("branch_id", Branch), ("partner_id", Partner)):
        if data.get(field) and session.get(model, data[field]) is None:
            raise Invalid(f"{field} {data[field]} does not exist", errors={field: "unknown id"})


def _check_user(session: Session, user: User) -> None:
    # Look before the change is written (autoflush), not after the database refused it.
    with session.no_autoflush:
        _check_user_now(session, user)


def _check_user_now(session: Session, user: User) -> None:
    check_refs(session, {"team_id": user.team_id, "branch_id": user.branch_id,
                         "partner_id": user.partner_id})
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
    """A new active user from ``data`` (fields of ``USER_FIELDS``); emits gateway.user_changed."""
    fields = {"segments": [], "sources": [], "active": True,
              **{k: v for k, v in data.items() if k in USER_FIELDS}}
    user = User(created_at=utcnow(), **fields)
    _check_user(uow.session, user)
    uow.session.add(user)
    uow.session.flush()
    _emit_user(uow, user)
    return user


def update_user(uow: UnitOfWork, user_id: str, data: dict) -> User:
    """Change the given fields (``active=False`` deactivates); emits gateway.user_changed.

    Demoting or deactivating the last active admin who holds a working key is a
    :class:`Conflict`: nobody could administer the suite through the API any more."""
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    was_admin = user.active and user.role == "admin"
    if was_admin:
        _lock_admins(uow.session)
    for name, value in data.items():
        if name in USER_FIELDS:
            setattr(user, name, value)
    _check_user(uow.session, user)
    uow.session.flush()
    if was_admin and not (user.active and user.role == "admin"):
        _keep_an_admin(uow.session, f"{'deactivating' if not user.active else 'demoting'} user {user.id}")
    _emit_user(uow, user)
    return user


def revoke_api_key(uow: UnitOfWork, key_id: str) -> ApiKey:
    """Revoke a key (again is a no-op); refuses (:class:`Conflict`) to revoke the last
    working key of the last active admin."""
    record = uow.session.get(ApiKey, key_id)
    if record is None:
        raise NotFound(f"API key {key_id} not found")
    if record.revoked_at is None:
        _lock_admins(uow.session)
        record.revoked_at = utcnow()
        uow.session.flush()
        _keep_an_admin(uow.session, f"revoking API key {key_id}")
    return record


def _lock_admins(session: Session) -> None:
    """Two admins locking each other out at the same moment: the second waits, then
    sees the first's change (PostgreSQL; SQLite has one writer at a time anyway)."""
    session.execute(select(User.id).where(User.role == "admin").order_by(User.id).with_for_update())


def _keep_an_admin(session: Session, change: str) -> None:
    """Refuse a change (already flushed, rolled back with the unit of work) that
    leaves no active admin with a working key."""
    left = session.scalar(select(func.count(User.id.distinct())).join(ApiKey, ApiKey.user_id == User.id)
                          .where(User.role == "admin", User.active.is_(True), ApiKey.revoked_at.is_(None)))
    if not left:
        raise Conflict(f"{change} would leave no active admin with a working API key; "
                       "give another admin a key first", extra={"reason": "last_admin"})


def create_api_key(uow: UnitOfWork, user_id: str, name: str, key: str | None = None) -> tuple[ApiKey, str]:
    """A new key for the user; the full key is returned once and never stored."""
    if uow.session.get(User, user_id) is None:
        raise Invalid(f"user {user_id} does not exist", errors={"user_id": "unknown user"})
    key = key or new_key_string()
    key_id, secret, prefix = split_key(key)
    record = ApiKey(id=key_id, user_id=user_id, name=name, prefix=prefix, secret_hash=_hash(secret),
                    created_at=utcnow())
    uow.session.add(record)
    uow.session.flush()
    return record, key


def authenticate(session: Session, key: str) -> tuple[ApiKey, User] | None:
    """The key's record and its user, or None if the key is unknown, revoked or its user inactive."""
    key_id, secret, _ = split_key(key)
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
    """Make the full key string ``key`` valid for the admin user named "admin".

    Creates the user (or reactivates it) and the key as needed; idempotent, so
    ``crm up`` calls it on every start. A key not in the ``crm_<uuid4>_<secret>``
    shape is stored under an id derived from its hash (see the module doc).
    """
    uow = unit_of_work(sessions)
    try:
        if authenticate(uow.session, key):
            return
        admin = uow.session.scalars(select(User).where(User.name == "admin", User.role == "admin")
                                    .order_by(User.created_at)).first()
        if admin is None:
            admin = create_user(uow, {"name": "admin", "role": "admin"})
        elif not admin.active:
            update_user(uow, admin.id, {"active": True})
        key_id, _, _ = split_key(key)
        stale = uow.session.get(ApiKey, key_id)
        if stale is not None:  # revoked, or another secret under the same id: this key wins
            uow.session.delete(stale)
            uow.session.flush()
        create_api_key(uow, admin.id, "admin key (GATEWAY_ADMIN_KEY or crm up)", key=key)
        uow.commit()
    finally:
        uow.close()


def create_user_with_key(sessions: sessionmaker, role: str, name: str) -> str:
    """The ``crm keys create --role ROLE --name NAME`` path; returns the new full key.

    The user named ``name`` is created with ``role`` if missing (a partner user
    gets a partner organisation of the same name); an existing user of another
    role is a :class:`Conflict`.
    """
    uow = unit_of_work(sessions)
    try:
        user = uow.session.scalars(select(User).where(User.name == name)).first()
        if user is None:
            data: dict[str, Any] = {"name": name, "role": role}
            if role == "partner":
                data["partner_id"] = _partner_named(uow.session, name).id
            user = create_user(uow, data)
        elif user.role != role:
            raise Conflict(f"user {name!r} exists with role {user.role}")
        _, key = create_api_key(uow, user.id, f"{name} (crm keys create)")
        uow.commit()
        return key
    finally:
        uow.close()


def _partner_named(session: Session, name: str) -> Partner:
    partner = session.scalars(select(Partner).where(Partner.name == name)).first()
    if partner is None:
        partner = Partner(name=name, active=True, created_at=utcnow())
        session.add(partner)
        session.flush()
    return partner
