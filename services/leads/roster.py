"""The suite's users as leads knows them (``gateway.user_changed``): the reps
that leads are assigned to."""
from __future__ import annotations

from sqlalchemy.orm import Session

from services.leads.models import Rep


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
