"""Calls, meetings, e-mails and tasks on leads; the batch call planner; the
"outcome required" list; each rep's calendar feed."""
from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from services.leads import domain, scoping
from services.leads.calendar_feed import render_calendar
from services.leads.leads import rescore
from services.leads.models import Activity, Lead, Rep
from services.leads.schemas import ActivityOut
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, as_utc, utcnow
from shared.errors import Forbidden, Invalid, NotFound
from shared.fields import utc_dump

_out = ActivityOut()


def activity_dict(activity: Activity, company: str | None = None) -> dict[str, Any]:
    data = utc_dump(_out, activity, ("due_at", "outcome_at", "created_at"))
    data["lead_company"] = company
    return data


def _logged_payload(activity: Activity) -> dict[str, Any]:
    return {"activity_id": activity.id, "type": activity.type, "owner_id": activity.owner_id,
            "lead_id": activity.lead_id, "due_at": as_utc(activity.due_at),
            "duration_minutes": activity.duration_minutes, "outcome": activity.outcome,
            "cost": activity.cost, "currency": activity.currency}


def _touch(lead: Lead, now: datetime) -> None:
    lead.last_touched_at = lead.last_activity_at = lead.updated_at = now
    rescore(lead, now)


def create_activity(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    """An activity on a lead the caller may work on; an ``owner_id`` in ``data``
    must be a rep within the caller's reach (422 unknown, 403 out of reach)."""
    session, now = uow.session, utcnow()
    lead = scoping.changeable_lead(session, caller, data["lead_id"], "activity.write")
    domain.check_editable(domain.parse_status(lead.status))
    if data.get("owner_id"):
        scoping.prospective_owner(session, caller, "activity.write", data["owner_id"])
    owner_id = data.get("owner_id") or lead.owner_id or caller.user_id
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
    """An instant in UTC (a naive time is taken as UTC, as the column does)."""
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))


def _team_of(session, owner_id: str | None, lead: Lead) -> str | None:
    rep = session.get(Rep, owner_id) if owner_id else None
    return rep.team_id if rep else lead.team_id


def record_outcome(uow: UnitOfWork, caller: Caller, activity_id: str, outcome: str) -> dict[str, Any]:
    session, now = uow.session, utcnow()
    domain.check_outcome(outcome)
    activity = scoping.changeable_activity(session, caller, activity_id)
    activity.outcome, activity.outcome_at, activity.updated_at = outcome, now, now
    lead = session.get(Lead, activity.lead_id)
    _touch(lead, now)
    session.flush()
    uow.emit("leads.activity_logged", _logged_payload(activity))
    return activity_dict(activity, lead.company)


def list_activities(session, caller: Caller, filters: dict, sort: str, limit: int,
                    offset: int) -> dict[str, Any]:
    query = (select(Activity, Lead.company).join(Lead, Lead.id == Activity.lead_id)
             .where(scoping.activity_clause(caller)))
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


def outcome_required(session, caller: Caller, now: datetime | None = None) -> list[dict[str, Any]]:
    """The past-due activities in the caller's reach (a rep's own) that still
    have no outcome, oldest first."""
    now = now or utcnow()
    query = select(Activity, Lead.company).join(Lead, Lead.id == Activity.lead_id).where(
        Activity.outcome.is_(None), Activity.due_at < now, scoping.activity_clause(caller))
    rows = session.execute(query.order_by(Activity.due_at).limit(1000)).all()
    return [activity_dict(a, company) for a, company in rows
            if domain.needs_outcome(as_utc(a.due_at), a.outcome, now)]


def plan_calls(uow: UnitOfWork, caller: Caller, data: dict, default_time_zone: str = "UTC") -> dict[str, Any]:
    """Put calls for a set of leads on reps' planners, spread evenly over the days,
    within working hours in ``data["time_zone"]`` (else ``default_time_zone``)."""
    policy.require(caller, "activity.write")
    session, now = uow.session, utcnow()
    first_day, last_day = _date(data["first_day"], "first_day"), _date(data["last_day"], "last_day")
    domain.check_plan_size(len(data["lead_ids"]), len(data.get("owner_ids") or ()), first_day, last_day)
    leads = {lead.id: lead for lead in (scoping.changeable_lead(session, caller, lid, "activity.write") for lid in dict.fromkeys(data["lead_ids"]))}
    for lead in leads.values():
        domain.check_editable(domain.parse_status(lead.status))
    owner_ids = data.get("owner_ids")
    for owner_id in dict.fromkeys(owner_ids or ()):  # a rep's planner is the rep's own
        scoping.prospective_owner(session, caller, "activity.write", owner_id, "owner_ids")
    if not owner_ids:
        owner_ids = sorted({lead.owner_id for lead in leads.values() if lead.owner_id})
        if not owner_ids:
            raise Invalid("none of the leads has an owner; name the reps", errors={"owner_ids": "required"})
    planned = domain.plan_calls(list(leads), owner_ids, first_day, last_day,
                                _time(data.get("day_start", "09:00")), _time(data.get("day_end", "17:00")),
                                data.get("duration_minutes", 15),
                                tz=domain.time_zone(data.get("time_zone") or default_time_zone),
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


def _date(value, name: str = "date") -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name} is not a date", errors={name: "a date YYYY-MM-DD"}) from None


def _time(value) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def calendar_token(uow: UnitOfWork, caller: Caller) -> dict[str, str]:
    """A new secret feed token for the caller; the previous one stops working.

    Only its SHA-256 is stored, so the token is in this answer alone."""
    policy.require(caller, "calendar.read")
    rep = uow.session.get(Rep, caller.user_id)
    if rep is None:
        rep = Rep(user_id=caller.user_id, name=caller.name, role=caller.role.value,
                  team_id=caller.team_id, active=True, segments=[], sources=[])
        uow.session.add(rep)
    if not rep.active:
        raise Forbidden("an inactive user has no calendar feed")
    token = secrets.token_urlsafe(32)
    rep.calendar_token_hash = _token_hash(token)
    return {"token": token}


def calendar_feed(session, token: str) -> str:
    """The feed of the active rep whose token this is; NotFound for anything else."""
    rep = None
    if token:
        rep = session.scalars(select(Rep).where(Rep.calendar_token_hash == _token_hash(token))).first()
    if rep is None or not rep.active:
        raise NotFound("no calendar at this address")
    rows = session.execute(select(Activity, Lead.company).join(Lead, Lead.id == Activity.lead_id)
                           .where(Activity.owner_id == rep.user_id)
                           .order_by(Activity.due_at.desc()).limit(2000)).all()
    items = [{"id": a.id, "type": a.type, "subject": a.subject, "lead_company": company,
              "due_at": as_utc(a.due_at), "duration_minutes": a.duration_minutes,
              "outcome": a.outcome, "notes": a.notes, "updated_at": as_utc(a.updated_at)}
             for a, company in rows]
    return render_calendar(rep.name or rep.user_id, items).decode("utf-8")
