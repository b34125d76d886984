"""Accounts, contacts and the product catalog."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select

from services.sales import domain
from services.sales.models import Account, AccountContact, Contact, Product, new_id
from services.sales.schemas import AccountOut, ContactOut, ProductOut
from services.sales.scoping import page, require_role, require_writer, scope, visible
from shared.db import UnitOfWork, as_utc, utcnow
from shared.errors import Conflict, Invalid, NotFound

_account_out, _contact_out, _product_out = AccountOut(), ContactOut(), ProductOut()


def account_dict(account: Account) -> dict[str, Any]:
    data = _account_out.dump(account)
    data["created_at"] = as_utc(account.created_at).isoformat()
    data["next_contact_on"] = account.next_contact_on.isoformat() if account.next_contact_on else None
    return data


def account_created_payload(account: Account) -> dict[str, Any]:
    return {"account_id": account.id, "name": account.name, "owner_id": account.owner_id,
            "team_id": account.team_id, "branch_id": account.branch_id, "partner_id": account.partner_id,
            "segment": account.segment, "industry": account.industry,
            "line_of_business": account.line_of_business, "source_lead_id": account.source_lead_id}


def create_account(uow: UnitOfWork, caller: dict, data: dict) -> dict[str, Any]:
    require_role(caller, "rep", "manager", "admin")
    owner_id = data.pop("owner_id", None) or caller.get("user_id")
    if caller["role"] == "rep" and owner_id != caller.get("user_id"):
        raise Invalid("a rep creates accounts they own", errors={"owner_id": "must be you"})
    account = Account(id=new_id(), owner_id=owner_id, team_id=caller.get("team_id"),
                      branch_id=caller.get("branch_id"), tags=[], created_at=utcnow(), updated_at=utcnow(),
                      **{k: v for k, v in data.items() if k != "lifecycle"},
                      lifecycle=data.get("lifecycle", domain.Lifecycle.PROSPECT.value))
    uow.session.add(account)
    uow.session.flush()
    uow.emit("sales.account_created", account_created_payload(account))
    return account_dict(account)


def get_account(session, caller: dict, account_id: str) -> dict[str, Any]:
    return account_dict(visible(session, Account, caller, account_id, "account"))


def list_accounts(session, caller: dict, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = scope(select(Account), Account, caller)
    for name in ("owner_id", "segment", "industry", "lifecycle"):
        if filters.get(name):
            query = query.where(getattr(Account, name) == filters[name])
    if filters.get("q"):
        query = query.where(func.lower(Account.name).like(f"%{filters['q'].lower()}%"))
    items, total = page(session, query, limit, offset, (Account.name, Account.id))
    return {"items": [account_dict(a) for a in items], "total": total}


def contact_dict(session, contact: Contact) -> dict[str, Any]:
    data = _contact_out.dump(contact)
    data["created_at"] = as_utc(contact.created_at).isoformat()
    links = session.scalars(select(AccountContact).where(AccountContact.contact_id == contact.id)).all()
    data["accounts"] = [{"account_id": link.account_id, "roles": link.roles} for link in links]
    return data


def create_contact(uow: UnitOfWork, caller: dict, data: dict) -> dict[str, Any]:
    require_role(caller, "rep", "manager", "admin")
    account_id, roles = data.pop("account_id", None), data.pop("roles", [])
    contact = Contact(id=new_id(), owner_id=caller.get("user_id"), interests=[], topics=[],
                      created_at=utcnow(), **data)
    uow.session.add(contact)
    if account_id:
        account = visible(uow.session, Account, caller, account_id, "account")
        require_writer(caller, account)
        domain.check_roles(roles)
        uow.session.flush()
        uow.session.add(AccountContact(account_id=account.id, contact_id=contact.id, roles=list(roles)))
    uow.session.flush()
    return contact_dict(uow.session, contact)


def _visible_contact_ids(caller: dict):
    """Contacts linked to an account the caller sees, or that the caller created."""
    accounts = scope(select(Account.id), Account, caller)
    linked = select(AccountContact.contact_id).where(AccountContact.account_id.in_(accounts))
    return or_(Contact.id.in_(linked), Contact.owner_id == caller.get("user_id"))


def get_contact(session, caller: dict, contact_id: str) -> dict[str, Any]:
    contact = session.scalars(select(Contact).where(Contact.id == contact_id,
                                                    _visible_contact_ids(caller))).first()
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact_dict(session, contact)


def list_contacts(session, caller: dict, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = select(Contact).where(_visible_contact_ids(caller))
    if filters.get("account_id"):
        query = query.where(Contact.id.in_(select(AccountContact.contact_id).where(
            AccountContact.account_id == filters["account_id"])))
    if filters.get("q"):
        query = query.where(func.lower(Contact.name).like(f"%{filters['q'].lower()}%"))
    items, total = page(session, query, limit, offset, (Contact.name, Contact.id))
    return {"items": [contact_dict(session, c) for c in items], "total": total}


def create_product(uow: UnitOfWork, caller: dict, data: dict) -> dict[str, Any]:
    require_role(caller, "admin", "manager")
    if uow.session.scalars(select(Product).where(Product.sku == data["sku"])).first():
        raise Conflict(f"a product with SKU {data['sku']} exists", errors={"sku": "taken"})
    product = Product(id=new_id(), **{**data, "list_price": Decimal(str(data["list_price"])),
                                     "unit_cost": Decimal(str(data["unit_cost"]))})
    uow.session.add(product)
    uow.session.flush()
    return _product_out.dump(product)


def list_products(session, caller: dict, active_only: bool, limit: int, offset: int) -> dict[str, Any]:
    query = select(Product).where(Product.active.is_(True)) if active_only else select(Product)
    items, total = page(session, query, limit, offset, (Product.sku,))
    return {"items": [_product_out.dump(p) for p in items], "total": total}
