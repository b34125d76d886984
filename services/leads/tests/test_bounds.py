"""The call planner's limits and a calendar feed that survives an out-of-range row."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from services.leads import domain
from services.leads.calendar_feed import render_calendar
from services.leads.planner import MAX_PLAN_DAYS, MAX_PLAN_LEADS
from shared.errors import Invalid

NINE, FIVE = time(9), time(17)


def test_a_plan_spans_at_most_a_quarter():
    first = date(2026, 1, 1)
    last = date.fromordinal(first.toordinal() + MAX_PLAN_DAYS - 1)
    assert domain.plan_calls(["l1"], ["rep"], first, last, NINE, FIVE, 15)
    with pytest.raises(Invalid) as caught:
        domain.plan_calls(["l1"], ["rep"], first, date.fromordinal(last.toordinal() + 1), NINE, FIVE, 15)
    assert "last_day" in caught.value.errors


def test_a_plan_from_year_1_to_9999_is_refused_before_any_work():
    with pytest.raises(Invalid) as caught:
        domain.check_plan_size(1, 1, date(1, 1, 1), date(9999, 12, 31))
    assert set(caught.value.errors) == {"first_day", "last_day"}


def test_the_number_of_leads_per_plan_is_capped():
    with pytest.raises(Invalid) as caught:
        domain.check_plan_size(MAX_PLAN_LEADS + 1, 1, date(2026, 1, 5), date(2026, 1, 6))
    assert "lead_ids" in caught.value.errors


def test_an_activity_stored_out_of_range_is_left_out_of_the_feed():
    now = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    feed = render_calendar("Rep", [
        {"id": "late", "type": "call", "due_at": datetime(9999, 12, 31, 23, 50, tzinfo=timezone.utc),
         "duration_minutes": 30, "updated_at": now},
        {"id": "ok", "type": "call", "due_at": now, "duration_minutes": 30, "updated_at": now},
    ]).decode()
    assert feed.count("BEGIN:VEVENT") == 1 and "ok@crm-leads" in feed
