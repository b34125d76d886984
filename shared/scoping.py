"""The policy's reach as a SQL condition, so lists and lookups see only what
the caller may see (enforced in the services' own queries)."""
from __future__ import annotations

from sqlalchemy import false, or_, true
from sqlalchemy.sql.elements import ColumnElement

from shared import policy
from shared.caller import Caller


def reach_clause(caller: Caller, action: str, model) -> ColumnElement[bool]:
    """A WHERE condition over ``model`` (its ``owner_id``, ``team_id`` and
    ``partner_id`` columns, where it has them) matching the records within
    the caller's reach for ``action``. Refuses (403) a caller with no reach."""
    scope = policy.reach(caller, action)
    if scope is None:
        policy.require(caller, action)  # raises, naming who may
    if scope is policy.Reach.ALL:
        return true()
    column = lambda name: getattr(model, name, None)  # noqa: E731
    own = (column("owner_id") == caller.user_id) if caller.user_id and column("owner_id") is not None \
        else false()
    if scope is policy.Reach.OWN:
        return own
    if scope is policy.Reach.TEAM:
        if caller.team_id and column("team_id") is not None:
            return or_(own, column("team_id") == caller.team_id)
        return own
    if scope is policy.Reach.PARTNER and caller.partner_id and column("partner_id") is not None:
        return column("partner_id") == caller.partner_id
    return false()

