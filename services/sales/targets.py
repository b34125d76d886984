"""Sales targets: reps plan revenue and margin per period, managers approve,
and approved plans are consolidated and announced to reports."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.sales import domain, planning
from services.sales.models import Target, new_id
from services.sales.roster import owner_for
from services.sales.schemas import TARGET_SORT, ConsolidatedRow, TargetOut, dump
from services.sales.scoping import page, visible, within
from shared.listing import ordering
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, check_version, flush_versioned, utcnow
from shared.errors import Conflict


_target_out, _consolidated_out = TargetOut(), ConsolidatedRow(many=True)


def target_answer(target: Target) -> dict[str, Any]:
    """The target as ``TargetOut`` shows it, with the totals of its lines."""
    return dump(_target_out, target, totals=planning.plan_totals(target.lines))


def create_target(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    """A draft plan for one rep and period. A rep plans for themselves; a
    manager may draft the plan of a rep of their own team (``owner_id``). The
    plan belongs to the owner's team and branch as the roster knows them."""
    owner = owner_for(uow.session, caller, "target.write", data.get("owner_id"))
    owner_id = owner.owner_id
    period = planning.Period(data["period"])
    start = domain.as_date(data["period_start"])
    end = planning.period_end(period, start)
    lines = planning.parse_target_lines(data["lines"])
    existing = uow.session.scalars(select(Target.id).where(
        Target.owner_id == owner_id, Target.period == period.value, Target.period_start == start)).first()
    if existing:
        raise Conflict(f"{owner_id} already has a {period.value} target from {start.isoformat()}",
                       extra={"existing_id": existing})
    target = Target(id=new_id(), owner_id=owner_id, team_id=owner.team_id, branch_id=owner.branch_id,
                    period=period.value, period_start=start, period_end=end, currency=data["currency"],
                    lines=[line.as_dict() for line in lines], status=planning.TargetStatus.DRAFT.value,
                    created_by=caller.user_id, created_at=utcnow())
    uow.session.add(target)
    uow.session.flush()
    return target_answer(target)


def _target(uow: UnitOfWork, caller: Caller, target_id: str) -> Target:
    return visible(uow.session, Target, caller, target_id, "target", "target.read", for_update=True)


def _check_reviewer(caller: Caller, target: Target) -> None:
    """The owner's manager or an admin reviews a plan; neither its owner nor
    whoever drafted it (four eyes)."""
    policy.require(caller, "target.approve", target)
    policy.require_other_person(caller, "target.approve", target.owner_id)
    policy.require_other_person(caller, "target.approve", target.created_by)


def update_target(uow: UnitOfWork, caller: Caller, target_id: str, data: dict) -> dict[str, Any]:
    """Change the lines or currency of a draft; send the version you read."""
    target = _target(uow, caller, target_id)
    policy.require(caller, "target.write", target)
    if target.status != planning.TargetStatus.DRAFT.value:
        raise Conflict(f"a {target.status} target cannot be changed")
    check_version("target", target_id, target.version, data.get("version"))
    if "lines" in data:
        target.lines = [line.as_dict() for line in planning.parse_target_lines(data["lines"])]
    if data.get("currency"):
        target.currency = data["currency"]
    flush_versioned(uow.session, "target", target_id)
    return target_answer(target)


def submit_target(uow: UnitOfWork, caller: Caller, target_id: str) -> dict[str, Any]:
    target = _target(uow, caller, target_id)
    policy.require(caller, "target.write", target)
    planning.check_target_transition(planning.TargetStatus(target.status), planning.TargetStatus.SUBMITTED)
    target.status, target.submitted_at = planning.TargetStatus.SUBMITTED.value, utcnow()
    flush_versioned(uow.session, "target", target_id)
    return target_answer(target)


def reject_target(uow: UnitOfWork, caller: Caller, target_id: str, note: str) -> dict[str, Any]:
    """Send a submitted plan back to its owner as a draft, with the reason."""
    target = _target(uow, caller, target_id)
    _check_reviewer(caller, target)
    planning.check_target_transition(planning.TargetStatus(target.status), planning.TargetStatus.DRAFT)
    target.status, target.review_note = planning.TargetStatus.DRAFT.value, note
    flush_versioned(uow.session, "target", target_id)
    return target_answer(target)


def approve_target(uow: UnitOfWork, caller: Caller, target_id: str) -> dict[str, Any]:
    """Approve a submitted plan; doubtful lines stay out of the approved figures
    that ``sales.target_approved`` carries to reports. The approver is another
    person than the plan's owner and its author."""
    target = _target(uow, caller, target_id)
    _check_reviewer(caller, target)
    planning.check_target_transition(planning.TargetStatus(target.status), planning.TargetStatus.APPROVED)
    target.status, target.approved_at = planning.TargetStatus.APPROVED.value, utcnow()
    target.approved_by, target.review_note = caller.user_id, None
    flush_versioned(uow.session, "target", target_id)
    totals = planning.plan_totals(target.lines)
    uow.emit("sales.target_approved", {
        "target_id": target.id, "owner_id": target.owner_id, "team_id": target.team_id,
        "branch_id": target.branch_id, "period": target.period, "period_start": target.period_start,
        "period_end": target.period_end, "currency": target.currency,
        "revenue": totals["planned_revenue"], "margin": totals["planned_margin"],
        "lines": [line for line in target.lines if not line["doubtful"]], "approved_by": target.approved_by})
    return target_answer(target)


def get_target(session, caller: Caller, target_id: str) -> dict[str, Any]:
    return target_answer(visible(session, Target, caller, target_id, "target", "target.read"))


def _filtered(caller: Caller, filters: dict):
    query = within(select(Target), Target, caller, "target.read")
    for name in ("owner_id", "team_id", "branch_id", "period", "status"):
        if filters.get(name):
            query = query.where(getattr(Target, name) == filters[name])
    if filters.get("from"):
        query = query.where(Target.period_start >= domain.as_date(filters["from"]))
    if filters.get("to"):
        query = query.where(Target.period_end <= domain.as_date(filters["to"]))
    return query


def list_targets(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    items, total = page(session, _filtered(caller, filters), limit, offset,
                        ordering(Target, filters.get("sort"), TARGET_SORT, "period_start"))
    return {"items": [target_answer(t) for t in items], "total": total}


def consolidated_targets(session, caller: Caller, filters: dict, level: str) -> list[dict[str, Any]]:
    """The plan summed to rep, team, branch or company; approved plans only
    unless ``status`` asks for another stage of the flow."""
    filters = {"status": planning.TargetStatus.APPROVED.value, **{k: v for k, v in filters.items() if v}}
    targets = session.scalars(_filtered(caller, filters)).all()
    return _consolidated_out.dump(planning.consolidate(
        ({"owner_id": t.owner_id, "team_id": t.team_id, "branch_id": t.branch_id, "period": t.period,
          "period_start": t.period_start, "currency": t.currency, "lines": t.lines} for t in targets), level))
