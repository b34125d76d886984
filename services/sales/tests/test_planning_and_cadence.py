"""Sales targets and the repeat-contact cadence, as plain rules."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.sales import planning
from services.sales.cadence import AccountFacts, StandardCadence
from shared.errors import Conflict, Invalid

TODAY = date(2026, 11, 23)


def facts(**overrides) -> AccountFacts:
    base = dict(today=TODAY, competition_level="medium", repeat_purchase_probability=50,
                last_contacted_on=None, last_purchase_on=None, shortest_product_life_cycle_days=None,
                lifecycle="customer")
    return AccountFacts(**{**base, **overrides})


def test_stronger_competition_and_likelier_repeat_purchase_mean_earlier_contact():
    rule = StandardCadence()
    assert rule.next_contact_on(facts()) == TODAY + timedelta(days=60)
    assert rule.next_contact_on(facts(competition_level="high")) == TODAY + timedelta(days=30)
    assert rule.next_contact_on(facts(competition_level="low")) == TODAY + timedelta(days=90)
    assert rule.next_contact_on(facts(repeat_purchase_probability=100)) == TODAY + timedelta(days=30)
    assert rule.next_contact_on(facts(repeat_purchase_probability=0)) == TODAY + timedelta(days=90)


def test_the_interval_runs_from_the_last_contact():
    contacted = TODAY - timedelta(days=100)
    assert StandardCadence().next_contact_on(facts(last_contacted_on=contacted)) == contacted + timedelta(days=60)


def test_a_product_near_the_end_of_its_life_cycle_brings_the_contact_forward():
    bought = TODAY - timedelta(days=10)
    due = StandardCadence().next_contact_on(facts(last_purchase_on=bought, shortest_product_life_cycle_days=40,
                                                  last_contacted_on=bought))
    assert due == bought + timedelta(days=40 - 4)  # lead time: a tenth of the life cycle, at most 30 days


def test_a_renewal_point_already_followed_up_is_not_used_again():
    bought = TODAY - timedelta(days=400)
    contacted = TODAY - timedelta(days=5)
    due = StandardCadence().next_contact_on(facts(last_purchase_on=bought, shortest_product_life_cycle_days=365,
                                                  last_contacted_on=contacted))
    assert due == contacted + timedelta(days=60)


def test_former_customers_get_no_follow_up():
    assert StandardCadence().next_contact_on(facts(lifecycle="former")) is None


@given(st.sampled_from(["low", "medium", "high", "unknown"]), st.integers(0, 100))
def test_interval_stays_within_bounds(level, probability):
    rule = StandardCadence()
    assert rule.bounds[0] <= rule.interval_days(level, probability) <= rule.bounds[1]


@pytest.mark.parametrize("period,start,end", [
    ("day", date(2026, 12, 3), date(2026, 12, 3)),
    ("week", date(2026, 11, 23), date(2026, 11, 29)),
    ("month", date(2026, 2, 1), date(2026, 2, 28)),
    ("month", date(2026, 12, 1), date(2026, 12, 31)),
    ("quarter", date(2026, 10, 1), date(2026, 12, 31)),
    ("quarter", date(2027, 1, 1), date(2027, 3, 31)),
])
def test_period_end(period, start, end):
    assert planning.period_end(planning.Period(period), start) == end


@pytest.mark.parametrize("period,start", [("week", date(2026, 11, 24)), ("month", date(2026, 11, 2)),
                                          ("quarter", date(2026, 2, 1))])
def test_a_start_that_does_not_begin_the_period_is_refused(period, start):
    with pytest.raises(Invalid) as caught:
        planning.period_end(planning.Period(period), start)
    assert "period_start" in caught.value.errors


def test_target_lines_name_each_bad_field():
    with pytest.raises(Invalid) as caught:
        planning.parse_target_lines([{"label": "", "revenue": "100"},
                                     {"label": "B", "revenue": "-1"},
                                     {"label": "C", "revenue": "10", "margin": "20"}])
    assert set(caught.value.errors) == {"lines.0.label", "lines.1.revenue", "lines.2.margin"}
    with pytest.raises(Invalid):
        planning.parse_target_lines([])


def test_doubtful_lines_stay_out_of_the_plan():
    lines = [line.as_dict() for line in planning.parse_target_lines([
        {"label": "Licences", "revenue": "1000", "margin": "400"},
        {"label": "Big maybe", "revenue": "5000", "margin": "2500", "doubtful": True}])]
    totals = planning.plan_totals(lines)
    assert totals["revenue"] == Decimal("6000.00") and totals["planned_revenue"] == Decimal("1000.00")
    assert totals["planned_margin"] == Decimal("400.00")


def test_flow():
    planning.check_target_transition(planning.TargetStatus.DRAFT, planning.TargetStatus.SUBMITTED)
    with pytest.raises(Conflict):
        planning.check_target_transition(planning.TargetStatus.DRAFT, planning.TargetStatus.APPROVED)
    with pytest.raises(Conflict):
        planning.check_target_transition(planning.TargetStatus.APPROVED, planning.TargetStatus.DRAFT)


def test_consolidation_sums_per_group_and_never_mixes_currencies():
    def target(owner, team, branch, revenue, currency="EUR", doubtful="0"):
        return {"owner_id": owner, "team_id": team, "branch_id": branch, "period": "month",
                "period_start": "2026-12-01", "currency": currency,
                "lines": [{"label": "x", "revenue": revenue, "margin": "10", "doubtful": False},
                          {"label": "d", "revenue": doubtful, "margin": "0", "doubtful": True}]}
    targets = [target("a", "t1", "b1", "100", doubtful="999"), target("b", "t1", "b1", "50"),
               target("c", "t2", "b1", "30"), target("d", "t3", "b2", "7", currency="USD")]
    teams = {(r["group_id"], r["currency"]): r for r in planning.consolidate(targets, "team")}
    assert str(teams[("t1", "EUR")]["planned_revenue"]) == "150.00" and teams[("t1", "EUR")]["targets"] == 2
    company = planning.consolidate(targets, "company")
    assert {(r["currency"], str(r["planned_revenue"])) for r in company} == {("EUR", "180.00"), ("USD", "7.00")}
    branches = {r["group_id"]: str(r["planned_margin"]) for r in planning.consolidate(targets, "branch")}
    assert branches == {"b1": "30.00", "b2": "10.00"}
    with pytest.raises(Invalid):
        planning.consolidate(targets, "galaxy")
