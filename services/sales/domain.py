"""Business rules of sales: pipelines and stage gates, opportunity lines and
margins, closing, quotes, contracts and accounts.

Plain Python: no nameko, no database, no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any, Iterable, Mapping, Sequence

from shared.bounds import MAX_MONEY, check_amounts, check_dates
from shared.errors import Conflict, Invalid

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class OpportunityStatus(str, Enum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Lifecycle(str, Enum):
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    FORMER = "former"


CONTACT_ROLES = ("decision_maker", "influencer", "buyer", "user", "payer", "suspect", "prospect", "customer")


def check_roles(roles: Iterable[str]) -> None:
    unknown = sorted(set(roles) - set(CONTACT_ROLES))
    if unknown:
        raise Invalid(f"unknown contact roles: {', '.join(unknown)}",
                      errors={"roles": f"each one of {', '.join(CONTACT_ROLES)}"})


# Pipelines -------------------------------------------------------------------

OPPORTUNITY_FIELDS = ("amount", "currency", "expected_close_date", "next_step", "contact_id", "competitors",
                      "lines", "decision_maker_id", "budget_confirmed", "notes")
_STAGE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True, order=True)
class Stage:
    key: str
    name: str
    order: int
    probability: int
    required_fields: tuple[str, ...]


DEFAULT_PIPELINE = [
    {"key": "prospecting", "name": "Prospecting", "probability": 10, "required_fields": []},
    {"key": "qualification", "name": "Qualification", "probability": 25, "required_fields": ["contact_id"]},
    {"key": "proposal", "name": "Proposal", "probability": 50,
     "required_fields": ["amount", "currency", "expected_close_date"]},
    {"key": "negotiation", "name": "Negotiation", "probability": 75,
     "required_fields": ["amount", "currency", "expected_close_date", "next_step"]},
    {"key": "commitment", "name": "Commitment", "probability": 90,
     "required_fields": ["amount", "currency", "expected_close_date", "next_step", "lines"]},
]


def validate_pipeline(name: str, stages: Sequence[Mapping]) -> list[Stage]:
    """The stages in order; refuses (422, with paths like ``stages.2.probability``)
    duplicate or malformed keys, probabilities outside 0..100 or going down, and
    required fields that an opportunity does not have."""
    errors: dict[str, str] = {}
    if not name or not name.strip():
        errors["name"] = "required"
    if not stages:
        errors["stages"] = "at least one stage"
    seen: set[str] = set()
    previous = -1
    result = []
    for index, raw in enumerate(stages):
        key, probability = raw.get("key", ""), raw.get("probability")
        if not _STAGE_KEY.match(key or ""):
            errors[f"stages.{index}.key"] = "lowercase letters, digits and _; starts with a letter"
        elif key in seen:
            errors[f"stages.{index}.key"] = f"{key!r} is used twice"
        seen.add(key)
        if not isinstance(probability, int) or not 0 <= probability <= 100:
            errors[f"stages.{index}.probability"] = "a whole number from 0 to 100"
        elif probability < previous:
            errors[f"stages.{index}.probability"] = f"must not be below the previous stage's {previous}"
        else:
            previous = probability
        unknown = [f for f in raw.get("required_fields") or () if f not in OPPORTUNITY_FIELDS]
        if unknown:
            errors[f"stages.{index}.required_fields"] = (f"unknown: {', '.join(unknown)}; "
                                                         f"one of {', '.join(OPPORTUNITY_FIELDS)}")
        result.append(Stage(key=key, name=raw.get("name") or key, order=index,
                            probability=probability if isinstance(probability, int) else 0,
                            required_fields=tuple(raw.get("required_fields") or ())))
    if errors:
        raise Invalid(f"pipeline {name!r} is not valid", errors=errors)
    return result


def _empty(name: str, value: Any) -> bool:
    if name == "budget_confirmed":
        return value is not True
    return value is None or value == "" or (isinstance(value, (list, tuple)) and not value)


def missing_fields(stage: Stage, opportunity: Mapping) -> list[str]:
    return [f for f in stage.required_fields if _empty(f, opportunity.get(f))]


def check_stage_move(status: OpportunityStatus, current: Stage, target: Stage, opportunity: Mapping) -> None:
    """An open opportunity may move to any other stage whose required fields it has."""
    if status is not OpportunityStatus.OPEN:
        raise Conflict(f"a {status.value} opportunity cannot change stage")
    if current.key == target.key:
        raise Conflict(f"the opportunity is already in stage {target.name}")
    missing = missing_fields(target, opportunity)
    if missing:
        raise Invalid(f"cannot enter stage {target.name}: fields missing: {', '.join(missing)}",
                      errors={f: f"required to enter stage {target.name}" for f in missing},
                      extra={"missing": missing})


def effective_probability(stage: Stage, override: int | None) -> int:
    return stage.probability if override is None else override


# Lines and totals ------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    product_id: str | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_pct: Decimal
    unit_cost: Decimal

    @property
    def net(self) -> Decimal:
        return money(self.quantity * self.unit_price * (1 - self.discount_pct / 100))

    @property
    def cost(self) -> Decimal:
        return money(self.quantity * self.unit_cost)

    @property
    def margin(self) -> Decimal:
        return self.net - self.cost


def parse_decimal(raw: Mapping, name: str, errors: dict, path: str, default: str | None = None) -> Decimal:
    value = raw.get(name, default)
    if isinstance(value, float):
        errors[f"{path}.{name}"] = "a decimal string, not a float"
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite():
        errors[f"{path}.{name}"] = "not a number"
        return Decimal(0)
    if abs(number) > MAX_MONEY:
        errors[f"{path}.{name}"] = f"must be at most {MAX_MONEY}"
        return Decimal(0)
    return number


def parse_lines(raw_lines: Sequence[Mapping]) -> list[Line]:
    errors: dict[str, str] = {}
    lines = []
    for index, raw in enumerate(raw_lines or ()):
        path = f"lines.{index}"
        quantity = parse_decimal(raw, "quantity", errors, path)
        unit_price = parse_decimal(raw, "unit_price", errors, path, "0")
        discount = parse_decimal(raw, "discount_pct", errors, path, "0")
        unit_cost = parse_decimal(raw, "unit_cost", errors, path, "0")
        if quantity <= 0:
            errors.setdefault(f"{path}.quantity", "must be more than 0")
        if unit_price < 0:
            errors.setdefault(f"{path}.unit_price", "must not be negative")
        if unit_cost < 0:
            errors.setdefault(f"{path}.unit_cost", "must not be negative")
        if not 0 <= discount <= 100:
            errors.setdefault(f"{path}.discount_pct", "between 0 and 100")
        description = (raw.get("description") or "").strip()
        if not description:
            errors[f"{path}.description"] = "required"
        lines.append(Line(raw.get("product_id"), description, quantity, unit_price, discount, unit_cost))
    if errors:
        raise Invalid("some lines are not valid", errors=errors)
    return lines


def totals(lines: Iterable[Line]) -> dict[str, Decimal]:
    """Amount, cost and margin of the lines; Invalid when they exceed what money holds."""
    lines = list(lines)
    amount = sum((line.net for line in lines), Decimal("0.00"))
    cost = sum((line.cost for line in lines), Decimal("0.00"))
    check_amounts(lines=max(amount, cost))
    margin = amount - cost
    margin_pct = money(margin * 100 / amount) if amount else Decimal("0.00")
    return {"amount": money(amount), "cost": money(cost), "margin": money(margin), "margin_pct": margin_pct}


def check_close(status: OpportunityStatus, outcome: str, reason: str | None, competitor: str | None) -> None:
    if status is not OpportunityStatus.OPEN:
        raise Conflict(f"the opportunity is already {status.value}")
    if outcome not in ("won", "lost"):
        raise Invalid("outcome is won or lost", errors={"outcome": "won or lost"})
    if outcome == "lost" and not (reason or "").strip():
        raise Invalid("a lost opportunity needs a reason", errors={"reason": "required"})


# Quotes ----------------------------------------------------------------------

class QuoteStatus(str, Enum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"


QUOTE_TRANSITIONS = {
    QuoteStatus.DRAFT: (QuoteStatus.SENT,),
    QuoteStatus.SENT: (QuoteStatus.ACCEPTED, QuoteStatus.REJECTED, QuoteStatus.EXPIRED),
}


def check_quote_transition(current: QuoteStatus, target: QuoteStatus, valid_until: date, today: date) -> None:
    allowed = QUOTE_TRANSITIONS.get(current, ())
    if target not in allowed:
        raise Conflict(f"a {current.value} quote cannot become {target.value}",
                       extra={"allowed": [s.value for s in allowed]})
    if target is QuoteStatus.ACCEPTED and today > valid_until:
        raise Conflict(f"the quote expired on {valid_until.isoformat()}; make a new version")


def next_quote_version(existing_versions: Iterable[int]) -> int:
    return max(existing_versions, default=0) + 1


# Contracts -------------------------------------------------------------------

class ContractStatus(str, Enum):
    DRAFT = "draft"
    SIGNED = "signed"
    TERMINATED = "terminated"


CONTRACT_TRANSITIONS = {ContractStatus.DRAFT: (ContractStatus.SIGNED,),
                        ContractStatus.SIGNED: (ContractStatus.TERMINATED,)}


def check_contract_transition(current: ContractStatus, target: ContractStatus) -> None:
    if target not in CONTRACT_TRANSITIONS.get(current, ()):
        raise Conflict(f"a {current.value} contract cannot become {target.value}")


def check_contract_dates(start: date, end: date | None) -> None:
    check_dates(start_date=start, end_date=end)
    if end is not None and end < start:
        raise Invalid("a contract cannot end before it starts", errors={"end_date": "before start_date"})


def as_date(value) -> date:
    """A date from the wire (ISO string) or already parsed."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def is_up_for_renewal(end: date | None, today: date, within_days: int) -> bool:
    return end is not None and today <= end <= today + timedelta(days=within_days)
