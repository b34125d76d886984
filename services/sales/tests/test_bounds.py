"""Dates and amounts that would overflow are refused by the sales rules themselves
(Invalid, 422), whoever calls the service."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.sales import billing, domain, planning
from shared.errors import Invalid


@pytest.mark.parametrize("frequency", [billing.Frequency.MONTHLY, billing.Frequency.QUARTERLY])
def test_a_schedule_ending_in_9999_is_invalid_not_an_overflow(frequency):
    with pytest.raises(Invalid) as caught:
        billing.billing_schedule(frequency, Decimal("100"), "EUR", date(2026, 1, 1), date(9999, 12, 31))
    assert "end_date" in caught.value.errors


def test_a_schedule_has_a_bounded_number_of_instalments():
    with pytest.raises(Invalid) as caught:
        billing.billing_schedule(billing.Frequency.MONTHLY, Decimal("100"), "EUR", date(1900, 1, 1), date(2999, 12, 31))
    assert "end_date" in caught.value.errors
    plan = billing.billing_schedule(billing.Frequency.MONTHLY, Decimal("1200"), "EUR", date(2026, 1, 31),
                                    date(2026, 12, 31))
    assert len(plan) == 12 and sum(i.amount for i in plan) == Decimal("1200.00")


def test_contract_dates_out_of_range_are_invalid():
    with pytest.raises(Invalid) as caught:
        domain.check_contract_dates(date(1, 1, 1), date(9999, 12, 31))
    assert set(caught.value.errors) == {"start_date", "end_date"}


@pytest.mark.parametrize("period, start", [(planning.Period.MONTH, date(9999, 12, 1)),
                                           (planning.Period.QUARTER, date(9999, 10, 1)),
                                           (planning.Period.WEEK, date(9999, 12, 27))])
def test_a_target_period_in_9999_is_invalid(period, start):
    with pytest.raises(Invalid) as caught:
        planning.period_end(period, start)
    assert "period_start" in caught.value.errors


@pytest.mark.parametrize("line, field", [
    ({"quantity": "1e20"}, "lines.0.quantity"), ({"quantity": "NaN"}, "lines.0.quantity"),
    ({"quantity": "1", "unit_price": "Infinity"}, "lines.0.unit_price"),
])
def test_line_numbers_that_cannot_be_money_are_invalid(line, field):
    with pytest.raises(Invalid) as caught:
        domain.parse_lines([{"description": "x", **line}])
    assert field in caught.value.errors


def test_totals_beyond_what_money_holds_are_invalid():
    lines = domain.parse_lines([{"description": "x", "quantity": "1000000000", "unit_price": "1000000000"}])
    with pytest.raises(Invalid) as caught:
        domain.totals(lines)
    assert "lines" in caught.value.errors
