"""Sales rules alone: stage gates, lines and margins, quotes, contracts, billing schedules."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.sales import domain
from services.sales.billing import Frequency, add_months, billing_schedule
from shared.errors import Conflict, Invalid

STAGES = domain.validate_pipeline("Default", domain.DEFAULT_PIPELINE)


def test_default_pipeline_is_valid_and_ordered():
    assert [s.key for s in STAGES] == ["prospecting", "qualification", "proposal", "negotiation", "commitment"]
    assert [s.order for s in STAGES] == [0, 1, 2, 3, 4]


def test_pipeline_validation_names_each_bad_field():
    with pytest.raises(Invalid) as caught:
        domain.validate_pipeline("Bad", [
            {"key": "a", "name": "A", "probability": 50},
            {"key": "a", "name": "Dup", "probability": 40, "required_fields": ["budget", "amount"]},
            {"key": "Bad Key", "name": "C", "probability": 101}])
    assert set(caught.value.errors) == {"stages.1.key", "stages.1.probability", "stages.1.required_fields",
                                        "stages.2.key", "stages.2.probability"}
    with pytest.raises(Invalid):
        domain.validate_pipeline("Empty", [])


def test_stage_gate_refuses_with_every_missing_field_and_allows_when_filled():
    proposal = STAGES[2]
    with pytest.raises(Invalid) as caught:
        domain.check_stage_move(domain.OpportunityStatus.OPEN, STAGES[0], proposal, {"amount": Decimal(5), "currency": ""})
    assert caught.value.extra["missing"] == ["currency", "expected_close_date"]
    domain.check_stage_move(domain.OpportunityStatus.OPEN, STAGES[0], proposal,
                            {"amount": Decimal(5), "currency": "EUR", "expected_close_date": date(2027, 1, 1)})
    with pytest.raises(Conflict):
        domain.check_stage_move(domain.OpportunityStatus.WON, STAGES[0], STAGES[1], {"contact_id": "c"})
    with pytest.raises(Conflict):
        domain.check_stage_move(domain.OpportunityStatus.OPEN, STAGES[1], STAGES[1], {"contact_id": "c"})


def test_budget_confirmed_counts_only_when_true():
    gate = domain.Stage("go", "Go", 0, 80, ("budget_confirmed", "lines"))
    assert domain.missing_fields(gate, {"budget_confirmed": False, "lines": []}) == ["budget_confirmed", "lines"]
    assert domain.missing_fields(gate, {"budget_confirmed": True, "lines": ["x"]}) == []


def test_line_totals_and_margin():
    lines = domain.parse_lines([
        {"description": "Licence", "quantity": "10", "unit_price": "100.00", "discount_pct": "10", "unit_cost": "40.00"},
        {"description": "Setup", "quantity": "1", "unit_price": "333.33", "unit_cost": "0"}])
    assert domain.totals(lines) == {"amount": Decimal("1233.33"), "cost": Decimal("400.00"),
                                    "margin": Decimal("833.33"), "margin_pct": Decimal("67.57")}
    assert domain.totals([])["margin_pct"] == Decimal("0.00")


def test_bad_lines_are_refused_by_path_and_floats_never_pass():
    with pytest.raises(Invalid) as caught:
        domain.parse_lines([{"description": "", "quantity": "0", "unit_price": 1.5, "discount_pct": "120"}])
    assert set(caught.value.errors) == {"lines.0.description", "lines.0.quantity", "lines.0.unit_price",
                                        "lines.0.discount_pct"}


def test_lost_needs_a_reason_and_only_open_opportunities_close():
    with pytest.raises(Invalid):
        domain.check_close(domain.OpportunityStatus.OPEN, "lost", " ", None)
    domain.check_close(domain.OpportunityStatus.OPEN, "lost", "price", "Initrode")
    with pytest.raises(Conflict):
        domain.check_close(domain.OpportunityStatus.LOST, "won", None, None)


def test_quote_lifecycle_and_expiry():
    Q = domain.QuoteStatus
    today = date(2027, 1, 10)
    domain.check_quote_transition(Q.DRAFT, Q.SENT, today, today)
    domain.check_quote_transition(Q.SENT, Q.ACCEPTED, today, today)
    with pytest.raises(Conflict, match="expired"):
        domain.check_quote_transition(Q.SENT, Q.ACCEPTED, today - timedelta(days=1), today)
    with pytest.raises(Conflict):
        domain.check_quote_transition(Q.DRAFT, Q.ACCEPTED, today, today)
    assert domain.next_quote_version([]) == 1 and domain.next_quote_version([1, 3, 2]) == 4


def test_contract_transitions_dates_and_renewals():
    C = domain.ContractStatus
    domain.check_contract_transition(C.DRAFT, C.SIGNED)
    with pytest.raises(Conflict):
        domain.check_contract_transition(C.TERMINATED, C.SIGNED)
    with pytest.raises(Invalid):
        domain.check_contract_dates(date(2027, 2, 1), date(2027, 1, 1))
    assert domain.is_up_for_renewal(date(2027, 2, 1), date(2027, 1, 10), 30)
    assert not domain.is_up_for_renewal(date(2027, 6, 1), date(2027, 1, 10), 30)


def test_month_arithmetic_clamps_to_month_end():
    assert [add_months(date(2027, 1, 31), n) for n in range(4)] == [
        date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)


def test_explicit_instalments_must_add_up():
    schedule = billing_schedule(Frequency.INSTALMENTS, Decimal("1000.00"), "EUR", date(2027, 1, 1), date(2027, 12, 31),
                                [{"due_date": "2027-01-15", "amount": "400.00"}, {"due_date": "2027-06-15", "amount": "600.00"}])
    assert [i.amount for i in schedule] == [Decimal("400.00"), Decimal("600.00")]
    with pytest.raises(Invalid, match="add up to 900.00"):
        billing_schedule(Frequency.INSTALMENTS, Decimal("1000.00"), "EUR", date(2027, 1, 1), None,
                         [{"due_date": "2027-01-15", "amount": "400.00"}, {"due_date": "2027-02-15", "amount": "500.00"}])
    with pytest.raises(Invalid) as caught:
        billing_schedule(Frequency.INSTALMENTS, Decimal("10.00"), "EUR", date(2027, 1, 1), date(2027, 3, 1),
                         [{"due_date": "2027-05-01", "amount": "10.00"}])
    assert "instalments.0.due_date" in caught.value.errors
    with pytest.raises(Invalid) as caught:
        billing_schedule(Frequency.MONTHLY, Decimal("10.00"), "EUR", date(2027, 1, 1), None)
    assert "end_date" in caught.value.errors


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**9), places=2),
       st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
       st.integers(min_value=0, max_value=800), st.sampled_from([Frequency.MONTHLY, Frequency.QUARTERLY]))
def test_periodic_schedules_add_up_exactly_and_move_forward(total, start, days, frequency):
    schedule = billing_schedule(frequency, total, "EUR", start, start + timedelta(days=days))
    assert sum(i.amount for i in schedule) == total
    assert schedule[0].due_date == start
    assert all(a.due_date < b.due_date for a, b in zip(schedule, schedule[1:]))
    amounts = [i.amount for i in schedule]
    assert max(amounts[:-1] or [amounts[0]]) <= amounts[-1]
