"""Calls, meetings, e-mails and tasks on leads; the batch call planner; the
"outcome required" list; each rep's calendar feed."""
from __future__ import annotations

import secrets
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select

from services.leads import domain
from services.leads.calendar_feed import render_calendar
from services.leads.commands import require_writer, rescore
from services.leads.models import Activity, Lead, Rep
from services.leads.queries import utc_dump, visible_lead
from services.leads.schemas import ActivityOut
from shared.db import UnitOfWork, as_utc, utcnow
from shared.errors import Forbidden, Invalid, NotFound

_out = ActivityOut()


def activity_dict(activity: Activity, company: str | None = None) -> dict[str, Any]:
    data = utc_dump(_out, activity, ("due_at", "outcome_at", "created_at"))
    data["lead_company"] = company
    return data


def scope(query: Select, caller: dict) -> Select:
    role = caller.get("role")
    if role in ("admin", "ops"):
        return query
    if role == "manager":
        return query.where((Activity.team_id == caller.get("team_id")) |
                           (Activity.owner_id == caller.get("user_id")))
    if role == "rep":
        return query.where(Activity.owner_id == caller.get("user_id"))
    raise Forbidden(f"role {role!r} may not see activities")


def _logged_payload(activity: Activity) -> dict[str, Any]:
    return {"activity_id": activity.id, "type": activity.type, "owner_id": activity.owner_id,
            "lead_id": activity.lead_id, "due_at": as_utc(activity.due_at),
            "duration_minutes": activity.duration_minutes, "outcome": activity.outcome,
            "cost": activity.cost, "currency": activity.currency}


def _touch(lead: Lead, now: datetime) -> None:
    lead.last_touched_at = lead.last_activity_at = lead.updated_at = now
    rescore(lead, now)


def create_activity(uow: UnitOfWork, caller: dict, data: dict) -> dict[str, Any]:
    session, now = uow.session, utcnow()
    lead = visible_lead(session, caller, data["lead_id"])
    require_writer(caller, lead)
    domain.check_editable(domain.parse_status(lead.status))
    owner_id = data.get("owner_id") or lead.owner_id or caller.get("user_id")
    if owner_id != caller.get("user_id") and caller.get("role") == "rep":
        raise Forbidden("a rep plans activities for themselves only")
    cost = Decimal(str(data["cost"])) if data.get("cost") is not None else None
    if cost is not None:
        domain.parse_money(cost, data.get("currency"), field="cost")
    activity = Activity(lead_id=lead.id, type=data["type"], subject=data.get("subject"),
                        owner_id=owner_id, team_id=_team_of(session, owner_id, lead),
                        partner_id=lead.partner_id, due_at=_parse_time(data["due_at"]),
                        duration_minutes=data.get("duration_minutes") or 30, cost=cost,
                        currency=data.get("currency"), notes=data.get("notes"),
                        created_at=now, updated_at=now)
    session.add(activity)
    if data.get("outcome"):
        domain.check_outcome(data["outcome"])
        activity.outcome, activity.outcome_at = data["outcome"], now
    _touch(lead, now)
    session.flush()
    if activity.outcome:
        uow.emit("leads.activity_logged", _logged_payload(activity))
    return activity_dict(activity, lead.company)


