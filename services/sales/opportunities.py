"""Opportunities through a pipeline: lines, stage gates, stage history, won and lost."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select

from services.sales import domain
from services.sales.models import Account, Opportunity, OpportunityLine, StageChange, new_id
from services.sales.pipelines import get_pipeline, stage_of
from services.sales.roster import owner_for
from services.sales.schemas import OPPORTUNITY_SORT, OpportunityOut, dump
from services.sales.scoping import page, shown_to, visible, within, writable
from shared.listing import ordering
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, check_version, flush_versioned, utcnow
from shared.errors import Conflict, Invalid

FIELDS = ("name", "contact_id", "decision_maker_id", "amount", "currency", "expected_close_date",
          "next_step", "competitors", "budget_confirmed", "notes")
_opportunity_out = OpportunityOut()


def _lines(session, opportunity: Opportunity) -> list[OpportunityLine]:
    return session.scalars(select(OpportunityLine).where(OpportunityLine.opportunity_id == opportunity.id)
                           .order_by(OpportunityLine.position)).all()


def line_dicts(lines) -> list[dict[str, Any]]:
    """Lines as quotes and contracts store them and ``sales.opportunity_created`` carries them."""
    return [{"product_id": line.product_id, "description": line.description,
             "quantity": str(line.quantity), "unit_price": str(line.unit_price),
             "discount_pct": str(line.discount_pct), "unit_cost": str(line.unit_cost),
             "net": str(line.net)} for line in lines]


def _domain_lines(rows) -> list[domain.Line]:
    return [domain.Line(product_id=r.product_id, description=r.description, quantity=r.quantity,
                        unit_price=r.unit_price, discount_pct=r.discount_pct, unit_cost=r.unit_cost)
            for r in rows]


def opportunity_answer(session, caller: Caller, opportunity: Opportunity) -> dict[str, Any]:
    """The opportunity as ``caller`` may see it (unit costs and margins only with ``cost.read``)."""
    pipeline = get_pipeline(session, opportunity.pipeline_id)
    stage = stage_of(pipeline, opportunity.stage_key)
    lines = _domain_lines(_lines(session, opportunity))
    history = session.scalars(select(StageChange).where(StageChange.opportunity_id == opportunity.id)
                              .order_by(StageChange.at, StageChange.id)).all()
    return shown_to(caller, dump(
        _opportunity_out, opportunity, stage=opportunity.stage_key,
        probability=domain.effective_probability(stage, opportunity.probability_override),
        competitors=opportunity.competitors or [], lines=lines, totals=domain.totals(lines),
        stage_history=[{"from": h.from_stage, "to": h.to_stage, "actor_id": h.actor_id, "at": h.at}
                       for h in history]))


def gate_view(opportunity: Opportunity, lines: list) -> dict[str, Any]:
    """The opportunity as the stage gates see it (field name -> value)."""
    view = {f: getattr(opportunity, f) for f in FIELDS}
    view["lines"] = lines
    return view


def _set_lines(session, opportunity: Opportunity, raw_lines) -> list[domain.Line]:
    lines = domain.parse_lines(raw_lines)
    session.execute(delete(OpportunityLine).where(OpportunityLine.opportunity_id == opportunity.id))
    for position, line in enumerate(lines):
        session.add(OpportunityLine(opportunity_id=opportunity.id, position=position, product_id=line.product_id,
                                    description=line.description, quantity=line.quantity,
                                    unit_price=line.unit_price, discount_pct=line.discount_pct,
                                    unit_cost=line.unit_cost))
    if lines:
        opportunity.amount = domain.totals(lines)["amount"]
    return lines


def _apply(opportunity: Opportunity, data: dict) -> None:
    for name in FIELDS:
        if name in data:
            value = data[name]
            if name == "amount" and value is not None:
                value = Decimal(str(value))
            if name == "expected_close_date" and isinstance(value, str):
                value = date.fromisoformat(value)
            setattr(opportunity, name, value)
    if "probability" in data:
        opportunity.probability_override = data["probability"]


def created_payload(opportunity: Opportunity, stage: domain.Stage, lines: list[domain.Line]) -> dict[str, Any]:
    return {"opportunity_id": opportunity.id, "account_id": opportunity.account_id,
            "owner_id": opportunity.owner_id, "team_id": opportunity.team_id,
            "partner_id": opportunity.partner_id, "source": opportunity.source,
            "pipeline_id": opportunity.pipeline_id, "stage": stage.key,
            "probability": domain.effective_probability(stage, opportunity.probability_override),
            "amount": opportunity.amount, "currency": opportunity.currency,
            "expected_close_date": opportunity.expected_close_date,
            "lines": line_dicts(lines), "source_lead_id": opportunity.source_lead_id}


def open_opportunity(uow: UnitOfWork, account: Account, data: dict, actor_id: str | None,
                     source: str | None = None, source_lead_id: str | None = None,
                     enforce_gate: bool = True) -> Opportunity:
    """A new opportunity on ``account`` in the first (or the given) stage.

    With ``enforce_gate`` the stage's required fields must be filled; a
    converted lead always gets its opportunity (the rep fills the rest)."""
    session = uow.session
    pipeline = get_pipeline(session, data.get("pipeline_id"))
    first = stage_of(pipeline, data.get("stage") or pipeline.stages[0]["key"])
    now = utcnow()
    opportunity = Opportunity(id=new_id(), account_id=account.id, owner_id=data.get("owner_id") or account.owner_id,
                              team_id=account.team_id, partner_id=account.partner_id, source=source,
                              pipeline_id=pipeline.id, stage_key=first.key, status="open", competitors=[],
                              budget_confirmed=False, source_lead_id=source_lead_id, created_at=now,
                              updated_at=now)
    _apply(opportunity, data)
    session.add(opportunity)
    session.flush()  # before its lines and stage history, which refer to it
    lines = _set_lines(session, opportunity, data["lines"]) if data.get("lines") else []
    missing = domain.missing_fields(first, gate_view(opportunity, lines))
    if enforce_gate and missing:
        raise Invalid(f"cannot enter stage {first.name}: fields missing: {', '.join(missing)}",
                      errors={f: f"required to enter stage {first.name}" for f in missing},
                      extra={"missing": missing})
    session.add(StageChange(opportunity_id=opportunity.id, from_stage=None, to_stage=first.key,
                            actor_id=actor_id, at=now))
    session.flush()
    uow.emit("sales.opportunity_created", created_payload(opportunity, first, lines))
    return opportunity


def create_opportunity(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    """A new opportunity on an account the caller may sell to, owned by the
    account's owner or by ``owner_id`` within the caller's reach."""
    account = visible(uow.session, Account, caller, data["account_id"], "account", "account.read")
    policy.require(caller, "opportunity.write", account)
    if data.get("owner_id") not in (None, account.owner_id):
        owner_for(uow.session, caller, "opportunity.write", data["owner_id"])
    opportunity = open_opportunity(uow, account, data, caller.user_id)
    return opportunity_answer(uow.session, caller, opportunity)


def get_opportunity(session, caller: Caller, opportunity_id: str) -> dict[str, Any]:
    opportunity = visible(session, Opportunity, caller, opportunity_id, "opportunity", "opportunity.read")
    return opportunity_answer(session, caller, opportunity)


def list_opportunities(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = within(select(Opportunity), Opportunity, caller, "opportunity.read")
    for name, column in (("account_id", Opportunity.account_id), ("owner_id", Opportunity.owner_id),
                         ("status", Opportunity.status), ("stage", Opportunity.stage_key),
                         ("pipeline_id", Opportunity.pipeline_id)):
        if filters.get(name):
            query = query.where(column == filters[name])
    items, total = page(session, query, limit, offset,
                        ordering(Opportunity, filters.get("sort"), OPPORTUNITY_SORT, "-created_at"))
    return {"items": [opportunity_answer(session, caller, o) for o in items], "total": total}


def _writable(uow: UnitOfWork, caller: Caller, opportunity_id: str) -> Opportunity:
    return writable(uow.session, Opportunity, caller, opportunity_id, "opportunity",
                    "opportunity.read", "opportunity.write")


def update_opportunity(uow: UnitOfWork, caller: Caller, opportunity_id: str, data: dict) -> dict[str, Any]:
    session = uow.session
    opportunity = _writable(uow, caller, opportunity_id)
    if opportunity.status != domain.OpportunityStatus.OPEN.value:
        raise Conflict(f"a {opportunity.status} opportunity is read-only")
    check_version("opportunity", opportunity_id, opportunity.version, data.get("version"))
    with session.no_autoflush:
        _apply(opportunity, data)
        if "lines" in data:
            _set_lines(session, opportunity, data["lines"])
    opportunity.updated_at = utcnow()
    flush_versioned(session, "opportunity", opportunity_id)
    return opportunity_answer(session, caller, opportunity)


def move_stage(uow: UnitOfWork, caller: Caller, opportunity_id: str, target_key: str) -> dict[str, Any]:
    """Enter another stage; refused (422) naming each required field that is missing."""
    session = uow.session
    opportunity = _writable(uow, caller, opportunity_id)
    pipeline = get_pipeline(session, opportunity.pipeline_id)
    current, target = stage_of(pipeline, opportunity.stage_key), stage_of(pipeline, target_key)
    domain.check_stage_move(domain.OpportunityStatus(opportunity.status), current, target,
                            gate_view(opportunity, _lines(session, opportunity)))
    opportunity.stage_key, opportunity.updated_at = target.key, utcnow()
    session.add(StageChange(opportunity_id=opportunity.id, from_stage=current.key, to_stage=target.key,
                            actor_id=caller.user_id, at=utcnow()))
    session.flush()
    uow.emit("sales.opportunity_stage_changed", {
        "opportunity_id": opportunity.id, "from_stage": current.key, "to_stage": target.key,
        "probability": domain.effective_probability(target, opportunity.probability_override),
        "amount": opportunity.amount, "currency": opportunity.currency})
    return opportunity_answer(session, caller, opportunity)


def close(uow: UnitOfWork, opportunity: Opportunity, outcome: str, reason: str | None = None,
          competitor: str | None = None) -> None:
    domain.check_close(domain.OpportunityStatus(opportunity.status), outcome, reason, competitor)
    opportunity.status, opportunity.closed_at = outcome, utcnow()
    if outcome == "lost":
        opportunity.lost_reason, opportunity.lost_to_competitor = reason, competitor
    uow.session.flush()
    uow.emit(f"sales.opportunity_{outcome}", {
        "opportunity_id": opportunity.id, "account_id": opportunity.account_id,
        "owner_id": opportunity.owner_id, "amount": opportunity.amount, "currency": opportunity.currency,
        "reason": reason, "competitor": competitor})


def mark_won(uow: UnitOfWork, caller: Caller, opportunity_id: str) -> dict[str, Any]:
    opportunity = _writable(uow, caller, opportunity_id)
    close(uow, opportunity, "won")
    account = uow.session.get(Account, opportunity.account_id)
    account.lifecycle = domain.Lifecycle.CUSTOMER.value
    return opportunity_answer(uow.session, caller, opportunity)


def mark_lost(uow: UnitOfWork, caller: Caller, opportunity_id: str, reason: str,
              competitor: str | None) -> dict[str, Any]:
    opportunity = _writable(uow, caller, opportunity_id)
    close(uow, opportunity, "lost", reason, competitor)
    return opportunity_answer(uow.session, caller, opportunity)
