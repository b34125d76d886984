"""Collections alone: dunning levels and due reminders, aging buckets, days sales outstanding."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.finance.aging import AGING_BUCKETS, aging_bucket, aging_buckets, days_sales_outstanding
from services.finance.domain import InvoiceStatus, OpenInvoice
from services.finance.dunning import due_reminders, dunning_level
from shared.errors import Invalid

D = Decimal
TODAY = date(2027, 6, 30)


def overdue(days, open_="100.00", status=InvoiceStatus.ISSUED, currency="EUR", n=1) -> OpenInvoice:
    due = TODAY - timedelta(days=days)
    return OpenInvoice(f"i{n}", f"INV-2027-{n:06d}", currency, due - timedelta(days=30), due, D(open_), status)


@pytest.mark.parametrize("days, level", [(-5, 0), (0, 0), (6, 0), (7, 1), (13, 1), (14, 2), (29, 2),
                                         (30, 3), (365, 3)])
def test_dunning_level_by_default_thresholds(days, level):
    assert dunning_level(days) == level


def test_dunning_level_with_other_thresholds():
    assert [dunning_level(d, (10, 20)) for d in (9, 10, 25)] == [0, 1, 2]
    assert dunning_level(100, (1, 2, 3, 4, 5)) == 5


@pytest.mark.parametrize("level_days", [(), (14, 7), (7, 7), (0, 7), (7.5, 14), (True, 14)])
def test_thresholds_are_rising_whole_days(level_days):
    with pytest.raises(Invalid) as caught:
        dunning_level(10, level_days)
    assert list(caught.value.errors) == ["level_days"]


def test_reminders_due_are_the_levels_reached_above_the_highest_sent():
    assert due_reminders(overdue(8), TODAY) == (1,)
    assert due_reminders(overdue(15), TODAY) == (1, 2)              # a run that fell behind
    assert due_reminders(overdue(15), TODAY, levels_sent=[1]) == (2,)
    assert due_reminders(overdue(15), TODAY, levels_sent=[2]) == ()  # never back down to level 1
    assert due_reminders(overdue(45), TODAY, levels_sent=[1, 2, 3]) == ()
    assert due_reminders(overdue(3), TODAY) == ()
    assert due_reminders(overdue(-3), TODAY) == ()
    assert due_reminders(overdue(35), TODAY, level_days=(30, 60)) == (1,)


@pytest.mark.parametrize("status", [InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.DRAFT])
def test_a_paid_void_or_draft_invoice_gets_no_reminder(status):
    assert due_reminders(overdue(60, status=status), TODAY) == ()
    assert due_reminders(overdue(60, status=InvoiceStatus.PARTIALLY_PAID), TODAY) == (1, 2, 3)


def test_an_invoice_with_nothing_open_gets_no_reminder():
    assert due_reminders(overdue(60, open_="0.00"), TODAY) == ()


@pytest.mark.parametrize("days, bucket", [(-10, "0-30"), (0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"),
                                          (61, "61-90"), (90, "61-90"), (91, "90+"), (1000, "90+")])
def test_aging_bucket_edges(days, bucket):
    assert aging_bucket(days) == bucket
    assert aging_buckets([overdue(days)], TODAY)[bucket] == D("100.00")


def test_aging_sums_open_amounts_per_bucket_and_not_yet_due_counts_as_0_30():
    invoices = [overdue(-15, "10.00", n=1), overdue(5, "20.00", n=2), overdue(45, "30.00", n=3),
                overdue(75, "40.00", n=4), overdue(120, "50.00", n=5), overdue(200, "60.00", n=6),
                overdue(200, "70.00", status=InvoiceStatus.VOID, n=7),
                overdue(10, "15.00", status=InvoiceStatus.PARTIALLY_PAID, n=8)]
    assert aging_buckets(invoices, TODAY) == {"0-30": D("45.00"), "31-60": D("30.00"), "61-90": D("40.00"),
                                              "90+": D("110.00")}


def test_aging_has_every_bucket_even_when_empty():
    buckets = aging_buckets([overdue(5)], TODAY)
    assert list(buckets) == list(AGING_BUCKETS) == ["0-30", "31-60", "61-90", "90+"]
    assert [str(v) for v in buckets.values()] == ["100.00", "0.00", "0.00", "0.00"]
    assert aging_buckets([], TODAY) == dict.fromkeys(AGING_BUCKETS, D(0))


def test_aging_refuses_mixed_currencies():
    with pytest.raises(Invalid, match="EUR, USD") as caught:
        aging_buckets([overdue(5, n=1), overdue(5, currency="USD", n=2)], TODAY)
    assert list(caught.value.errors) == ["open_invoices"]


@given(st.lists(st.tuples(st.integers(-60, 400), st.decimals(D(0), D(10**6), places=2)), max_size=30))
def test_aging_loses_and_invents_nothing(rows):
    invoices = [overdue(days, str(amount), n=n) for n, (days, amount) in enumerate(rows)]
    assert sum(aging_buckets(invoices, TODAY).values()) == sum(i.open_amount for i in invoices)


def test_days_sales_outstanding():
    assert days_sales_outstanding(D("50000.00"), D("150000.00"), 90) == D("30.0")
    assert days_sales_outstanding(D("10000.00"), D("30000.00"), 31) == D("10.3")      # 10.333...
    assert days_sales_outstanding(D("1.00"), D("4.00"), 1) == D("0.3")                # 0.25 half-up
    assert str(days_sales_outstanding(D(0), D("10.00"), 30)) == "0.0"


def test_no_credit_sales_means_no_dso_and_a_period_has_days():
    assert days_sales_outstanding(D("500.00"), D(0), 30) is None
    assert days_sales_outstanding(D("500.00"), D("-20.00"), 30) is None
    for days in (0, -1, 30.0):
        with pytest.raises(Invalid) as caught:
            days_sales_outstanding(D("500.00"), D("1000.00"), days)
        assert list(caught.value.errors) == ["days_in_period"]
