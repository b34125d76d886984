"""Customer selection: accounts or contacts found by criteria, and saved
selections whose criteria run again each time they are opened.

Criteria (all optional, combined with AND; list criteria match any value):
tags, segment, industry, line_of_business, territory, lifecycle, owner_id,
products (ids or SKUs bought under signed contracts), last_purchase_after /
_before, last_contact_after / _before (never contacted counts as before),
lifetime_value_min / _max, and on contacts interests and roles. An account
matches ``interests`` and ``roles`` through a contact of its own holding the
role at that account.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast, false, func, or_, select

from services.sales import domain
from services.sales.accounts import contact_answer, visible_contacts
from services.sales.models import Account, AccountContact, AccountProduct, Contact, Product, Selection, new_id
from services.sales.schemas import AccountOut, SelectionCriteria, SelectionOut, dump
from services.sales.scoping import page, visible, within
from shared.listing import load
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, utcnow
from shared.errors import Conflict, Invalid

TARGETS = ("accounts", "contacts")
ACCOUNT_FIELDS = ("segment", "industry", "line_of_business", "territory", "lifecycle", "owner_id")
_criteria = SelectionCriteria()
_account_out, _selection_out = AccountOut(), SelectionOut()


def _has_any(column, values) -> Any:
    """A JSON list column holding any of ``values`` (portable across SQLite and PostgreSQL)."""
    def pattern(value: str) -> str:
        text = json.dumps(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"%{text}%"
    return or_(*(cast(column, String).like(pattern(v), escape="\\") for v in values)) if values else false()



def _account_conditions(criteria: dict) -> list:
    conditions = [getattr(Account, name) == criteria[name] for name in ACCOUNT_FIELDS if criteria.get(name)]
    if criteria.get("tags"):
        conditions.append(_has_any(Account.tags, criteria["tags"]))
    if criteria.get("products"):
        wanted = criteria["products"]
        product_ids = select(Product.id).where(or_(Product.id.in_(wanted), Product.sku.in_(wanted)))
        conditions.append(Account.id.in_(select(AccountProduct.account_id)
                                         .where(AccountProduct.product_id.in_(product_ids))))
    if criteria.get("last_purchase_after"):
        conditions.append(Account.last_purchase_on >= domain.as_date(criteria["last_purchase_after"]))
    if criteria.get("last_purchase_before"):
        conditions.append(Account.last_purchase_on < domain.as_date(criteria["last_purchase_before"]))
    if criteria.get("last_contact_after"):
        conditions.append(Account.last_contacted_on >= domain.as_date(criteria["last_contact_after"]))
    if criteria.get("last_contact_before"):
        conditions.append(or_(Account.last_contacted_on.is_(None),
                              Account.last_contacted_on < domain.as_date(criteria["last_contact_before"])))
    if criteria.get("lifetime_value_min") is not None:
        conditions.append(Account.lifetime_value >= Decimal(str(criteria["lifetime_value_min"])))
    if criteria.get("lifetime_value_max") is not None:
        conditions.append(Account.lifetime_value <= Decimal(str(criteria["lifetime_value_max"])))
    return conditions


def _contacts_with(criteria: dict) -> list:
    conditions = []
    if criteria.get("interests"):
        conditions.append(_has_any(Contact.interests, criteria["interests"]))
    if criteria.get("roles"):
        conditions.append(Contact.id.in_(select(AccountContact.contact_id)
                                         .where(_has_any(AccountContact.roles, criteria["roles"]))))
    return conditions


def _query(caller: Caller, target: str, criteria: dict):
    accounts = within(select(Account), Account, caller, "account.read").where(*_account_conditions(criteria))
    if target == "accounts":
        if criteria.get("interests") or criteria.get("roles"):
            # a contact of this very account with the interest, holding the role here
            linked = select(AccountContact.account_id).join(Contact, Contact.id == AccountContact.contact_id)
            if criteria.get("interests"):
                linked = linked.where(_has_any(Contact.interests, criteria["interests"]))
            if criteria.get("roles"):
                linked = linked.where(_has_any(AccountContact.roles, criteria["roles"]))
            accounts = accounts.where(Account.id.in_(linked))
        return accounts, (Account.name, Account.id)
    query = select(Contact).where(visible_contacts(caller), *_contacts_with(criteria))
    if _account_conditions(criteria):
        account_ids = accounts.with_only_columns(Account.id)
        query = query.where(Contact.id.in_(select(AccountContact.contact_id)
                                           .where(AccountContact.account_id.in_(account_ids))))
    return query, (Contact.name, Contact.id)


def search(session, caller: Caller, target: str, criteria: dict, limit: int, offset: int) -> dict[str, Any]:
    """Accounts or contacts matching ``criteria`` among those the caller may read."""
    policy.require(caller, "selection.read")
    if target not in TARGETS:
        raise Invalid(f"cannot select {target!r}", errors={"target": f"one of {', '.join(TARGETS)}"})
    criteria = load(_criteria, criteria)
    query, order = _query(caller, target, criteria)
    items, total = page(session, query, limit, offset, order)
    if target == "accounts":
        return {"items": [dump(_account_out, account) for account in items], "total": total}
    return {"items": [contact_answer(session, contact) for contact in items], "total": total}


def save_selection(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    policy.require(caller, "selection.write")
    criteria = _criteria.dump(load(_criteria, data["criteria"]))
    taken = uow.session.scalars(select(Selection.id).where(Selection.owner_id == caller.user_id,
                                                           Selection.name == data["name"])).first()
    if taken:
        raise Conflict(f"you already have a selection named {data['name']!r}", errors={"name": "taken"})
    selection = Selection(id=new_id(), name=data["name"], target=data["target"], criteria=criteria,
                          owner_id=caller.user_id, team_id=caller.team_id, created_at=utcnow())
    uow.session.add(selection)
    uow.session.flush()
    query, _ = _query(caller, selection.target, criteria)
    return dump(_selection_out, selection, count=_count(uow.session, query))


def _count(session, query) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def list_selections(session, caller: Caller, limit: int, offset: int) -> dict[str, Any]:
    query = within(select(Selection), Selection, caller, "selection.read")
    items, total = page(session, query, limit, offset, (Selection.name, Selection.id))
    # count stays null in a list: it would run every selection's criteria
    return {"items": [dump(_selection_out, s, count=None) for s in items], "total": total}


def get_selection(session, caller: Caller, selection_id: str) -> dict[str, Any]:
    selection = visible(session, Selection, caller, selection_id, "selection", "selection.read")
    query, _ = _query(caller, selection.target, selection.criteria)
    return dump(_selection_out, selection, count=_count(session, query))


def selection_results(session, caller: Caller, selection_id: str, limit: int, offset: int) -> dict[str, Any]:
    """Run the saved criteria again, as the caller: what they may see today."""
    selection = visible(session, Selection, caller, selection_id, "selection", "selection.read")
    return search(session, caller, selection.target, selection.criteria, limit, offset)


def delete_selection(uow: UnitOfWork, caller: Caller, selection_id: str) -> None:
    selection = visible(uow.session, Selection, caller, selection_id, "selection", "selection.read")
    policy.require(caller, "selection.write", selection)
    uow.session.delete(selection)
