"""Sales targets (the plan): periods, the draft -> submitted -> approved flow,
doubtful lines and consolidation to team, branch and company.

Plain Python: no nameko, no database, no I/O.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum
from typing import Iterable, Mapping, Sequence

from services.sales.domain import money, parse_decimal
from shared.bounds import check_dates
from shared.errors import Conflict, Invalid


class Period(str, Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


class TargetStatus(str, Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"


# A manager who rejects a submitted plan sends it back to draft with a note.
TARGET_TRANSITIONS = {
    TargetStatus.DRAFT: (TargetStatus.SUBMITTED,),
    TargetStatus.SUBMITTED: (TargetStatus.APPROVED, TargetStatus.DRAFT),
}

LEVELS = ("rep", "team", "branch", "company")


def period_end(period: Period, start: date) -> date:
    """The last day of the period that begins on ``start``; refuses a start
    that does not begin a period (weeks begin on Monday, quarters in January,
    April, July and October), and one outside the accepted years."""
    check_dates(period_start=start)
    if period is Period.DAY:
        return start
    if period is Period.WEEK:
        if start.weekday() != 0:
            raise Invalid("a week starts on a Monday", errors={"period_start": "not a Monday"})
        return start + timedelta(days=6)
    if start.day != 1:
        raise Invalid(f"a {period.value} starts on the first of a month",
                      errors={"period_start": "not the first of a month"})
    months = 1
    if period is Period.QUARTER:
        if start.month not in (1, 4, 7, 10):
            raise Invalid("a quarter starts in January, April, July or October",
                          errors={"period_start": "not the first day of a quarter"})
        months = 3
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, 1) - timedelta(days=1)


@dataclass(frozen=True)
class TargetLine:
    label: str
    revenue: Decimal
    margin: Decimal
    doubtful: bool

    def as_dict(self) -> dict:
        return {"label": self.label, "revenue": str(self.revenue), "margin": str(self.margin),
                "doubtful": self.doubtful}


def parse_target_lines(raw_lines: Sequence[Mapping]) -> list[TargetLine]:
    errors: dict[str, str] = {}
    lines = []
    if not raw_lines:
        errors["lines"] = "at least one line"
    for index, raw in enumerate(raw_lines or ()):
        path = f"lines.{index}"
        revenue = parse_decimal(raw, "revenue", errors, path)
        margin = parse_decimal(raw, "margin", errors, path, "0")
        label = (raw.get("label") or "").strip()
        if not label:
            errors[f"{path}.label"] = "required"
        if revenue < 0:
            errors.setdefault(f"{path}.revenue", "must not be negative")
        elif margin > revenue:
            errors.setdefault(f"{path}.margin", "cannot exceed the revenue")
        lines.append(TargetLine(label, money(revenue), money(margin), bool(raw.get("doubtful", False))))
    if errors:
        raise Invalid("some target lines are not valid", errors=errors)
    return lines


def plan_totals(lines: Iterable[Mapping]) -> dict[str, Decimal]:
    """All lines, and the plan proper: the lines not marked doubtful."""
    result = {"revenue": Decimal("0.00"), "margin": Decimal("0.00"),
              "planned_revenue": Decimal("0.00"), "planned_margin": Decimal("0.00")}
    for line in lines:
        revenue, margin = Decimal(str(line["revenue"])), Decimal(str(line["margin"]))
        result["revenue"] += revenue
        result["margin"] += margin
        if not line.get("doubtful"):
            result["planned_revenue"] += revenue
            result["planned_margin"] += margin
    return {key: money(value) for key, value in result.items()}


def check_target_transition(current: TargetStatus, target: TargetStatus) -> None:
    allowed = TARGET_TRANSITIONS.get(current, ())
    if target not in allowed:
        raise Conflict(f"a {current.value} target cannot become {target.value}",
                       extra={"allowed": [s.value for s in allowed]})


def consolidate(targets: Iterable[Mapping], level: str) -> list[dict]:
    """Planned revenue and margin summed per group of ``level`` (rep, team,
    branch or company), period and currency; currencies are never mixed."""
    if level not in LEVELS:
        raise Invalid(f"unknown level {level!r}", errors={"level": f"one of {', '.join(LEVELS)}"})
    key_field = {"rep": "owner_id", "team": "team_id", "branch": "branch_id", "company": None}[level]
    groups: dict[tuple, dict] = defaultdict(lambda: {"revenue": Decimal("0.00"), "margin": Decimal("0.00"),
                                                     "targets": 0})
    for target in targets:
        group = target.get(key_field) if key_field else None
        totals = plan_totals(target["lines"])
        key = (group, target["period"], target["period_start"], target["currency"])
        groups[key]["revenue"] += totals["planned_revenue"]
        groups[key]["margin"] += totals["planned_margin"]
        groups[key]["targets"] += 1
    rows = []
    for (group, period, start, currency), sums in sorted(groups.items(), key=lambda kv: (
            str(kv[0][2]), str(kv[0][0] or ""), kv[0][3])):
        rows.append({"level": level, "group_id": group, "period": period, "period_start": start,
                     "currency": currency, "planned_revenue": money(sums["revenue"]),
                     "planned_margin": money(sums["margin"]), "targets": sums["targets"]})
    return rows
