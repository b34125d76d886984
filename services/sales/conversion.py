"""A converted lead becomes an account, a contact and an opportunity.

Idempotent twice over: the inbox skips a redelivered event, and the
``source_lead_id`` unique keys refuse a second account or opportunity for
the same lead even if the event was published twice under new ids.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from services.sales.accounts import account_created_payload, refresh_next_contact
from services.sales.models import Account, AccountContact, Contact, Opportunity, new_id
from services.sales.opportunities import open_opportunity
from shared.db import UnitOfWork, utcnow


def apply_lead_converted(uow: UnitOfWork, payload: dict) -> Opportunity | None:
    session = uow.session
    lead_id = payload["lead_id"]
    if session.scalars(select(Opportunity.id).where(Opportunity.source_lead_id == lead_id)).first():
        return None
    now = utcnow()
    account = session.scalars(select(Account).where(Account.source_lead_id == lead_id)).first()
    if account is None:
        account = Account(id=new_id(), name=payload["company"], owner_id=payload.get("owner_id"),
                          team_id=payload.get("team_id"), partner_id=payload.get("partner_id"),
                          segment=payload.get("segment"), industry=payload.get("industry"),
                          territory=payload.get("territory"), address=payload.get("address"),
                          tags=list(payload.get("tags") or []), lifecycle="prospect",
                          source_lead_id=lead_id, created_at=now, updated_at=now)
        session.add(account)
        refresh_next_contact(session, account)
        uow.emit("sales.account_created", account_created_payload(account))
    contact = None
    if payload.get("contact_name") or payload.get("email"):
        contact = Contact(id=new_id(), name=payload.get("contact_name") or payload["email"],
                          email=payload.get("email"), phone=payload.get("phone"),
                          interests=list(payload.get("interests") or []), topics=[],
                          owner_id=payload.get("owner_id"), team_id=payload.get("team_id"),
                          partner_id=payload.get("partner_id"), source_lead_id=lead_id, created_at=now)
        session.add(contact)
    session.flush()  # the account and contact rows before the rows that refer to them
    if contact is not None:
        session.add(AccountContact(account_id=account.id, contact_id=contact.id, roles=["prospect"]))
    value = payload.get("estimated_value")
    return open_opportunity(uow, account, {
        "name": payload["company"], "contact_id": contact.id if contact else None,
        "amount": Decimal(str(value)) if value is not None else None, "currency": payload.get("currency"),
        "notes": payload.get("notes")}, actor_id=payload.get("owner_id"), source=payload.get("source"),
        source_lead_id=lead_id, enforce_gate=False)
