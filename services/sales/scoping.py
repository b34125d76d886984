"""Who sees and changes which sales records: the suite's policy
(``shared.policy``) applied to the service's own queries, and the paging
helpers every list shares.

A record outside the caller's read reach does not exist for them (404); one
they may read but not change is refused (403).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from shared import policy
from shared.caller import Caller
from shared.errors import NotFound
from shared.listing import count
from shared.scoping import reach_clause

# Fields that reveal what the company pays: shown only to roles with ``cost.read``.
COST_FIELDS = frozenset({"unit_cost", "cost", "margin", "margin_pct"})


def within(query: Select, model, caller: Caller, action: str) -> Select:
    """``query`` narrowed to the ``model`` records within the caller's reach for ``action``."""
    return query.where(reach_clause(caller, action, model))


def visible(session, model, caller: Caller, ident: str, what: str, action: str, for_update: bool = False):
    """The record ``ident`` if within the caller's reach for ``action``; else 404."""
    query = within(select(model).where(model.id == ident), model, caller, action)
    record = session.scalars(query.with_for_update() if for_update else query).first()
    if record is None:
        raise NotFound(f"{what} {ident} not found")
    return record


def writable(session, model, caller: Caller, ident: str, what: str, read: str, write: str):
    """A record the caller may read (else 404) and change (else 403), locked for this transaction."""
    record = visible(session, model, caller, ident, what, read, for_update=True)
    policy.require(caller, write, record)
    return record


def shown_to(caller: Caller, answer: Any) -> Any:
    """``answer`` without unit costs and margins unless the caller may read costs."""
    if policy.allows(caller, "cost.read"):
        return answer
    return _without_costs(answer)


def _without_costs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_costs(v) for k, v in value.items() if k not in COST_FIELDS}
    if isinstance(value, list):
        return [_without_costs(v) for v in value]
    return value


def page(session, query, limit: int, offset: int, order):
    total = count(session, query)
    return session.scalars(query.order_by(*order).limit(limit).offset(offset)).all(), total
