"""The lead aggregate: dedupe, capture, edits, status changes, conversion, merging, and
reading leads within the caller's reach; changes record history and stage their events."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Text, cast, func, or_, select, update
from sqlalchemy.orm import Session

from services.leads import domain, scoping
from services.leads.extensions import scoring_rule
from services.leads.models import Activity, Lead, LeadHistory, new_id
from services.leads.schemas import LeadOut
from services.leads.scoping import changeable_lead, lead_clause, pool_clause, visible_lead
from services.leads.settings import leads_settings
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, as_utc, check_version, flush_versioned, utcnow
from shared.errors import Conflict, Invalid
from shared.fields import utc_dump

EDITABLE = ("company", "contact_name", "email", "phone", "address", "territory", "source",
            "channel", "campaign", "segment", "industry", "estimated_value", "currency",
            "acquisition_cost", "tags", "interests", "notes")
_lead_out = LeadOut()
_TIMES = ("created_at", "updated_at", "last_touched_at", "converted_at")


def lead_dict(lead: Lead) -> dict[str, Any]:
    """The lead as the API shows it; never touches the ORM object (that would dirty it)."""
    return utc_dump(_lead_out, lead, _TIMES)


def record_history(session: Session, lead: Lead, caller: Caller, action: str, **details: Any) -> None:
    session.add(LeadHistory(lead_id=lead.id, actor_id=caller.user_id, action=action,
                            details=details))


def phone_region() -> str | None:
    """``LEADS_DEFAULT_REGION``: where a phone number written without a country code is."""
    return leads_settings().default_region


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
    # assignment_rules imports this module (history, the lead's answer); importing it
    # back here, where it is called, keeps either module importable first.
    from services.leads.assignment_rules import assign_to, assign_by_rules

    session, now = uow.session, utcnow()
    owner_id = data.get("owner_id")
    if owner_id:
        scoping.prospective_owner(session, caller, "lead.create", owner_id)
    lead = build_lead(caller, data, now)
    existing = find_duplicate(session, _keys_of(lead))
    if existing is not None:
        raise duplicate_conflict(existing, _keys_of(lead))
    session.add(lead)
    record_history(session, lead, caller, "created")
    session.flush()
    uow.emit("leads.lead_created", created_payload(lead))
    if owner_id and owner_id != lead.owner_id:
        assign_to(uow, caller, lead, scoping.roster_rep(session, owner_id), "manual")
    elif lead.owner_id is None:
        assign_by_rules(uow, caller, lead)
    return lead_dict(lead)


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
    record_history(session, lead, caller, "updated", changes=changed)
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
    record_history(session, lead, caller, "status_changed", **{"from": current.value, "to": target.value,
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
    record_history(session, lead, caller, "converted")
    session.flush()
    uow.emit("leads.lead_status_changed", {"lead_id": lead.id, "from_status": current.value,
                                           "to_status": lead.status, "reason": None})
    uow.emit("leads.lead_converted", domain.conversion_payload({
        "lead_id": lead.id, **{name: getattr(lead, name) for name in EDITABLE},
        "partner_id": lead.partner_id, "owner_id": lead.owner_id, "team_id": lead.team_id}))
    return lead_dict(lead)


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
    record_history(session, target, caller, "merged", merged_lead_id=source.id)
    record_history(session, source, caller, "merged_into", lead_id=target.id)
    session.flush()
    uow.emit("leads.lead_merged", {"lead_id": target.id, "merged_lead_id": source.id})
    return lead_dict(target)


def get_lead(session: Session, caller: Caller, lead_id: str) -> dict[str, Any]:
    """The lead as the API shows it, if the caller may see it (else NotFound)."""
    return lead_dict(visible_lead(session, caller, lead_id))


def _filtered(query: Select, filters: dict) -> Select:
    if filters.get("status"):
        query = query.where(Lead.status == domain.parse_status(filters["status"]).value)
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
