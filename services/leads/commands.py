"""Changing leads: the use cases behind the RPC entrypoints.

Each function takes the worker's unit of work and the caller, applies the
rules of :mod:`services.leads.domain`, records history and stages the
declared events (``contracts.py``) in the same transaction. The entrypoint commits.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from services.leads import domain, scoping
from services.leads.extensions import assignment_strategy, scoring_rule
from services.leads.models import Activity, AssignmentRule, Lead, LeadHistory, Rep, new_id
from services.leads.queries import lead_dict
from services.leads.scoping import OPEN, changeable_lead, visible_lead
from services.leads.settings import leads_settings
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, as_utc, check_version, flush_versioned, utcnow
from shared.errors import Conflict, Invalid, NotFound

EDITABLE = ("company", "contact_name", "email", "phone", "address", "territory", "source",
            "channel", "campaign", "segment", "industry", "estimated_value", "currency",
            "acquisition_cost", "tags", "interests", "notes")


def _record(session: Session, lead: Lead, caller: Caller, action: str, **details: Any) -> None:
    session.add(LeadHistory(lead_id=lead.id, actor_id=caller.user_id, action=action,
                            details=details))


def phone_region() -> str | None:
    """``LEADS_DEFAULT_REGION``: where a phone number written without a country code is."""
    return leads_settings().default_region


def _keys(data: dict) -> domain.DedupeKeys:
    return domain.dedupe_keys(data.get("email"), data.get("phone"), data.get("company"), phone_region())


def find_duplicate(session: Session, keys: domain.DedupeKeys, exclude_id: str | None = None):
    """The id and keys of the first live lead sharing a normalised email, phone
    or company name (only those columns: this runs on every create)."""
    clauses = []
    if keys.email:
        clauses.append(Lead.email_norm == keys.email)
    if keys.phone:
        clauses.append(Lead.phone_norm == keys.phone)
    if keys.company:
        clauses.append(Lead.company_norm == keys.company)
    if not clauses:
        return None
    query = (select(Lead.id, Lead.email_norm, Lead.phone_norm, Lead.company_norm)
             .where(or_(*clauses), Lead.merged_into_id.is_(None)))
    if exclude_id:
        query = query.where(Lead.id != exclude_id)
    return session.execute(query.order_by(Lead.created_at).limit(1)).first()


def duplicate_conflict(existing, keys: domain.DedupeKeys) -> Conflict:
    fields = domain.matching_fields(keys, _keys_of(existing))
    return Conflict(f"a lead with the same {', '.join(fields)} exists: {existing.id}",
                    errors={f: "matches an existing lead" for f in fields},
                    extra={"existing_lead_id": existing.id})


def _keys_of(lead: Lead) -> domain.DedupeKeys:
    return domain.DedupeKeys(email=lead.email_norm, phone=lead.phone_norm, company=lead.company_norm)


def _apply_keys(lead: Lead) -> None:
    keys = domain.dedupe_keys(lead.email, lead.phone, lead.company, phone_region())
    lead.email_norm, lead.phone_norm, lead.company_norm = keys.email, keys.phone, keys.company


def rescore(lead: Lead, now: datetime | None = None) -> None:
    facts = domain.LeadFacts(source=lead.source, segment=lead.segment,
                             estimated_value=lead.estimated_value, currency=lead.currency,
                             last_activity_at=as_utc(lead.last_activity_at), status=lead.status)
    lead.score = scoring_rule().score(facts, now or utcnow())


def created_payload(lead: Lead) -> dict[str, Any]:
    return {"lead_id": lead.id, "company": lead.company, "source": lead.source,
            "channel": lead.channel, "campaign": lead.campaign, "partner_id": lead.partner_id,
            "segment": lead.segment, "industry": lead.industry, "territory": lead.territory,
            "owner_id": lead.owner_id, "team_id": lead.team_id,
            "estimated_value": lead.estimated_value, "currency": lead.currency,
            "acquisition_cost": lead.acquisition_cost, "status": lead.status, "score": lead.score,
            "import_job_id": lead.import_job_id}


def build_lead(caller: Caller, data: dict, now: datetime) -> Lead:
    """A new, unsaved lead from validated input, owned as the caller's reach implies
    (a rep's own, a partner's submitted, else in the pool until assigned)."""
    ownership = scoping.new_record_ownership(caller, "lead.create")
    if data.get("estimated_value") is not None:
        domain.parse_money(Decimal(str(data["estimated_value"])), data.get("currency"))
    lead = Lead(id=new_id(), status=domain.parse_status(data.get("status") or "new").value,
                created_by=caller.user_id, created_at=now, updated_at=now,
                last_touched_at=now, tags=[], interests=[])
    for name in EDITABLE:
        if name in data:
            setattr(lead, name, data[name])
    for money in ("estimated_value", "acquisition_cost"):
        if getattr(lead, money) is not None:
            setattr(lead, money, Decimal(str(getattr(lead, money))))
    lead.source = lead.source or "other"
    for name, value in ownership.items():
        setattr(lead, name, value)
    if lead.partner_id:
        lead.source = "partner"
    _apply_keys(lead)
    rescore(lead, now)
    return lead


def create_lead(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    """Capture a lead; an ``owner_id`` in ``data`` must be a rep within the
    caller's reach (422 unknown, 403 out of reach)."""
    session, now = uow.session, utcnow()
    owner_id = data.get("owner_id")
    if owner_id:
        scoping.prospective_owner(session, caller, "lead.create", owner_id)
    lead = build_lead(caller, data, now)
    existing = find_duplicate(session, _keys_of(lead))
    if existing is not None:
        raise duplicate_conflict(existing, _keys_of(lead))
    session.add(lead)
    _record(session, lead, caller, "created")
    session.flush()
    uow.emit("leads.lead_created", created_payload(lead))
    if owner_id and owner_id != lead.owner_id:
        _assign(uow, caller, lead, scoping.roster_rep(session, owner_id), "manual")
    elif lead.owner_id is None:
        _auto_assign(uow, caller, lead)
    return lead_dict(lead)


