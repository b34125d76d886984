"""Accounts, contacts and the product catalog."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select

from services.sales import domain
from services.sales.cadence import AccountFacts
from services.sales.extensions import cadence_rule
from services.sales.models import Account, AccountContact, AccountProduct, Contact, Product, new_id
from services.sales.roster import owner_for
from services.sales.schemas import (ACCOUNT_SORT, CONTACT_SORT, PRODUCT_SORT, AccountIn, AccountOut, AccountPatch,
                                    ContactOut, ContactPatch, FollowUpOut, ProductOut, dump)
from services.sales.scoping import page, shown_to, visible, within, writable
from shared.listing import load, ordering
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, utcnow
from shared.errors import Conflict, Forbidden, NotFound
from shared.scoping import reach_clause

_account_out, _follow_up_out = AccountOut(), FollowUpOut()
_contact_out, _product_out = ContactOut(), ProductOut()
_account_in, _account_patch, _contact_patch = AccountIn(), AccountPatch(), ContactPatch()


def refresh_next_contact(session, account: Account, today: date | None = None) -> None:
    """Set the account's next-contact date from the installed cadence rule."""
    life = None
    if account.last_purchase_on is not None:  # nothing bought yet, no product life cycle to ask about
        life = session.scalar(select(func.min(Product.life_cycle_days)).join(
            AccountProduct, AccountProduct.product_id == Product.id).where(AccountProduct.account_id == account.id))
    account.next_contact_on = cadence_rule().next_contact_on(AccountFacts(
        today=today or utcnow().date(), competition_level=account.competition_level or "medium",
        repeat_purchase_probability=account.repeat_purchase_probability
        if account.repeat_purchase_probability is not None else 50,
        last_contacted_on=account.last_contacted_on, last_purchase_on=account.last_purchase_on,
        shortest_product_life_cycle_days=life, lifecycle=account.lifecycle))


def record_purchase(session, account: Account, lines: list[dict], total: Decimal, on: date) -> None:
    """A signed contract: the account becomes a customer, its lifetime value and
    products bought grow, and its next contact is planned again."""
    account.lifecycle = domain.Lifecycle.CUSTOMER.value
    account.lifetime_value = (account.lifetime_value or Decimal("0.00")) + total
    account.last_purchase_on = max(on, account.last_purchase_on or on)
    for line in lines:
        if not line.get("product_id"):
            continue
        bought = session.get(AccountProduct, (account.id, line["product_id"]))
        if bought is None:
            session.add(AccountProduct(account_id=account.id, product_id=line["product_id"],
                                       quantity=Decimal(str(line["quantity"])), last_bought_on=on))
        else:
            bought.quantity += Decimal(str(line["quantity"]))
            bought.last_bought_on = max(on, bought.last_bought_on)
    session.flush()
    account.updated_at = utcnow()
    refresh_next_contact(session, account)


def account_created_payload(account: Account) -> dict[str, Any]:
    return {"account_id": account.id, "name": account.name, "owner_id": account.owner_id,
            "team_id": account.team_id, "branch_id": account.branch_id, "partner_id": account.partner_id,
            "segment": account.segment, "industry": account.industry,
            "line_of_business": account.line_of_business, "source_lead_id": account.source_lead_id}


