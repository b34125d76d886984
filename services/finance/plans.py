"""Receivable plans: finance's copy of the accounts, the plan of each signed
contract (``sales.contract_signed``) and what a termination cancels
(``sales.contract_terminated``). The rules are ``receivables.py``'s."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from services.finance import receivables
from services.finance.models import Account, PlannedInstalment, ReceivablePlan
from services.finance.money import round_money
from services.finance.schemas import PLAN_SORT, PlanOut
from services.finance.scoping import page, visible, with_account, within
from shared.listing import ordering
from shared.caller import Caller
from shared.db import UnitOfWork, utcnow

log = logging.getLogger(__name__)

_plan_out = PlanOut()
Status = receivables.InstalmentStatus


class PlanNotYetKnown(LookupError):
    """A termination arrived before the signing it ends: the handler fails and is
    retried (then parked), so that the signing is applied first."""


def upsert_account(session, payload: dict[str, Any]) -> None:
    """Keep finance's copy of an account as ``sales.account_created`` tells it."""
    account = session.get(Account, payload["account_id"])
    if account is None:
        account = Account(id=payload["account_id"])
        session.add(account)
    account.name = payload["name"]
    account.owner_id, account.team_id = payload.get("owner_id"), payload.get("team_id")
    account.partner_id = payload.get("partner_id")
    account.updated_at = utcnow()


def apply_contract_signed(uow: UnitOfWork, payload: dict[str, Any]) -> str:
    """The receivable plan of a signed contract, made once: a second delivery (or a
    republication under a new event id) finds the plan and changes nothing; the
    unique contract id stops two at once. Returns the plan's id."""
    session = uow.session
    existing = session.scalar(select(ReceivablePlan.id).where(ReceivablePlan.contract_id == payload["contract_id"]))
    if existing is not None:
        log.info("contract %s has its receivable plan already", payload["contract_id"])
        return existing
    if session.get(Account, payload["account_id"]) is None:
        # signed before sales.account_created reached us: a first copy, completed when it does
        session.add(Account(id=payload["account_id"], owner_id=payload.get("owner_id"),
                            partner_id=payload.get("partner_id")))
    instalments = receivables.receivable_plan(payload["billing_schedule"], payload["currency"], payload["total"])
    plan = ReceivablePlan(contract_id=payload["contract_id"], account_id=payload["account_id"],
                          currency=payload["currency"], total=payload["total"], start_date=payload["start_date"],
                          end_date=payload.get("end_date"), billing_frequency=payload["billing_frequency"])
    session.add(plan)
    session.flush()
    session.add_all(PlannedInstalment(plan_id=plan.id, sequence=i.sequence, due_date=i.due_date, amount=i.amount,
                                      status=Status.PLANNED.value) for i in instalments)
    session.flush()
    return plan.id


def apply_contract_terminated(uow: UnitOfWork, payload: dict[str, Any]) -> list[int]:
    """Cancel the planned instalments due after the termination date
    (``receivables.instalments_to_cancel``); invoiced ones stay. Returns the
    sequences cancelled. An instalment the issuing timer claims meanwhile is
    invoiced, not cancelled: both change only a row still planned."""
    session = uow.session
    plan = session.scalars(select(ReceivablePlan).where(ReceivablePlan.contract_id == payload["contract_id"])
                           .with_for_update()).first()
    if plan is None:
        raise PlanNotYetKnown(f"no receivable plan for contract {payload['contract_id']} yet")
    rows = session.scalars(select(PlannedInstalment).where(PlannedInstalment.plan_id == plan.id)).all()
    by_sequence = {row.sequence: row for row in rows}
    cancel = receivables.instalments_to_cancel(
        [receivables.Instalment(r.sequence, r.due_date, r.amount, Status(r.status)) for r in rows],
        payload["terminated_on"])
    ids = [by_sequence[i.sequence].id for i in cancel]
    if ids:
        session.execute(update(PlannedInstalment).where(PlannedInstalment.id.in_(ids),
                                                        PlannedInstalment.status == Status.PLANNED.value)
                        .values(status=Status.CANCELLED.value))
    plan.status, plan.terminated_on = "terminated", payload["terminated_on"]
    session.flush()
    return [i.sequence for i in cancel]


def plan_answer(session, plan: ReceivablePlan, account: Account) -> dict[str, Any]:
    rows = session.scalars(select(PlannedInstalment).where(PlannedInstalment.plan_id == plan.id)
                           .order_by(PlannedInstalment.sequence)).all()
    instalments = [{"id": r.id, "sequence": r.sequence, "due_date": r.due_date,
                    "amount": round_money(r.amount, plan.currency), "status": r.status,
                    "invoice_id": r.invoice_id} for r in rows]
    return _plan_out.dump({
        "id": plan.id, "contract_id": plan.contract_id, "account_id": plan.account_id,
        "account_name": account.name, "owner_id": account.owner_id, "team_id": account.team_id,
        "partner_id": account.partner_id, "currency": plan.currency, "total": round_money(plan.total, plan.currency),
        "start_date": plan.start_date, "end_date": plan.end_date, "billing_frequency": plan.billing_frequency,
        "status": plan.status, "terminated_on": plan.terminated_on, "instalments": instalments,
        "created_at": plan.created_at})


def get_plan(session, caller: Caller, plan_id: str) -> dict[str, Any]:
    plan, account = visible(session, ReceivablePlan, caller, plan_id, "receivable plan", "receivable_plan.read")
    return plan_answer(session, plan, account)


def list_plans(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = within(with_account(ReceivablePlan), caller, "receivable_plan.read")
    for name in ("account_id", "contract_id", "status"):
        if filters.get(name):
            query = query.where(getattr(ReceivablePlan, name) == filters[name])
    rows, total = page(session, query, limit, offset,
                       ordering(ReceivablePlan, filters.get("sort"), PLAN_SORT, "-created_at"))
    return {"items": [plan_answer(session, plan, account) for plan, account in rows], "total": total}
