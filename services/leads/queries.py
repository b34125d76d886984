"""Reading leads: filters, sorting and paging, within what the caller may
see (:mod:`services.leads.scoping`, enforced here in the service's own
queries, not only in the gateway)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from services.leads.domain import parse_status
from services.leads.models import Lead, LeadHistory
from services.leads.schemas import LeadOut
from services.leads.scoping import lead_clause, pool_clause, visible_lead
from shared import policy
from shared.caller import Caller
from shared.db import as_utc
from shared.fields import utc_dump

_lead_out = LeadOut()
_TIMES = ("created_at", "updated_at", "last_touched_at", "converted_at")


def lead_dict(lead: Lead) -> dict[str, Any]:
    """The lead as the API shows it; never touches the ORM object (that would dirty it)."""
    return utc_dump(_lead_out, lead, _TIMES)


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


def list_leads(session: Session, caller: Caller, filters: dict, sort: str, limit: int,
               offset: int, pool_only: bool = False) -> dict[str, Any]:
    if pool_only:
        policy.require(caller, "lead_pool.read")
        base = select(Lead).where(pool_clause())
    else:
        base = select(Lead).where(lead_clause(caller))
    base = base.where(Lead.merged_into_id.is_(None))
    base = _filtered(base, filters)
    total = session.scalar(select(func.count()).select_from(base.order_by(None).subquery()))
    items = session.scalars(_sorted(base, sort).limit(limit).offset(offset)).all()
    return {"items": [lead_dict(lead) for lead in items], "total": total}


def history(session: Session, caller: Caller, lead_id: str) -> list[dict[str, Any]]:
    visible_lead(session, caller, lead_id)
    rows = session.scalars(select(LeadHistory).where(LeadHistory.lead_id == lead_id)
                           .order_by(LeadHistory.at, LeadHistory.id)).all()
    return [{"at": as_utc(r.at).isoformat(), "actor_id": r.actor_id, "action": r.action,
             "details": r.details} for r in rows]