def _parse_time(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _team_of(session, owner_id: str | None, lead: Lead) -> str | None:
    rep = session.get(Rep, owner_id) if owner_id else None
    return rep.team_id if rep else lead.team_id


def record_outcome(uow: UnitOfWork, caller: dict, activity_id: str, outcome: str) -> dict[str, Any]:
    session, now = uow.session, utcnow()
    domain.check_outcome(outcome)
    activity = session.scalars(scope(select(Activity).where(Activity.id == activity_id), caller)).first()
    if activity is None:
        raise NotFound(f"activity {activity_id} not found")
    activity.outcome, activity.outcome_at, activity.updated_at = outcome, now, now
    lead = session.get(Lead, activity.lead_id)
    _touch(lead, now)
    session.flush()
    uow.emit("leads.activity_logged", _logged_payload(activity))
    return activity_dict(activity, lead.company)


def list_activities(session, caller: dict, filters: dict, sort: str, limit: int,
                    offset: int) -> dict[str, Any]:
    query = scope(select(Activity, Lead.company).join(Lead, Lead.id == Activity.lead_id), caller)
    for name in ("owner_id", "lead_id", "type"):
        if filters.get(name):
            query = query.where(getattr(Activity, name) == filters[name])
    if filters.get("due_after"):
        query = query.where(Activity.due_at >= _parse_time(filters["due_after"]))
    if filters.get("due_before"):
        query = query.where(Activity.due_at < _parse_time(filters["due_before"]))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    column = getattr(Activity, sort.lstrip("-"))
    rows = session.execute(query.order_by(column.desc() if sort.startswith("-") else column,
                                          Activity.id).limit(limit).offset(offset)).all()
    return {"items": [activity_dict(a, company) for a, company in rows], "total": total}


def outcome_required(session, caller: dict, now: datetime | None = None) -> list[dict[str, Any]]:
    """The caller's past-due activities that still have no outcome, oldest first."""
    now = now or utcnow()
    query = select(Activity, Lead.company).join(Lead, Lead.id == Activity.lead_id).where(
        Activity.outcome.is_(None), Activity.due_at < now)
    if caller.get("role") == "rep":
        query = query.where(Activity.owner_id == caller.get("user_id"))
    else:
        query = scope(query, caller)
    rows = session.execute(query.order_by(Activity.due_at).limit(1000)).all()
    return [activity_dict(a, company) for a, company in rows
            if domain.needs_outcome(as_utc(a.due_at), a.outcome, now)]


def plan_calls(uow: UnitOfWork, caller: dict, data: dict) -> dict[str, Any]:
    """Put calls for a set of leads on reps' planners, spread evenly over the days."""
    if caller.get("role") not in ("rep", "manager", "admin"):
        raise Forbidden("only reps, managers and admins plan calls")
    session, now = uow.session, utcnow()
    leads = {lead.id: lead for lead in (visible_lead(session, caller, lid) for lid in dict.fromkeys(data["lead_ids"]))}
    for lead in leads.values():
        require_writer(caller, lead)
        domain.check_editable(domain.parse_status(lead.status))
    owner_ids = data.get("owner_ids")
    if caller.get("role") == "rep":
        if owner_ids and set(owner_ids) != {caller["user_id"]}:
            raise Forbidden("a rep plans calls on their own planner only")
        owner_ids = [caller["user_id"]]
    if not owner_ids:
        owner_ids = sorted({lead.owner_id for lead in leads.values() if lead.owner_id})
        if not owner_ids:
            raise Invalid("none of the leads has an owner; name the reps", errors={"owner_ids": "required"})
    planned = domain.plan_calls(list(leads), owner_ids, _date(data["first_day"]), _date(data["last_day"]),
                                _time(data.get("day_start", "09:00")), _time(data.get("day_end", "17:00")),
                                data.get("duration_minutes", 15),
                                skip_weekends=data.get("skip_weekends", True))
    activities = []
    for call in planned:
        lead = leads[call.lead_id]
        activity = Activity(lead_id=lead.id, type="call", subject=data.get("subject"),
                            owner_id=call.owner_id, team_id=_team_of(session, call.owner_id, lead),
                            partner_id=lead.partner_id, due_at=call.due_at,
                            duration_minutes=call.duration_minutes, created_at=now, updated_at=now)
        session.add(activity)
        lead.last_touched_at = now
        activities.append((activity, lead.company))
    session.flush()
    return {"planned": [activity_dict(a, c) for a, c in activities]}


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _time(value) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)


def calendar_token(uow: UnitOfWork, caller: dict) -> dict[str, str]:
    """The caller's secret feed token, created on first use."""
    rep = uow.session.get(Rep, caller.get("user_id"))
    if rep is None:
        rep = Rep(user_id=caller["user_id"], name=caller.get("name"), role=caller.get("role"),
                  team_id=caller.get("team_id"), active=True, segments=[], sources=[])
        uow.session.add(rep)
    if not rep.calendar_token:
        rep.calendar_token = secrets.token_urlsafe(32)
    return {"token": rep.calendar_token}


def calendar_feed(session, token: str) -> str:
    rep = session.scalars(select(Rep).where(Rep.calendar_token == token)).first() if token else None
    if rep is None:
        raise NotFound("no calendar at this address")
    rows = session.execute(select(Activity, Lead.company).join(Lead, Lead.id == Activity.lead_id)
                           .where(Activity.owner_id == rep.user_id)
                           .order_by(Activity.due_at.desc()).limit(2000)).all()
    items = [{"id": a.id, "type": a.type, "subject": a.subject, "lead_company": company,
              "due_at": as_utc(a.due_at), "duration_minutes": a.duration_minutes,
              "outcome": a.outcome, "notes": a.notes, "updated_at": as_utc(a.updated_at)}
             for a, company in rows]
    return render_calendar(rep.name or rep.user_id, items).decode("utf-8")
