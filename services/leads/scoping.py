"""Who may see and change which leads records: the one place the leads
service applies the suite's policy (:mod:`shared.policy`).

Everything here is the policy's reach turned into queries and checks, so a
route shows and changes exactly what its action reaches: ``lead.read`` the
leads in reach, ``lead_pool.read``/``lead_pool.claim`` the pool (open leads
nobody owns) through its own routes. A record out of sight is NotFound (we
do not reveal it exists); one in sight but out of reach for a change is
Forbidden.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from services.leads.domain import OPEN_STATUSES
from services.leads.models import Activity, AssignmentRule, ImportJob, Lead, Rep
from shared import policy
from shared.caller import Caller
from shared.errors import Forbidden, Invalid, NotFound
from shared.scoping import reach_clause

OPEN = [s.value for s in OPEN_STATUSES]


def pool_clause() -> ColumnElement[bool]:
    """Open leads nobody owns."""
    return and_(Lead.owner_id.is_(None), Lead.status.in_(OPEN))


def lead_clause(caller: Caller, action: str = "lead.read") -> ColumnElement[bool]:
    """The leads within ``caller``'s reach for ``action``; refuses (403) a
    caller who reaches none."""
    return reach_clause(caller, action, Lead)


def visible_lead(session: Session, caller: Caller, lead_id: str, for_update: bool = False,
                 action: str = "lead.read") -> Lead:
    """The lead if ``caller`` reaches it for ``action``; NotFound otherwise."""
    query = select(Lead).where(Lead.id == lead_id, lead_clause(caller, action))
    lead = session.scalars(query.with_for_update() if for_update else query).first()
    if lead is None:
        raise NotFound(f"lead {lead_id} not found", extra={"lead_id": lead_id})
    return lead


def changeable_lead(session: Session, caller: Caller, lead_id: str, action: str = "lead.update") -> Lead:
    """A lead ``caller`` sees and may do ``action`` on (Forbidden when only seen)."""
    lead = visible_lead(session, caller, lead_id)
    policy.require(caller, action, lead)
    return lead


def new_record_ownership(caller: Caller, action: str) -> dict[str, Any]:
    """Whose a record ``caller`` creates is from the start, by their reach for
    ``action``: their own when it is OWN, their partner's when PARTNER (a
    partner user with no partner creates nothing), nobody's yet otherwise."""
    scope = policy.reach(caller, action)
    if scope is policy.Reach.OWN:
        return {"owner_id": caller.user_id, "team_id": caller.team_id}
    if scope is policy.Reach.PARTNER:
        ownership = {"partner_id": caller.partner_id}
        policy.require(caller, action, ownership)
        return ownership
    policy.require(caller, action)
    return {}


def roster_rep(session: Session, user_id: str, field: str = "owner_id") -> Rep:
    """The active member ``user_id`` of the roster; Invalid (naming ``field``) otherwise."""
    rep = session.get(Rep, user_id)
    if rep is None or not rep.active:
        raise Invalid(f"user {user_id} is not an active user",
                      errors={field: "unknown or inactive user"})
    return rep


def ownership_of(rep: Rep) -> dict[str, Any]:
    """The ownership a record gets when ``rep`` owns it."""
    return {"owner_id": rep.user_id, "team_id": rep.team_id}


def require_owner_in_reach(caller: Caller, action: str, rep: Rep, field: str = "owner_id") -> Rep:
    """Refuse to give ``rep`` a record unless ``rep`` is within ``caller``'s reach for ``action``."""
    policy.require_within_reach(caller, action, ownership_of(rep), field)
    return rep


def prospective_owner(session: Session, caller: Caller, action: str, owner_id: str,
                      field: str = "owner_id") -> dict[str, Any]:
    """The ownership of a record ``caller`` gives to ``owner_id`` for ``action``;
    Invalid when that user is not on the roster, Forbidden when out of reach.
    The caller themselves need not be on the roster yet."""
    if owner_id == caller.user_id and session.get(Rep, owner_id) is None:
        ownership = {"owner_id": caller.user_id, "team_id": caller.team_id}
        policy.require_within_reach(caller, action, ownership, field)
        return ownership
    return ownership_of(require_owner_in_reach(caller, action, roster_rep(session, owner_id, field), field))


def require_user_in_reach(session: Session, caller: Caller, action: str, user_id: str,
                          field: str) -> None:
    """Refuse unless the records of ``user_id`` (in their roster team, if any)
    are within ``caller``'s reach for ``action``."""
    rep = session.get(Rep, user_id)
    policy.require_within_reach(caller, action, {"owner_id": user_id, "team_id": rep.team_id if rep else None},
                                field)


def activity_clause(caller: Caller, action: str = "activity.read") -> ColumnElement[bool]:
    return reach_clause(caller, action, Activity)


def changeable_activity(session: Session, caller: Caller, activity_id: str) -> Activity:
    """An activity ``caller`` sees and may change."""
    activity = session.scalars(select(Activity).where(Activity.id == activity_id,
                                                      activity_clause(caller))).first()
    if activity is None:
        raise NotFound(f"activity {activity_id} not found")
    policy.require(caller, "activity.write", activity)
    return activity


def rule_clause(caller: Caller, action: str = "assignment_rule.read") -> ColumnElement[bool]:
    """Assignment rules in reach: a manager's team's, everyone's for admins (and ops, reading)."""
    return reach_clause(caller, action, AssignmentRule)


def rule_team(caller: Caller, team_id: str | None) -> str | None:
    """The team a rule ``caller`` writes is for: a manager's own team (by default
    and only), any or none for those who reach all rules."""
    if policy.reach(caller, "assignment_rule.write") is policy.Reach.TEAM and team_id is None:
        if caller.team_id is None:
            raise Invalid("a manager's assignment rules are for the own team, and you belong to none; "
                          "ask an admin to write this rule", errors={"team_id": "you have no team"})
        team_id = caller.team_id
    if not policy.allows(caller, "assignment_rule.write", {"team_id": team_id}):
        raise Forbidden("a manager writes assignment rules for the own team only",
                        errors={"team_id": "not your team"}, extra={"action": "assignment_rule.write"})
    return team_id


def import_job(session: Session, caller: Caller, job_id: str, for_update: bool = False) -> ImportJob:
    """The import ``caller`` may follow and feed (``lead.import`` reach over the
    person who started it); NotFound otherwise."""
    policy.require(caller, "lead.import")
    query = select(ImportJob).where(ImportJob.id == job_id)
    job = session.scalars(query.with_for_update() if for_update else query).first()
    starter = (job.caller or {}) if job is not None else {}
    if job is None or not policy.allows(caller, "lead.import", {"owner_id": starter.get("user_id"),
                                                                "team_id": starter.get("team_id")}):
        raise NotFound(f"import {job_id} not found")
    return job
