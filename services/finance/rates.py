"""Exchange rates to the company currency, entered through the API, and the rate an
invoice is issued at: the latest one valid on its issue date (1 for the company
currency itself)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.finance.models import ExchangeRate
from services.finance.schemas import RATE_SORT, RateIn, RateOut

from shared.listing import load, ordering
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork
from shared.errors import Conflict, Invalid
from sqlalchemy import func

_rate_out = RateOut()
ONE = Decimal(1)


def rate_text(rate: Decimal) -> Decimal:
    """A rate without trailing zeros (``0.9``, not ``0.900000000000``)."""
    normal = rate.normalize()
    return normal.quantize(ONE) if normal == normal.to_integral() else normal


def rate_answer(rate: ExchangeRate, company_currency: str) -> dict[str, Any]:
    return _rate_out.dump({"id": rate.id, "currency": rate.currency, "company_currency": company_currency,
                           "rate": rate_text(rate.rate), "valid_from": rate.valid_from,
                           "created_by": rate.created_by, "created_at": rate.created_at})


def rate_on(session, currency: str, day: date, company_currency: str) -> Decimal | None:
    """Units of the company currency for one unit of ``currency`` on ``day``; None when
    no rate is valid then."""
    if currency == company_currency:
        return ONE
    return session.scalar(select(ExchangeRate.rate).where(ExchangeRate.currency == currency,
                                                          ExchangeRate.valid_from <= day)
                          .order_by(ExchangeRate.valid_from.desc()).limit(1))


def add_rate(uow: UnitOfWork, caller: Caller, data: dict, company_currency: str) -> dict[str, Any]:
    policy.require(caller, "exchange_rate.write")
    data = load(RateIn(), data)
    if data["currency"] == company_currency:
        raise Invalid(f"{company_currency} is the company currency; its rate is always 1",
                      errors={"currency": "another currency than the company's"})
    rate = ExchangeRate(currency=data["currency"], rate=data["rate"], valid_from=data["valid_from"],
                        created_by=caller.user_id)
    session = uow.session
    try:
        with session.begin_nested():
            session.add(rate)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{data['currency']} has a rate from {data['valid_from']} already; "
                       "enter the new one from another day") from None
    return rate_answer(rate, company_currency)


def list_rates(session, caller: Caller, filters: dict, limit: int, offset: int,
               company_currency: str) -> dict[str, Any]:
    policy.require(caller, "exchange_rate.read")
    query = select(ExchangeRate)
    if filters.get("currency"):
        query = query.where(ExchangeRate.currency == filters["currency"])
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    order = ordering(ExchangeRate, filters.get("sort"), RATE_SORT, "-valid_from")
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return {"items": [rate_answer(r, company_currency) for r in rows], "total": total}
