"""The receivable plan alone: instalments from a contract's billing schedule, and termination."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.finance.money import minor_units, round_money
from services.finance.receivables import Instalment, InstalmentStatus, instalments_to_cancel, receivable_plan
from shared.errors import Invalid

D = Decimal


def monthly(amounts, start=date(2027, 1, 1)):
    return [{"due_date": date(start.year + (start.month - 1 + n) // 12, (start.month - 1 + n) % 12 + 1, 1),
             "amount": D(a)} for n, a in enumerate(amounts)]


def test_a_schedule_in_the_currency_unit_is_kept_as_it_is():
    schedule = monthly(["333.33", "333.33", "333.34"])
    plan = receivable_plan(schedule, "EUR", D("1000.00"))
    assert plan == [Instalment(1, date(2027, 1, 1), D("333.33")), Instalment(2, date(2027, 2, 1), D("333.33")),
                    Instalment(3, date(2027, 3, 1), D("333.34"))]
    assert all(i.status is InstalmentStatus.PLANNED for i in plan)


def test_wire_values_are_accepted():
    plan = receivable_plan([{"due_date": "2027-01-15", "amount": "50.00"}, {"due_date": "2027-02-15", "amount": "50"}],
                           "EUR", D("100.00"))
    assert [(i.due_date, i.amount) for i in plan] == [(date(2027, 1, 15), D("50.00")), (date(2027, 2, 15), D(50))]


def test_a_yen_contract_scheduled_in_cents_becomes_whole_yen_adding_up_to_the_total():
    schedule = monthly(["8333.33"] * 11 + ["8333.37"])          # how sales splits 100000 over 12 months
    plan = receivable_plan(schedule, "JPY", D("100000.00"))
    assert sum(i.amount for i in plan) == D(100000)
    assert {i.amount for i in plan} <= {D(8333), D(8334)}
    assert all(i.amount == i.amount.quantize(D(1)) for i in plan)
    assert [i.due_date for i in plan] == [s["due_date"] for s in schedule]


def test_an_entry_rounding_to_nothing_is_dropped_and_its_share_moves_on():
    plan = receivable_plan(monthly(["0.40"] * 5), "JPY", D("2.00"))
    # running totals 0.4 0.8 1.2 1.6 2.0 round to 0 1 1 2 2
    assert [(i.sequence, i.due_date.month, i.amount) for i in plan] == [(1, 2, D(1)), (2, 4, D(1))]


def test_the_schedule_must_add_up_to_the_contract_total():
    with pytest.raises(Invalid) as caught:
        receivable_plan(monthly(["300.00", "300.00"]), "EUR", D("1000.00"))
    assert caught.value.errors == {"billing_schedule": "must add up to 1000.00"}
    assert "600.00" in caught.value.detail


def test_schedule_errors_name_each_entry():
    schedule = [{"due_date": date(2027, 1, 1), "amount": D("10.00")},
                {"due_date": date(2026, 12, 1), "amount": D("10.00")},
                {"due_date": date(2027, 3, 1), "amount": 10.0},
                {"due_date": date(2027, 4, 1), "amount": D(0)},
                {"due_date": "first of May", "amount": D("10.00")},
                {"amount": D("10.00")},
                {"due_date": date(3001, 1, 1), "amount": D("10.00")},
                "ten euros"]
    with pytest.raises(Invalid) as caught:
        receivable_plan(schedule, "EUR", D("80.00"))
    shape = "needs due_date (YYYY-MM-DD) and amount (a decimal string)"
    assert caught.value.errors == {
        "billing_schedule.1.due_date": "after the previous instalment",
        "billing_schedule.2.amount": "a decimal string, not a float",
        "billing_schedule.3.amount": "must be more than 0",
        "billing_schedule.4": shape, "billing_schedule.5": shape,
        "billing_schedule.6.due_date": "must be between the years 1900 and 2999",
        "billing_schedule.7": shape}


@pytest.mark.parametrize("schedule, currency, total, field", [
    ([], "EUR", D(1), "billing_schedule"), (monthly(["1"]) * 1201, "EUR", D(1201), "billing_schedule"),
    (monthly(["1"]), "EUR", D(0), "total"), (monthly(["1"]), "EUR", 1.0, "total"),
    (monthly(["1"]), "eur", D(1), "currency")])
def test_plan_refuses_an_empty_or_endless_schedule_a_bad_total_or_currency(schedule, currency, total, field):
    with pytest.raises(Invalid) as caught:
        receivable_plan(schedule, currency, total)
    assert list(caught.value.errors) == [field]


def test_termination_cancels_planned_instalments_due_after_it_and_keeps_the_rest():
    plan = receivable_plan(monthly(["100.00"] * 6), "EUR", D("600.00"))
    plan[4] = Instalment(5, plan[4].due_date, plan[4].amount, InstalmentStatus.INVOICED)   # invoiced early
    cancelled = instalments_to_cancel(plan, terminated_on=date(2027, 3, 1))
    # March is due on the termination date: still owed. May was invoiced already: settled by credit note if at all.
    assert [(i.sequence, i.status) for i in cancelled] == [(4, InstalmentStatus.CANCELLED),
                                                          (6, InstalmentStatus.CANCELLED)]
    assert instalments_to_cancel(plan, terminated_on=date(2027, 6, 1)) == []
    assert len(instalments_to_cancel(plan, terminated_on=date(2026, 12, 31))) == 5


SCHEDULES = st.tuples(st.sampled_from(["EUR", "USD", "JPY", "KRW", "BHD", "KWD"]),
                      st.lists(st.decimals(min_value=D("0.01"), max_value=D(10**7), places=2), min_size=1, max_size=60))


@given(SCHEDULES)
def test_instalments_add_up_to_the_contract_total_to_the_minor_unit(case):
    currency, amounts = case
    total = sum(amounts)
    plan = receivable_plan(monthly(amounts), currency, total)
    assert sum(i.amount for i in plan) == round_money(total, currency)
    unit = D(1).scaleb(-minor_units(currency))
    assert all(i.amount > 0 and i.amount == i.amount.quantize(unit) for i in plan)
    assert [i.sequence for i in plan] == list(range(1, len(plan) + 1))
    assert all(a.due_date < b.due_date for a, b in zip(plan, plan[1:]))
    if minor_units(currency) >= 2:
        assert [i.amount for i in plan] == amounts


@given(SCHEDULES, st.integers(-40, 2000))
def test_kept_and_cancelled_instalments_add_up_to_the_total(case, days):
    currency, amounts = case
    total = sum(amounts)
    plan = receivable_plan(monthly(amounts), currency, total)
    terminated_on = date(2027, 1, 1) + timedelta(days=days)
    cancelled = instalments_to_cancel(plan, terminated_on)
    kept = [i for i in plan if i.sequence not in {c.sequence for c in cancelled}]
    assert sum(i.amount for i in kept) + sum(i.amount for i in cancelled) == round_money(total, currency)
    assert all(i.due_date <= terminated_on for i in kept) and all(i.due_date > terminated_on for i in cancelled)
