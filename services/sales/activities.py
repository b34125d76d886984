"""Calls, meetings, e-mails and tasks on accounts and their opportunities.

An activity with an outcome is a contact: it emits ``sales.activity_logged``
(the shape leads uses for ``leads.activity_logged``) and moves the account's
last-contact date, from which the cadence sets the next one.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.sales.accounts import refresh_next_contact
from services.sales.models import Account, Activity, Opportunity, new_id
from services.sales.roster import owner_for
from services.sales.schemas import ACTIVITY_SORT, SalesActivityOut, dump
from services.sales.scoping import page, visible, within, writable
from shared.listing import ordering
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, as_utc, utcnow
from shared.errors import Conflict, Invalid


ACTIVITY_TYPES = ("call", "meeting", "email", "task")
_activity_out = SalesActivityOut()


def _logged_payload(activity: Activity) -> dict[str, Any]:
    return {"activity_id": activity.id, "type": activity.type, "owner_id": activity.owner_id,
            "account_id": activity.account_id, "opportunity_id": activity.opportunity_id,
            "due_at": as_utc(activity.due_at), "duration_minutes": activity.duration_minutes,
            "outcome": activity.outcome, "cost": activity.cost, "currency": activity.currency}


def _contacted(uow: UnitOfWork, account: Account, activity: Activity) -> None:
    day = min(as_utc(activity.due_at), as_utc(activity.outcome_at)).date()
    if account.last_contacted_on is None or day > account.last_contacted_on:
        account.last_contacted_on = day
    account.updated_at = utcnow()
    refresh_next_contact(uow.session, account)
    uow.session.flush()
    uow.emit("sales.activity_logged", _logged_payload(activity))


def log_activity(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    """An activity on an account (``account_id``) or on an opportunity
    (``opportunity_id``, whose account it also belongs to), for the caller or
    for ``owner_id`` within their reach."""
    session = uow.session
    if data.get("type") not in ACTIVITY_TYPES:
        raise Invalid("unknown activity type", errors={"type": f"one of {', '.join(ACTIVITY_TYPES)}"})
    opportunity = None
    if data.get("opportunity_id"):
        opportunity = visible(session, Opportunity, caller, data["opportunity_id"], "opportunity",
                              "opportunity.read")
        policy.require(caller, "sales_activity.write", opportunity)
        if data.get("account_id") and data["account_id"] != opportunity.account_id:
            raise Invalid("the opportunity belongs to another account", errors={"account_id": "mismatch"})
    account_id = opportunity.account_id if opportunity else data["account_id"]
    account = visible(session, Account, caller, account_id, "account", "account.read", for_update=True)
    if opportunity is None:
        policy.require(caller, "sales_activity.write", account)
    owner_id = owner_for(session, caller, "sales_activity.write", data.get("owner_id")).owner_id
    cost = Decimal(str(data["cost"])) if data.get("cost") is not None else None
    if cost is not None and not data.get("currency"):
        raise Invalid("a cost needs a currency", errors={"currency": "required with cost"})
    now = utcnow()
    activity = Activity(id=new_id(), account_id=account.id, opportunity_id=opportunity.id if opportunity else None,
                        type=data["type"], subject=data.get("subject"), owner_id=owner_id,
                        team_id=account.team_id, partner_id=account.partner_id,
                        due_at=_time(data.get("due_at")) or now, duration_minutes=data.get("duration_minutes") or 30,
                        cost=cost, currency=data.get("currency"), notes=data.get("notes"), created_at=now)
    session.add(activity)
    if data.get("outcome"):
        activity.outcome, activity.outcome_at = _outcome(data["outcome"]), now
        _contacted(uow, account, activity)
    session.flush()
    return dump(_activity_out, activity)


def _time(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _outcome(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid("an outcome is required", errors={"outcome": "required"})
    return text


def record_outcome(uow: UnitOfWork, caller: Caller, activity_id: str, outcome: str) -> dict[str, Any]:
    session = uow.session
    activity = writable(session, Activity, caller, activity_id, "activity", "sales_activity.read",
                        "sales_activity.write")
    if activity.outcome:
        raise Conflict("the activity already has an outcome", extra={"outcome": activity.outcome})
    activity.outcome, activity.outcome_at = _outcome(outcome), utcnow()
    _contacted(uow, session.get(Account, activity.account_id, with_for_update=True), activity)
    return dump(_activity_out, activity)


def list_activities(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = within(select(Activity), Activity, caller, "sales_activity.read")
    for name in ("account_id", "opportunity_id", "owner_id", "type"):
        if filters.get(name):
            query = query.where(getattr(Activity, name) == filters[name])
    if filters.get("open") is not None:
        query = query.where(Activity.outcome.is_(None) if filters["open"] else Activity.outcome.is_not(None))
    items, total = page(session, query, limit, offset,
                        ordering(Activity, filters.get("sort"), ACTIVITY_SORT, "-due_at"))
    return {"items": [dump(_activity_out, a) for a in items], "total": total}
