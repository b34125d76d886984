"""The suite's users as sales knows them (``gateway.user_changed``), and the
owner of a record a caller creates or hands over."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.sales.models import Rep
from shared import policy
from shared.caller import Caller
from shared.errors import Invalid

ROSTER_FIELDS = ("name", "role", "team_id", "branch_id", "partner_id", "active")


def upsert_rep(session: Session, user: dict) -> None:
    """Keep the roster in step with the gateway's users (``gateway.user_changed``)."""
    rep = session.get(Rep, user["user_id"])
    if rep is None:
        rep = Rep(user_id=user["user_id"])
        session.add(rep)
    for name in ROSTER_FIELDS:
        setattr(rep, name, user.get(name))


@dataclass(frozen=True)
class Owner:
    """Who will own a record, with the team and branch it then belongs to."""
    owner_id: str | None
    team_id: str | None
    branch_id: str | None


def owner_for(session: Session, caller: Caller, action: str, owner_id: str | None) -> Owner:
    """The owner of a record ``caller`` creates or hands over for ``action``.

    Omitted, it is the caller. Anyone else must be an active user of the
    roster (else 422 naming ``owner_id``) within the caller's reach for
    ``action`` (else 403): a rep only themselves, a manager their own team.
    The owner's team and branch come from the roster, never from the client.
    """
    if not owner_id or owner_id == caller.user_id:
        owner = Owner(caller.user_id, caller.team_id, caller.branch_id)
    else:
        rep = session.get(Rep, owner_id)
        if rep is None or not rep.active:
            raise Invalid(f"owner {owner_id} is not an active user", errors={"owner_id": "unknown user"})
        owner = Owner(rep.user_id, rep.team_id, rep.branch_id)
    policy.require_within_reach(caller, action, {"owner_id": owner.owner_id, "team_id": owner.team_id})
    return owner
