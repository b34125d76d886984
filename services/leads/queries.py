"""Reading leads: who may see what, filters, sorting and paging.

Scoping is enforced here, in the service's own queries, not only in the
gateway: a rep sees own leads and the pool, a manager the team's and the
pool, a partner only the leads it submitted, admins and ops everything.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from services.leads.domain import OPEN_STATUSES, parse_status
from services.leads.models import Lead, LeadHistory
from services.leads.schemas import LeadOut
from shared.db import as_utc
from shared.errors import Forbidden, NotFound

OPEN = [s.value for s in OPEN_STATUSES]
_lead_out = LeadOut()
_TIMES = ("created_at", "updated_at", "last_touched_at", "converted_at")


def lead_dict(lead: Lead) -> dict[str, Any]:
    """The lead as the API shows it; never touches the ORM object (that would dirty it)."""
    return utc_dump(_lead_out, lead, _TIMES)


def utc_dump(schema, obj, time_fields) -> dict[str, Any]:
    """Dump ``obj`` with its times as aware UTC (SQLite hands them back naive)."""
    data = schema.dump(obj)
    for name in time_fields:
        value = as_utc(getattr(obj, name))
        data[name] = value.isoformat() if value is not None else None
    return data


def pool_clause():
    return and_(Lead.owner_id.is_(None), Lead.status.in_(OPEN))


def scope(query: Select, caller: dict) -> Select:
    """Restrict ``query`` over leads to what ``caller`` may see."""
    role = caller.get("role")
    if role in ("admin", "ops"):
        return query
    if role == "manager":
        return query.where(or_(Lead.team_id == caller.get("team_id"),
                               Lead.owner_id == caller.get("user_id"), pool_clause()))
    if role == "rep":
        return query.where(or_(Lead.owner_id == caller.get("user_id"), pool_clause()))
    if role == "partner" and caller.get("partner_id"):
        return query.where(Lead.partner_id == caller["partner_id"])
    raise Forbidden(f"role {role!r} may not read leads")


def visible_lead(session: Session, caller: dict, lead_id: str, for_update: bool = False) -> Lead:
    """The lead if ``caller`` may see it; NotFound otherwise (we do not reveal it exists)."""
    query = scope(select(Lead).where(Lead.id == lead_id), caller)
    if for_update:
        query = query.with_for_update()
    lead = session.scalars(query).first()
    if lead is None:
        raise NotFound(f"lead {lead_id} not found", extra={"lead_id": lead_id})
    return lead


def _filtered(query: Select, filters: dict) -> Select:
    if filters.get("status"):
        query = query.where(Lead.status == parse_status(filters["status"]).value)
    for name in ("owner_id", "team_id", "partner_id", "source", "segment", "territory"):
        if filters.get(name):
            query = query.where(getattr(Lead, name) == filters[name])
    if filters.get("in_pool") is True:
        query = query.where(pool_clause())
    elif filters.get("in_pool") is False:
        query = query.where(~pool_clause())
    if filters.get("q"):
        like = f"%{filters['q'].lower()}%"
        query = query.where(or_(func.lower(Lead.company).like(like),
                                func.lower(Lead.contact_name).like(like), Lead.email_norm.like(like)))
    if filters.get("tag"):
        # JSON arrays are compared as text so the query works on SQLite and PostgreSQL alike.
        query = query.where(cast(Lead.tags, Text).like(f'%"{filters["tag"]}"%'))
    if filters.get("created_after"):
        query = query.where(Lead.created_at >= filters["created_after"])
    if filters.get("created_before"):
        query = query.where(Lead.created_at < filters["created_before"])
    if filters.get("min_score") is not None:
        query = query.where(Lead.score >= filters["min_score"])
    return query


def _sorted(query: Select, sort: str) -> Select:
    column = getattr(Lead, sort.lstrip("-"))
    order = column.desc() if sort.startswith("-") else column.asc()
    return query.order_by(order, Lead.id)


def list_leads(session: Session, caller: dict, filters: dict, sort: str, limit: int,
               offset: int, pool_only: bool = False) -> dict[str, Any]:
    base = scope(select(Lead), caller).where(Lead.merged_into_id.is_(None))
    if pool_only:
        base = base.where(pool_clause())
    base = _filtered(base, filters)
    total = session.scalar(select(func.count()).select_from(base.order_by(None).subquery()))
    items = session.scalars(_sorted(base, sort).limit(limit).offset(offset)).all()
    return {"items": [lead_dict(lead) for lead in items], "total": total}


def history(session: Session, caller: dict, lead_id: str) -> list[dict[str, Any]]:
    visible_lead(session, caller, lead_id)
    rows = session.scalars(select(LeadHistory).where(LeadHistory.lead_id == lead_id)
                           .order_by(LeadHistory.at, LeadHistory.id)).all()
    return [{"at": as_utc(r.at).isoformat(), "actor_id": r.actor_id, "action": r.action,
             "details": r.details} for r in rows]