def _assign(uow: UnitOfWork, caller: Caller, lead: Lead, rep: Rep | None, rule: str) -> None:
    previous = lead.owner_id
    lead.owner_id = rep.user_id if rep else None
    lead.team_id = rep.team_id if rep else lead.team_id
    lead.last_touched_at = lead.updated_at = utcnow()
    _record(uow.session, lead, caller, "assigned", owner_id=lead.owner_id,
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


def _auto_assign(uow: UnitOfWork, caller: Caller, lead: Lead, only: str | None = None,
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
            _assign(uow, caller, lead, session.get(Rep, chosen.user_id), rule.name)
            return True
    return False


def update_lead(uow: UnitOfWork, caller: Caller, lead_id: str, data: dict) -> dict[str, Any]:
    session = uow.session
    lead = changeable_lead(session, caller, lead_id)
    domain.check_editable(domain.parse_status(lead.status))
    check_version("lead", lead_id, lead.version, data.get("version"))
    changed = {}
    for name in EDITABLE:
        if name in data and getattr(lead, name) != data[name]:
            value = data[name]
            if name in ("estimated_value", "acquisition_cost") and value is not None:
                value = Decimal(str(value))
            changed[name] = str(value) if isinstance(value, Decimal) else value
            setattr(lead, name, value)
    if lead.estimated_value is not None and not lead.currency:
        raise Invalid("currency is required when an amount is given", errors={"currency": "required"})
    if not changed:
        return lead_dict(lead)
    _apply_keys(lead)
    with session.no_autoflush:  # one UPDATE, so the version moves by exactly one
        existing = find_duplicate(session, _keys_of(lead), exclude_id=lead.id)
    if existing is not None:
        raise duplicate_conflict(existing, _keys_of(lead))
    lead.updated_at = lead.last_touched_at = utcnow()
    rescore(lead)
    _record(session, lead, caller, "updated", changes=changed)
    flush_versioned(session, "lead", lead_id)
    return lead_dict(lead)


def change_status(uow: UnitOfWork, caller: Caller, lead_id: str, status: str,
                  reason: str | None = None) -> dict[str, Any]:
    session = uow.session
    lead = changeable_lead(session, caller, lead_id)
    current, target = domain.parse_status(lead.status), domain.parse_status(status)
    domain.check_transition(current, target)
    if target is domain.LeadStatus.DISQUALIFIED:
        domain.check_disqualify_reason(reason)
        lead.disqualify_reason = reason
    elif target is domain.LeadStatus.NEW:
        lead.disqualify_reason = None
    lead.status = target.value
    lead.updated_at = lead.last_touched_at = utcnow()
    rescore(lead)
    _record(session, lead, caller, "status_changed", **{"from": current.value, "to": target.value,
                                                        "reason": reason})
    session.flush()
    uow.emit("leads.lead_status_changed", {"lead_id": lead.id, "from_status": current.value,
                                           "to_status": target.value, "reason": reason})
    return lead_dict(lead)


def convert_lead(uow: UnitOfWork, caller: Caller, lead_id: str) -> dict[str, Any]:
    session = uow.session
    lead = changeable_lead(session, caller, lead_id)
    current = domain.parse_status(lead.status)
    domain.check_convertible(current)
    lead.status = domain.LeadStatus.CONVERTED.value
    lead.converted_at = lead.updated_at = utcnow()
    _record(session, lead, caller, "converted")
    session.flush()
    uow.emit("leads.lead_status_changed", {"lead_id": lead.id, "from_status": current.value,
                                           "to_status": lead.status, "reason": None})
    uow.emit("leads.lead_converted", domain.conversion_payload({
        "lead_id": lead.id, **{name: getattr(lead, name) for name in EDITABLE},
        "partner_id": lead.partner_id, "owner_id": lead.owner_id, "team_id": lead.team_id}))
    return lead_dict(lead)


def assign_lead(uow: UnitOfWork, caller: Caller, lead_id: str, owner_id: str | None,
                rule: str | None = None) -> dict[str, Any]:
    """Give a lead in reach to a rep in reach, or let the rules choose."""
    session = uow.session
    lead = changeable_lead(session, caller, lead_id, "lead.assign")
    domain.check_editable(domain.parse_status(lead.status))
    if owner_id:
        rep = scoping.require_owner_in_reach(caller, "lead.assign", scoping.roster_rep(session, owner_id))
        _assign(uow, caller, lead, rep, "manual")
    elif not _auto_assign(uow, caller, lead, only=rule, reach="lead.assign"):
        raise Conflict("no assignment rule found a rep for this lead; it stays where it is")
    return lead_dict(lead)


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
    _record(session, lead, caller, "claimed")
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
    _assign(uow, caller, lead, None, rule)
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
        _assign(uow, caller, lead, target, "reassigned")
    return {"reassigned": len(leads)}


def release_stale(uow: UnitOfWork, days: int, now: datetime | None = None) -> int:
    """Leads nobody touched for ``days`` go back to the pool."""
    now = now or utcnow()
    system = Caller.system()
    leads = uow.session.scalars(select(Lead).where(
        Lead.owner_id.is_not(None), Lead.status.in_(OPEN),
        Lead.last_touched_at < now - timedelta(days=days)).limit(500)).all()
    for lead in leads:
        _assign(uow, system, lead, None, "stale")
    return len(leads)


def merge_leads(uow: UnitOfWork, caller: Caller, target_id: str, source_id: str) -> dict[str, Any]:
    session = uow.session
    target = changeable_lead(session, caller, target_id)
    source = changeable_lead(session, caller, source_id)
    domain.check_mergeable(source.status, target.status, source.id, target.id)
    if source.merged_into_id:
        raise Conflict(f"lead {source_id} was already merged into {source.merged_into_id}")
    updates = domain.merge_fields({n: getattr(target, n) for n in EDITABLE},
                                  {n: getattr(source, n) for n in EDITABLE})
    for name, value in updates.items():
        setattr(target, name, value)
    source.merged_into_id = target.id
    source.status = domain.LeadStatus.DISQUALIFIED.value
    source.disqualify_reason = f"merged into {target.id}"
    # The source's history now also belongs to the target; both keep their own rows.
    for row in session.scalars(select(LeadHistory).where(LeadHistory.lead_id == source.id)).all():
        session.add(LeadHistory(lead_id=target.id, at=row.at, actor_id=row.actor_id,
                                action=row.action, details={**row.details, "merged_from": source.id}))
    session.execute(update(Activity).where(Activity.lead_id == source.id).values(lead_id=target.id))
    source.email_norm = source.phone_norm = source.company_norm = None
    _apply_keys(target)
    target.updated_at = target.last_touched_at = utcnow()
    rescore(target)
    _record(session, target, caller, "merged", merged_lead_id=source.id)
    _record(session, source, caller, "merged_into", lead_id=target.id)
    session.flush()
    uow.emit("leads.lead_merged", {"lead_id": target.id, "merged_lead_id": source.id})
    return lead_dict(target)


def upsert_rep(session: Session, user: dict) -> None:
    """Keep the roster in step with the gateway's users (``gateway.user_changed``)."""
    rep = session.get(Rep, user["user_id"])
    if rep is None:
        rep = Rep(user_id=user["user_id"])
        session.add(rep)
    for name in ("name", "role", "team_id", "territory", "segments", "sources", "active"):
        setattr(rep, name, user.get(name))
    if not rep.active:
        rep.calendar_token_hash = None  # a departed user's feed stops now, and stays stopped


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
