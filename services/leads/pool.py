"""The shared lead pool: claiming and releasing leads, handing a departing
rep's leads on, and returning leads nobody touched."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from services.leads import domain, scoping
from services.leads.assignment_rules import assign_to
from services.leads.leads import record_history, lead_dict
from services.leads.models import Lead, Rep
from services.leads.scoping import OPEN, changeable_lead, visible_lead
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, utcnow
from shared.errors import Conflict


def claim_lead(uow: UnitOfWork, caller: Caller, lead_id: str, cap: int) -> dict[str, Any]:
    policy.require(caller, "lead_pool.claim")
    session = uow.session
    lead = visible_lead(session, caller, lead_id, for_update=True, action="lead_pool.claim")
    if not lead.in_pool:
        raise Conflict(f"lead {lead_id} is not in the pool", extra={"owner_id": lead.owner_id})
    open_leads = session.scalar(select(func.count()).select_from(Lead).where(
        Lead.owner_id == caller.user_id, Lead.status.in_(OPEN)))
    domain.check_claim(open_leads, cap)
    rep = session.get(Rep, caller.user_id)
    lead.team_id = rep.team_id if rep else caller.team_id
    previous = lead.owner_id
    lead.owner_id = caller.user_id
    lead.last_touched_at = lead.updated_at = utcnow()
    record_history(session, lead, caller, "claimed")
    session.flush()
    uow.emit("leads.lead_assigned", {"lead_id": lead.id, "owner_id": lead.owner_id,
                                     "previous_owner_id": previous, "team_id": lead.team_id,
                                     "rule": "claimed"})
    return lead_dict(lead)


def release_lead(uow: UnitOfWork, caller: Caller, lead_id: str, rule: str = "released") -> dict[str, Any]:
    session = uow.session
    lead = changeable_lead(session, caller, lead_id)
    domain.check_editable(domain.parse_status(lead.status))
    if lead.owner_id is None:
        raise Conflict(f"lead {lead_id} is already in the pool")
    assign_to(uow, caller, lead, None, rule)
    return lead_dict(lead)


def reassign_owner(uow: UnitOfWork, caller: Caller, from_owner_id: str,
                   to_owner_id: str | None) -> dict[str, int]:
    """Move every open lead of a departing rep to another rep, or to the pool.

    Both reps must be within the caller's reach (a manager's own team), and
    only the leads within it move."""
    policy.require(caller, "lead.assign")
    session = uow.session
    scoping.require_user_in_reach(session, caller, "lead.assign", from_owner_id, "from_owner_id")
    target = (scoping.require_owner_in_reach(caller, "lead.assign",
                                             scoping.roster_rep(session, to_owner_id, "to_owner_id"),
                                             "to_owner_id") if to_owner_id else None)
    query = select(Lead).where(Lead.owner_id == from_owner_id, Lead.status.in_(OPEN),
                               scoping.lead_clause(caller, "lead.assign"))
    leads = session.scalars(query.with_for_update()).all()
    for lead in leads:
        assign_to(uow, caller, lead, target, "reassigned")
    return {"reassigned": len(leads)}


def release_stale(uow: UnitOfWork, days: int, now: datetime | None = None) -> int:
    """Leads nobody touched for ``days`` go back to the pool."""
    now = now or utcnow()
    system = Caller.system()
    leads = uow.session.scalars(select(Lead).where(
        Lead.owner_id.is_not(None), Lead.status.in_(OPEN),
        Lead.last_touched_at < now - timedelta(days=days)).limit(500)).all()
    for lead in leads:
        assign_to(uow, system, lead, None, "stale")
    return len(leads)
