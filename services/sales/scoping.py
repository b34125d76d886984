"""Who sees and changes which sales records; enforced in the service's queries.

A rep sees own records, a manager the team's, a partner what came from its
leads (read only), admins and ops everything.
"""
from __future__ import annotations

from sqlalchemy import Select, or_

from shared.errors import Forbidden, Invalid, NotFound


def scope(query: Select, model, caller: dict) -> Select:
    role = caller.get("role")
    if role in ("admin", "ops"):
        return query
    if role == "manager":
        return query.where(or_(model.team_id == caller.get("team_id"), model.owner_id == caller.get("user_id")))
    if role == "rep":
        return query.where(model.owner_id == caller.get("user_id"))
    if role == "partner" and caller.get("partner_id"):
        return query.where(model.partner_id == caller["partner_id"])
    raise Forbidden(f"role {role!r} may not read sales records")


def visible(session, model, caller: dict, ident: str, what: str, for_update: bool = False):
    from sqlalchemy import select
    query = scope(select(model).where(model.id == ident), model, caller)
    obj = session.scalars(query.with_for_update() if for_update else query).first()
    if obj is None:
        raise NotFound(f"{what} {ident} not found")
    return obj


def writable(session, model, caller: dict, ident: str, what: str):
    """A record the caller sees and may change, locked for this transaction."""
    record = visible(session, model, caller, ident, what, for_update=True)
    require_writer(caller, record)
    return record


def require_writer(caller: dict, record) -> None:
    role, user = caller.get("role"), caller.get("user_id")
    if role == "admin":
        return
    if role == "manager" and (record.team_id == caller.get("team_id") or record.owner_id == user):
        return
    if role == "rep" and record.owner_id == user:
        return
    raise Forbidden("only the owner, the owner's manager or an admin may change this")


def require_role(caller: dict, *roles: str) -> None:
    if caller.get("role") not in roles:
        raise Forbidden(f"role {caller.get('role')!r} may not do this; allowed: {', '.join(roles)}")


def ordering(model, sort: str | None, allowed: tuple[str, ...], default: str) -> tuple:
    """``name`` or ``-name`` (descending) among ``allowed``, then the id so pages are stable."""
    sort = sort or default
    name = sort.lstrip("-")
    if name not in allowed:
        raise Invalid(f"cannot sort by {name!r}", errors={"sort": f"one of {', '.join(allowed)}, optionally with -"})
    column = getattr(model, name)
    return (column.desc() if sort.startswith("-") else column, model.id)


def page(session, query, limit: int, offset: int, order):
    from sqlalchemy import func, select
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return session.scalars(query.order_by(*order).limit(limit).offset(offset)).all(), total
