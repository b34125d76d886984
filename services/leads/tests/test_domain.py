"""The leads rules alone: no database, no broker, milliseconds."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.leads import domain
from services.leads.assignment import AssignmentFacts, ByTerritory, BySource, Rep, RoundRobinInTeam
from services.leads.planner import plan_calls
from services.leads.scoring import LeadFacts, RuleBasedScore
from shared.errors import Conflict, Invalid

S = domain.LeadStatus
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("current,target", [
    (S.NEW, S.CONTACTED), (S.NEW, S.QUALIFIED), (S.CONTACTED, S.QUALIFIED),
    (S.QUALIFIED, S.CONVERTED), (S.NEW, S.DISQUALIFIED), (S.QUALIFIED, S.DISQUALIFIED),
    (S.DISQUALIFIED, S.NEW)])
def test_allowed_transitions(current, target):
    domain.check_transition(current, target)


def test_refused_transition_names_the_allowed_ones():
    with pytest.raises(Conflict) as caught:
        domain.check_transition(S.NEW, S.CONVERTED)
    assert caught.value.extra["allowed"] == ["contacted", "qualified", "disqualified"]
    assert "contacted, qualified, disqualified" in caught.value.detail


@given(st.sampled_from(list(S)))
def test_nothing_leaves_converted(target):
    with pytest.raises(Conflict):
        domain.check_transition(S.CONVERTED, target)


def test_prospect_is_an_alias_for_new_and_unknown_status_is_invalid():
    assert domain.parse_status("Prospect") is S.NEW
    with pytest.raises(Invalid) as caught:
        domain.parse_status("won")
    assert "status" in caught.value.errors


@pytest.mark.parametrize("raw,expected", [
    ("Acme Sp. z o.o.", "acme"), ("ACME sp z o o", "acme"), ("Zażółć Gęślą GmbH", "zazołc gesla"),
    ("Globex, Inc.", "globex"), ("The Widget Co. Ltd", "the widget"), ("  ", None)])
def test_company_normalisation(raw, expected):
    assert domain.normalise_company(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("+48 (22) 555-01-02", "+48225550102"), ("0048 22 555 01 02", "+48225550102"),
    ("022 555 01 02", "0225550102"), ("12-34", None), (None, None)])
def test_phone_normalisation(raw, expected):
    assert domain.normalise_phone(raw) == expected


@pytest.mark.parametrize("national,international,region", [
    ("(22) 555 01 02", "+48 22 555 01 02", "PL"), ("601 234 567", "0048 601-234-567", "pl"),
    ("(212) 555-0102", "+1 212 555 0102", "US"), ("030 1234567", "+49 30 1234567", "DE")])
def test_a_number_written_nationally_and_internationally_is_one_phone_key(national, international, region):
    keys = {domain.normalise_phone(national, region), domain.normalise_phone(international, region),
            domain.normalise_phone(international)}
    assert len(keys) == 1 and keys.pop().startswith("+")
    assert domain.matching_fields(domain.dedupe_keys(None, national, None, region),
                                  domain.dedupe_keys(None, international, None)) == ["phone"]


def test_a_phone_that_does_not_parse_falls_back_to_its_digits():
    assert domain.normalise_phone("(212) 555-0102", "PL") == "2125550102"  # not a Polish number
    assert domain.normalise_phone("ext 12-34-56", "PL") == "123456"
    assert domain.normalise_phone("+99 123 456 789", "PL") == "+99123456789"
    assert domain.normalise_phone("12-34", "PL") is None


INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"


@given(st.text(max_size=30), st.lists(st.tuples(st.integers(min_value=0, max_value=30),
                                                st.sampled_from(INVISIBLE)), max_size=6))
def test_zero_width_characters_never_make_another_company_or_email(text, insertions):
    hidden = text
    for at, char in insertions:
        hidden = hidden[:at] + char + hidden[at:]
    assert domain.normalise_company(hidden) == domain.normalise_company(text)
    assert domain.normalise_email(hidden) == domain.normalise_email(text)


@pytest.mark.parametrize("char", INVISIBLE)
def test_zero_width_in_a_company_or_email_is_a_duplicate(char):
    assert domain.normalise_company(f"Ac{char}me Sp. z o.o.") == "acme"
    assert domain.normalise_email(f"{char}jan@ac{char}me.example") == "jan@acme.example"
    assert domain.normalise_phone(f"+48 22 555{char} 01 02") == "+48225550102"


@given(st.text(max_size=40))
def test_normalisation_is_idempotent(text):
    once = domain.normalise_company(text)
    assert once is None or domain.normalise_company(once) == once
    email = domain.normalise_email(text)
    assert email is None or domain.normalise_email(email) == email


def test_matching_fields_ignores_missing_keys():
    a = domain.dedupe_keys("A@x.com", None, "Acme Inc")
    b = domain.dedupe_keys("a@x.com ", None, "acme")
    assert domain.matching_fields(a, b) == ["email", "company"]
    assert domain.matching_fields(domain.dedupe_keys(None, None, None), domain.dedupe_keys(None, None, None)) == []


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_money_never_accepts_float(amount):
    with pytest.raises(Invalid):
        domain.parse_money(amount, "EUR")


@given(st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False))
def test_money_keeps_decimal_values_exactly(amount):
    assert domain.parse_money(str(amount), "eur") == (amount, "EUR")


@pytest.mark.parametrize("amount,currency,field", [
    ("-1", "EUR", "estimated_value"), ("1.001", "EUR", "estimated_value"), ("abc", "EUR", "estimated_value"),
    ("10", None, "currency"), ("10", "EURO", "currency")])
def test_bad_money_names_the_field(amount, currency, field):
    with pytest.raises(Invalid) as caught:
        domain.parse_money(amount, currency)
    assert field in caught.value.errors


def test_rule_based_score_uses_source_segment_value_and_recent_activity():
    rule = RuleBasedScore()
    cold = LeadFacts("other", None, None, None, None, "new")
    hot = LeadFacts("referral", "enterprise", Decimal("150000"), "EUR", NOW - timedelta(days=2), "new")
    assert rule.score(cold, NOW) == 5
    assert rule.score(hot, NOW) == 30 + 25 + 30 + 15
    stale = LeadFacts("referral", "enterprise", Decimal("150000"), "EUR", NOW - timedelta(days=20), "new")
    assert rule.score(stale, NOW) == 30 + 25 + 30 + 8


@given(st.sampled_from([s.value for s in domain.LeadSource] + [None]),
       st.decimals(min_value=0, max_value=10**9, places=2))
def test_score_is_always_between_0_and_100(source, value):
    assert 0 <= RuleBasedScore().score(LeadFacts(source, "enterprise", value, "EUR", NOW, "new"), NOW) <= 100


def rep(user_id, team="t1", territory=None, sources=(), active=True):
    return Rep(user_id, team, territory, (), tuple(sources), active, 0)


def test_round_robin_in_team_cycles_and_skips_inactive_and_other_teams():
    reps = [rep("c"), rep("a"), rep("b", active=False), rep("d", team="t2")]
    lead = AssignmentFacts(None, None, None, "t1")
    chosen, cursor, seen = None, None, []
    for _ in range(4):
        chosen, cursor = RoundRobinInTeam().choose(lead, reps, cursor)
        seen.append(chosen.user_id)
    assert seen == ["a", "c", "a", "c"]


def test_territory_and_source_strategies_only_pick_matching_reps():
    reps = [rep("a", territory="north", sources=("partner",)), rep("b", territory="south")]
    assert ByTerritory().choose(AssignmentFacts("south", None, None, None), reps, None)[0].user_id == "b"
    assert ByTerritory().choose(AssignmentFacts("west", None, None, None), reps, "x") == (None, "x")
    assert BySource().choose(AssignmentFacts(None, None, "partner", None), reps, None)[0].user_id == "a"


def test_claim_cap_and_staleness():
    domain.check_claim(4, 5)
    with pytest.raises(Conflict, match="cap of 5"):
        domain.check_claim(5, 5)
    assert domain.is_stale(NOW - timedelta(days=14), NOW, 14)
    assert not domain.is_stale(NOW - timedelta(days=13), NOW, 14)


@given(st.integers(1, 60), st.integers(1, 5), st.integers(0, 9))
def test_planner_spreads_evenly_over_reps_and_days(leads, reps, extra_days):
    first = date(2026, 11, 2)  # a Monday
    plan = plan_calls([f"l{i}" for i in range(leads)], [f"r{i}" for i in range(reps)], first,
                      first + timedelta(days=extra_days), time(9), time(17), 15)
    assert sorted(c.lead_id for c in plan) == sorted(f"l{i}" for i in range(leads))
    per_rep = Counter(c.owner_id for c in plan)
    assert max(per_rep.values()) - min(per_rep.values() or [0]) <= 1
    for owner in per_rep:
        days = Counter(c.due_at.date() for c in plan if c.owner_id == owner)
        working = [d for d in (first + timedelta(days=i) for i in range(extra_days + 1)) if d.weekday() < 5]
        counts = [days.get(d, 0) for d in working]
        assert max(counts) - min(counts) <= 1
        assert all(c.due_at.weekday() < 5 and time(9) <= c.due_at.time() < time(17)
                   for c in plan if c.owner_id == owner)


def test_planner_slots_do_not_overlap_when_they_fit():
    plan = plan_calls(["a", "b", "c", "d"], ["r"], date(2026, 11, 2), date(2026, 11, 2), time(9), time(10), 15)
    starts = sorted(c.due_at for c in plan)
    assert [s.strftime("%H:%M") for s in starts] == ["09:00", "09:15", "09:30", "09:45"]


def test_planner_refuses_impossible_plans_naming_fields():
    with pytest.raises(Invalid) as caught:
        plan_calls(["a"], [], date(2026, 11, 3), date(2026, 11, 2), time(17), time(9), 0)
    assert {"owner_ids", "last_day", "day_end", "duration_minutes"} <= set(caught.value.errors)
    with pytest.raises(Invalid) as caught:
        plan_calls(["a"], ["r"], date(2026, 11, 7), date(2026, 11, 8), time(9), time(17), 15)
    assert "first_day" in caught.value.errors  # a weekend only


def test_outcome_required_only_past_due_without_outcome():
    assert domain.needs_outcome(NOW - timedelta(minutes=1), None, NOW)
    assert not domain.needs_outcome(NOW - timedelta(minutes=1), "done", NOW)
    assert not domain.needs_outcome(NOW + timedelta(minutes=1), None, NOW)


def test_conversion_payload_and_merge_rules():
    payload = domain.conversion_payload({"lead_id": "l1", "company": "Acme", "estimated_value": Decimal("10.50"),
                                         "tags": None})
    assert payload["estimated_value"] == "10.50" and payload["tags"] == [] and payload["owner_id"] is None
    with pytest.raises(Conflict):
        domain.check_convertible(S.CONTACTED)
    with pytest.raises(Conflict):
        domain.check_mergeable("new", "converted", "a", "b")
    with pytest.raises(Conflict):
        domain.check_mergeable("new", "new", "a", "a")
    updates = domain.merge_fields({"email": None, "phone": "1", "tags": ["b"], "notes": "t"},
                                  {"email": "s@x.com", "phone": "2", "tags": ["a", "b"], "notes": "s"})
    assert updates == {"email": "s@x.com", "tags": ["a", "b"], "notes": "t\n---\ns"}


@pytest.mark.parametrize("text", ["𝘈", "İstanbul", "ǅ", "ﬁrma"])
def test_normalisation_of_compatibility_and_case_folding_characters_is_stable(text):
    once = domain.normalise_company(text)
    assert domain.normalise_company(once) == once


def test_planner_reads_working_hours_in_the_reps_zone_across_daylight_saving_time():
    from zoneinfo import ZoneInfo
    # Warsaw moves its clocks forward in the night to Sunday 2027-03-28.
    plan = plan_calls(["fri", "mon"], ["r"], date(2027, 3, 26), date(2027, 3, 29), time(9), time(17), 15,
                      tz=ZoneInfo("Europe/Warsaw"))
    due = {c.lead_id: c.due_at for c in plan}
    assert due["fri"] == datetime(2027, 3, 26, 8, 0, tzinfo=timezone.utc)   # 09:00 CET
    assert due["mon"] == datetime(2027, 3, 29, 7, 0, tzinfo=timezone.utc)   # 09:00 CEST
    assert all(c.due_at.utcoffset() == timedelta(0) for c in plan)


def test_an_unknown_time_zone_is_refused_naming_the_field():
    for name in ("Mars/Olympus", "../etc/passwd", ""):
        with pytest.raises(Invalid) as caught:
            domain.time_zone(name)
        assert "time_zone" in caught.value.errors
