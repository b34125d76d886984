"""Assignment rules (their CRUD) and assigning leads by them or by hand; the
strategies the rules name are the entry points in ``assignment.py``."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.leads import domain, scoping
from services.leads.extensions import assignment_strategy
from services.leads.leads import record_history, lead_dict
from services.leads.models import AssignmentRule, Lead, Rep, new_id
from services.leads.scoping import OPEN, changeable_lead
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, utcnow
from shared.errors import Conflict, Invalid, NotFound


def assign_to(uow: UnitOfWork, caller: Caller, lead: Lead, rep: Rep | None, rule: str) -> None:
    previous = lead.owner_id
    lead.owner_id = rep.user_id if rep else None
    lead.team_id = rep.team_id if rep else lead.team_id
    lead.last_touched_at = lead.updated_at = utcnow()
    record_history(uow.session, lead, caller, "assigned", owner_id=lead.owner_id,
            previous_owner_id=previous, rule=rule)
    uow.session.flush()
    uow.emit("leads.lead_assigned", {"lead_id": lead.id, "owner_id": lead.owner_id,
                                     "previous_owner_id": previous, "team_id": lead.team_id,
                                     "rule": rule})


def _candidate_reps(session: Session) -> list[domain.Rep]:
    counts = dict(session.execute(select(Lead.owner_id, func.count()).where(
        Lead.status.in_(OPEN), Lead.owner_id.is_not(None)).group_by(Lead.owner_id)).all())
    reps = session.scalars(select(Rep).where(Rep.active.is_(True), Rep.role.in_(("rep", "manager")))).all()
    return [domain.Rep(user_id=r.user_id, team_id=r.team_id, territory=r.territory,
                       segments=tuple(r.segments or ()), sources=tuple(r.sources or ()),
                       active=r.active, open_leads=counts.get(r.user_id, 0)) for r in reps]


def _rule_matches(rule: AssignmentRule, lead: Lead) -> bool:
    return all(getattr(rule, f) in (None, getattr(lead, f)) for f in ("source", "segment", "territory"))


def assign_by_rules(uow: UnitOfWork, caller: Caller, lead: Lead, only: str | None = None,
                    reach: str | None = None) -> bool:
    """Apply the active assignment rules in priority order; the lead stays in the pool if none fits.

    With ``reach`` (a person asking for it), the rules choose only among the
    reps within the caller's reach for that action."""
    session = uow.session
    query = select(AssignmentRule).where(AssignmentRule.active.is_(True))
    if only:
        query = query.where(AssignmentRule.name == only)
    rules = session.scalars(query.order_by(AssignmentRule.priority, AssignmentRule.name)).all()
    if only and not rules:
        raise Invalid(f"no active assignment rule named {only!r}", errors={"rule": "unknown rule"})
    reps = None
    for rule in rules:
        if not _rule_matches(rule, lead):
            continue
        if reps is None:
            reps = [rep for rep in _candidate_reps(session) if reach is None or
                    policy.allows(caller, reach, {"owner_id": rep.user_id, "team_id": rep.team_id})]
        facts = domain.AssignmentFacts(territory=lead.territory, segment=lead.segment,
                                       source=lead.source, team_id=rule.team_id or lead.team_id)
        chosen, rule.cursor = assignment_strategy(rule.strategy).choose(facts, reps, rule.cursor)
        if chosen is not None:
            assign_to(uow, caller, lead, session.get(Rep, chosen.user_id), rule.name)
            return True
    return False


def assign_lead(uow: UnitOfWork, caller: Caller, lead_id: str, owner_id: str | None,
                rule: str | None = None) -> dict[str, Any]:
    """Give a lead in reach to a rep in reach, or let the rules choose."""
    session = uow.session
    lead = changeable_lead(session, caller, lead_id, "lead.assign")
    domain.check_editable(domain.parse_status(lead.status))
    if owner_id:
        rep = scoping.require_owner_in_reach(caller, "lead.assign", scoping.roster_rep(session, owner_id))
        assign_to(uow, caller, lead, rep, "manual")
    elif not assign_by_rules(uow, caller, lead, only=rule, reach="lead.assign"):
        raise Conflict("no assignment rule found a rep for this lead; it stays where it is")
    return lead_dict(lead)


def create_assignment_rule(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    """A new rule; a manager's is for the own team (by default and only)."""
    data = {**data, "team_id": scoping.rule_team(caller, data.get("team_id"))}
    assignment_strategy(data["strategy"])  # refuses an unknown strategy with 422
    if uow.session.scalars(select(AssignmentRule).where(AssignmentRule.name == data["name"])).first():
        raise Conflict(f"an assignment rule named {data['name']!r} exists", errors={"name": "taken"})
    rule = AssignmentRule(id=new_id(), **data)
    uow.session.add(rule)
    uow.session.flush()
    return _rule_dict(rule)


def list_assignment_rules(session: Session, caller: Caller) -> list[dict[str, Any]]:
    rules = session.scalars(select(AssignmentRule).where(scoping.rule_clause(caller))
                            .order_by(AssignmentRule.priority, AssignmentRule.name))
    return [_rule_dict(r) for r in rules]


def delete_assignment_rule(uow: UnitOfWork, caller: Caller, rule_id: str) -> dict[str, Any]:
    rule = uow.session.scalars(select(AssignmentRule).where(
        AssignmentRule.id == rule_id, scoping.rule_clause(caller, "assignment_rule.write"))).first()
    if rule is None:
        raise NotFound(f"assignment rule {rule_id} not found")
    uow.session.delete(rule)
    return {"deleted": rule_id}


def _rule_dict(rule: AssignmentRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in ("id", "name", "strategy", "priority", "team_id",
                                                   "source", "segment", "territory", "active")}