def create_account(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    """A new account owned by the caller, or by ``owner_id`` within their reach
    (the account then belongs to that owner's team)."""
    data = load(_account_in, data)
    owner = owner_for(uow.session, caller, "account.write", data.pop("owner_id", None))
    fields = {"tags": [], "lifecycle": domain.Lifecycle.PROSPECT.value, "competition_level": "medium",
              "repeat_purchase_probability": 50, **data}
    account = Account(id=new_id(), owner_id=owner.owner_id, team_id=owner.team_id,
                      branch_id=owner.branch_id, lifetime_value=Decimal("0.00"), created_at=utcnow(),
                      updated_at=utcnow(), **fields)
    uow.session.add(account)
    uow.session.flush()
    if "next_contact_on" not in data:
        refresh_next_contact(uow.session, account)
    uow.emit("sales.account_created", account_created_payload(account))
    return dump(_account_out, account)


CADENCE_INPUTS = ("competition_level", "repeat_purchase_probability", "lifecycle")


def update_account(uow: UnitOfWork, caller: Caller, account_id: str, data: dict) -> dict[str, Any]:
    """Change an account's fields; a new owner must be within the caller's reach
    (a manager hands accounts within the team) and brings the account to their team.
    Changing a cadence input plans the next contact again, unless the request
    sets ``next_contact_on`` itself."""
    data = load(_account_patch, data)
    account = writable(uow.session, Account, caller, account_id, "account", "account.read", "account.write")
    if "owner_id" in data and data["owner_id"] != account.owner_id:
        if data["owner_id"] is None:  # unowned, it stays with its team
            policy.require(caller, "account.write", {"owner_id": None, "team_id": account.team_id})
        else:
            owner = owner_for(uow.session, caller, "account.write", data["owner_id"])
            account.team_id, account.branch_id = owner.team_id, owner.branch_id
    for name, value in data.items():
        setattr(account, name, value)
    if any(name in data for name in CADENCE_INPUTS) and "next_contact_on" not in data:
        refresh_next_contact(uow.session, account)
    account.updated_at = utcnow()
    uow.session.flush()
    return dump(_account_out, account)


def follow_ups(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    """Accounts whose next contact is due on ``as_of`` (today) or before: the
    overdue follow-ups list, most overdue first. A rep sees their own."""
    as_of = domain.as_date(filters.get("as_of") or utcnow().date())
    query = within(select(Account), Account, caller, "account.read").where(
        Account.next_contact_on.is_not(None), Account.next_contact_on <= as_of,
        Account.lifecycle != domain.Lifecycle.FORMER.value)
    if filters.get("owner_id"):
        query = query.where(Account.owner_id == filters["owner_id"])
    items, total = page(session, query, limit, offset, (Account.next_contact_on, Account.name, Account.id))
    return {"items": [dump(_follow_up_out, a, days_overdue=(as_of - a.next_contact_on).days) for a in items],
            "total": total}


def get_account(session, caller: Caller, account_id: str) -> dict[str, Any]:
    return dump(_account_out, visible(session, Account, caller, account_id, "account", "account.read"))


def list_accounts(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = within(select(Account), Account, caller, "account.read")
    for name in ("owner_id", "segment", "industry", "lifecycle"):
        if filters.get(name):
            query = query.where(getattr(Account, name) == filters[name])
    if filters.get("q"):
        query = query.where(func.lower(Account.name).like(f"%{filters['q'].lower()}%"))
    items, total = page(session, query, limit, offset,
                        ordering(Account, filters.get("sort"), ACCOUNT_SORT, "name"))
    return {"items": [dump(_account_out, a) for a in items], "total": total}


def contact_answer(session, contact: Contact) -> dict[str, Any]:
    """The contact as ``ContactOut`` shows it, with the accounts it is linked to."""
    links = session.scalars(select(AccountContact).where(AccountContact.contact_id == contact.id)).all()
    return dump(_contact_out, contact, accounts=links)


def create_contact(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    policy.require(caller, "contact.write")
    account_id, roles = data.pop("account_id", None), data.pop("roles", [])
    contact = Contact(id=new_id(), owner_id=caller.user_id, team_id=caller.team_id, created_at=utcnow(),
                      **{"interests": [], "topics": [], **data})
    uow.session.add(contact)
    if account_id:
        account = visible(uow.session, Account, caller, account_id, "account", "account.read")
        policy.require(caller, "account.write", account)
        domain.check_roles(roles)
        uow.session.flush()
        uow.session.add(AccountContact(account_id=account.id, contact_id=contact.id, roles=list(roles)))
    uow.session.flush()
    return contact_answer(uow.session, contact)


def _writable_contact(session, caller: Caller, contact_id: str) -> Contact:
    contact = session.scalars(select(Contact).where(Contact.id == contact_id, visible_contacts(caller))
                              .with_for_update()).first()
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    if session.scalars(select(Contact.id).where(Contact.id == contact_id,
                                                visible_contacts(caller, "contact.write"))).first() is None:
        raise Forbidden("only whoever owns the contact or one of its accounts, their manager or an admin "
                        "may change it", extra={"action": "contact.write"})
    return contact


def update_contact(uow: UnitOfWork, caller: Caller, contact_id: str, data: dict) -> dict[str, Any]:
    """Change a contact's details, interests and the topics discussed."""
    contact = _writable_contact(uow.session, caller, contact_id)
    for name, value in load(_contact_patch, data).items():
        setattr(contact, name, value)
    uow.session.flush()
    return contact_answer(uow.session, contact)


def link_contact(uow: UnitOfWork, caller: Caller, contact_id: str, account_id: str,
                 roles: list[str]) -> dict[str, Any]:
    """Set the contact's roles in the buying process of one account (linking
    it to that account if it was not); empty roles unlink it."""
    contact = _writable_contact(uow.session, caller, contact_id)
    account = visible(uow.session, Account, caller, account_id, "account", "account.read")
    policy.require(caller, "account.write", account)
    domain.check_roles(roles)
    link = uow.session.get(AccountContact, (account.id, contact.id))
    if not roles:
        if link is not None:
            uow.session.delete(link)
    elif link is None:
        uow.session.add(AccountContact(account_id=account.id, contact_id=contact.id, roles=sorted(set(roles))))
    else:
        link.roles = sorted(set(roles))
    uow.session.flush()
    return contact_answer(uow.session, contact)


def visible_contacts(caller: Caller, action: str = "contact.read"):
    """Contacts linked to an account within the caller's reach for ``action``,
    or themselves within it (created by the caller, or through their partner)."""
    accounts = within(select(Account.id), Account, caller, action)
    linked = select(AccountContact.contact_id).where(AccountContact.account_id.in_(accounts))
    return or_(Contact.id.in_(linked), reach_clause(caller, action, Contact))


def get_contact(session, caller: Caller, contact_id: str) -> dict[str, Any]:
    contact = session.scalars(select(Contact).where(Contact.id == contact_id,
                                                    visible_contacts(caller))).first()
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact_answer(session, contact)


def list_contacts(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = select(Contact).where(visible_contacts(caller))
    if filters.get("account_id"):
        query = query.where(Contact.id.in_(select(AccountContact.contact_id).where(
            AccountContact.account_id == filters["account_id"])))
    if filters.get("q"):
        query = query.where(func.lower(Contact.name).like(f"%{filters['q'].lower()}%"))
    items, total = page(session, query, limit, offset,
                        ordering(Contact, filters.get("sort"), CONTACT_SORT, "name"))
    return {"items": [contact_answer(session, c) for c in items], "total": total}


def create_product(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    policy.require(caller, "product.write")
    if uow.session.scalars(select(Product).where(Product.sku == data["sku"])).first():
        raise Conflict(f"a product with SKU {data['sku']} exists", errors={"sku": "taken"})
    product = Product(id=new_id(), **{**data, "list_price": Decimal(str(data["list_price"])),
                                     "unit_cost": Decimal(str(data["unit_cost"]))})
    uow.session.add(product)
    uow.session.flush()
    return shown_to(caller, dump(_product_out, product))


def update_product(uow: UnitOfWork, caller: Caller, product_id: str, data: dict) -> dict[str, Any]:
    """Change prices, life cycle or the active flag; an inactive product stays on
    existing opportunities and contracts but is no longer offered."""
    policy.require(caller, "product.write")
    product = uow.session.get(Product, product_id, with_for_update=True)
    if product is None:
        raise NotFound(f"product {product_id} not found")
    for name, value in data.items():
        setattr(product, name, Decimal(str(value)) if name in ("list_price", "unit_cost") else value)
    uow.session.flush()
    return shown_to(caller, dump(_product_out, product))


def list_products(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    """The catalog (not for partners); unit costs only for roles that may read costs."""
    policy.require(caller, "product.read")
    query = select(Product)
    if filters.get("active_only", True):
        query = query.where(Product.active.is_(True))
    for name in ("line_of_business", "currency"):
        if filters.get(name):
            query = query.where(getattr(Product, name) == filters[name])
    if filters.get("q"):
        needle = f"%{filters['q'].lower()}%"
        query = query.where(or_(func.lower(Product.name).like(needle), func.lower(Product.sku).like(needle)))
    items, total = page(session, query, limit, offset,
                        ordering(Product, filters.get("sort"), PRODUCT_SORT, "sku"))
    return {"items": [shown_to(caller, dump(_product_out, p)) for p in items], "total": total}
