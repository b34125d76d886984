"""Who sees which invoices and receivable plans: the suite's policy
(``shared.policy``) applied through finance's copy of the account.

An invoice or plan belongs to its account: a rep reaches those of the accounts
they own, a manager those of their team's, a partner those of accounts that came
through its partner (read only), admin, ops and finance all. A record outside
the caller's read reach does not exist for them (404); one they may read but
not change is refused (403).
"""
from __future__ import annotations

from sqlalchemy import Select, select

from services.finance.models import Account
from shared import policy
from shared.caller import Caller
from shared.errors import NotFound
from shared.listing import count
from shared.scoping import reach_clause


def with_account(model) -> Select:
    """``model`` rows with their account copy: ``(record, account)``."""
    return select(model, Account).join(Account, model.account_id == Account.id)


def within(query: Select, caller: Caller, action: str) -> Select:
    """``query`` (joined to Account) narrowed to the accounts within the caller's reach."""
    return query.where(reach_clause(caller, action, Account))


def visible(session, model, caller: Caller, ident: str, what: str, action: str, for_update: bool = False):
    """``(record, account)`` for ``ident`` if within the caller's reach for ``action``; else 404."""
    query = within(with_account(model).where(model.id == ident), caller, action)
    if for_update:
        query = query.with_for_update(of=model)
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"{what} {ident} not found")
    return row[0], row[1]


def writable(session, model, caller: Caller, ident: str, what: str, read: str, write: str):
    """``(record, account)`` the caller may read (else 404) and change (else 403), locked."""
    record, account = visible(session, model, caller, ident, what, read, for_update=True)
    policy.require(caller, write, account)
    return record, account


def page(session, query: Select, limit: int, offset: int, order) -> tuple[list, int]:
    total = count(session, query)
    return session.execute(query.order_by(*order).limit(limit).offset(offset)).all(), total
