"""Payments alone: oldest-first and explicit allocation, customer credit, refunds, and the
open amount over any sequence of payments and credit notes the rules accept."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.finance.domain import (InvoiceStatus, OpenInvoice, check_credit_note, check_invoice_transition,
                                     format_invoice_number, open_amount, settlement_status)
from services.finance.payments import Allocation, allocate_payment, check_refund, oldest_first
from shared.errors import Invalid

D = Decimal
DAY = date(2027, 3, 1)


def invoice(invoice_id, open_="100.00", due=DAY, issued=None, seq=1, currency="EUR",
            status=InvoiceStatus.ISSUED) -> OpenInvoice:
    return OpenInvoice(invoice_id, format_invoice_number("INV", 2027, seq), currency,
                       issued or due - timedelta(days=30), due, D(open_), status)


def parts(result) -> dict[str, Decimal]:
    return {a.invoice_id: a.amount for a in result.allocations}


def test_oldest_first_by_due_date_then_issue_date_then_number():
    a = invoice("a", due=DAY + timedelta(days=1), seq=1)
    b = invoice("b", due=DAY, issued=DAY - timedelta(days=10), seq=2)
    c = invoice("c", due=DAY, issued=DAY - timedelta(days=20), seq=3)
    d = invoice("d", due=DAY, issued=DAY - timedelta(days=10), seq=1_000_000)
    e = invoice("e", due=DAY, issued=DAY - timedelta(days=10), seq=999_999)
    # by text "INV-2027-1000000" would sort before "INV-2027-999999"
    assert [i.invoice_id for i in oldest_first([a, b, c, d, e])] == ["c", "b", "e", "d", "a"]


def test_a_payment_settles_the_oldest_invoices_first():
    result = allocate_payment(D("150.00"), [invoice("new", due=DAY + timedelta(days=30), seq=2),
                                            invoice("old", seq=1)], currency="EUR")
    assert result.allocations == (Allocation("old", D("100.00")), Allocation("new", D("50.00")))
    assert result.credit == 0


def test_what_no_invoice_takes_becomes_credit():
    result = allocate_payment(D("250.00"), [invoice("a", seq=1), invoice("b", seq=2)], currency="EUR")
    assert parts(result) == {"a": D("100.00"), "b": D("100.00")}
    assert result.credit == D("50.00")
    alone = allocate_payment(D("20.00"), [], currency="EUR")
    assert alone.allocations == () and alone.credit == D("20.00")


def test_only_open_invoices_in_the_payment_currency_take_part():
    invoices = [invoice("usd", currency="USD", seq=1), invoice("void", status=InvoiceStatus.VOID, seq=2),
                invoice("paid", "0.00", status=InvoiceStatus.PAID, seq=3), invoice("settled", "0.00", seq=4),
                invoice("eur", "40.00", seq=5)]
    result = allocate_payment(D("100.00"), invoices, currency="EUR")
    assert parts(result) == {"eur": D("40.00")} and result.credit == D("60.00")


def test_explicit_allocation_is_taken_as_given_and_the_rest_is_credit():
    invoices = [invoice("a", seq=1), invoice("b", "80.00", seq=2)]
    result = allocate_payment(D("100.00"), invoices, {"b": D("60.00")}, currency="EUR")
    assert parts(result) == {"b": D("60.00")} and result.credit == D("40.00")
    everything_credit = allocate_payment(D("100.00"), invoices, {}, currency="EUR")
    assert everything_credit.allocations == () and everything_credit.credit == D("100.00")


def test_explicit_allocation_errors_name_each_invoice():
    invoices = [invoice("a", "50.00", seq=1), invoice("b", seq=2), invoice("c", seq=3),
                invoice("usd", currency="USD", seq=4), invoice("void", status=InvoiceStatus.VOID, seq=5),
                invoice("d", seq=6)]
    with pytest.raises(Invalid) as caught:
        allocate_payment(D("500.00"), invoices, {"a": D("50.01"), "b": D(0), "c": D("-1"), "x": D(1),
                                                 "usd": D(1), "void": D(1), "d": D("0.001")}, currency="EUR")
    assert caught.value.errors == {
        "allocations.a": "at most the invoice's open amount 50.00",
        "allocations.b": "must be more than 0",
        "allocations.c": "must be more than 0",
        "allocations.x": "not an open invoice of this customer",
        "allocations.usd": "the invoice is in USD, the payment in EUR",
        "allocations.void": "a void invoice takes no payment",
        "allocations.d": "at most 2 decimal places in EUR"}


def test_explicit_allocations_cannot_add_up_to_more_than_the_payment():
    with pytest.raises(Invalid) as caught:
        allocate_payment(D("100.00"), [invoice("a", seq=1), invoice("b", seq=2)],
                         {"a": D("60.00"), "b": D("40.01")}, currency="EUR")
    assert caught.value.errors == {"allocations": "at most 100.00 in all"}


@pytest.mark.parametrize("amount, currency, message", [
    (D(0), "EUR", "must be more than 0"), (D("-5"), "EUR", "must be more than 0"),
    (D("10.001"), "EUR", "at most 2 decimal places in EUR"), (D("10.5"), "JPY", "at most 0 decimal places in JPY"),
    (10.0, "EUR", "a decimal string, not a float")])
def test_a_payment_is_a_positive_amount_of_its_currency(amount, currency, message):
    with pytest.raises(Invalid) as caught:
        allocate_payment(amount, [], currency=currency)
    assert caught.value.errors == {"amount": message}


def test_three_decimal_currency_allocates_to_the_fils():
    result = allocate_payment(D("10.005"), [invoice("a", "10.004", currency="KWD")], currency="KWD")
    assert parts(result) == {"a": D("10.004")} and result.credit == D("0.001")


def test_a_refund_is_at_most_the_credit_balance():
    assert check_refund(D("40.00"), D("40.00"), "EUR") == D("40.00")
    with pytest.raises(Invalid) as caught:
        check_refund(D("40.01"), D("40.00"), "EUR")
    assert caught.value.errors == {"amount": "at most the credit balance 40.00"}
    assert caught.value.extra == {"limit": "40.00"}
    for bad in (D(0), D("-1"), D("0.001")):
        with pytest.raises(Invalid):
            check_refund(bad, D("40.00"), "EUR")


# Properties ------------------------------------------------------------------

AMOUNTS = st.decimals(min_value=D("0.01"), max_value=D(100_000), places=2)
OPEN_INVOICES = st.lists(st.tuples(st.integers(0, 90), st.integers(0, 60), st.decimals(D(0), D(50_000), places=2)),
                         max_size=12).map(lambda rows: [
    invoice(f"i{n}", str(open_), due=DAY + timedelta(days=due), issued=DAY - timedelta(days=age), seq=n + 1)
    for n, (due, age, open_) in enumerate(rows)])


@given(AMOUNTS, OPEN_INVOICES)
def test_oldest_first_allocations_and_credit_add_up_to_the_payment(amount, invoices):
    result = allocate_payment(amount, invoices, currency="EUR")
    assert result.allocated + result.credit == amount
    by_id = {i.invoice_id: i for i in invoices}
    assert all(D(0) < a.amount <= by_id[a.invoice_id].open_amount for a in result.allocations)
    assert result.credit >= 0
    # only the last invoice served may be partly paid; credit is left only when every open invoice is settled
    assert all(a.amount == by_id[a.invoice_id].open_amount for a in result.allocations[:-1])
    if result.credit > 0:
        assert result.allocated == sum(i.open_amount for i in invoices)
    assert [a.invoice_id for a in result.allocations] == [
        i.invoice_id for i in oldest_first(invoices) if i.open_amount > 0][:len(result.allocations)]


@given(AMOUNTS, OPEN_INVOICES, st.data())
def test_explicit_allocations_and_credit_add_up_to_the_payment(amount, invoices, data):
    open_ones = [i for i in invoices if i.open_amount > 0]
    chosen = data.draw(st.lists(st.sampled_from(open_ones), unique_by=lambda i: i.invoice_id)) if open_ones else []
    explicit = {i.invoice_id: data.draw(st.decimals(D("0.01"), i.open_amount, places=2)) for i in chosen}
    try:
        result = allocate_payment(amount, invoices, explicit, currency="EUR")
    except Invalid as refused:
        assert sum(explicit.values()) > amount and refused.errors == {"allocations": f"at most {amount} in all"}
        return
    assert parts(result) == explicit
    assert result.allocated + result.credit == amount and result.credit >= 0


OPERATIONS = st.lists(st.tuples(st.sampled_from(["payment", "credit_note"]),
                                st.decimals(min_value=D("-5"), max_value=D(600), places=2),
                                st.booleans()), max_size=15)


@given(st.decimals(min_value=D("0.01"), max_value=D(500), places=2), OPERATIONS)
def test_no_accepted_payment_or_credit_note_takes_an_invoice_below_zero(gross, operations):
    paid = credited = D(0)
    status = InvoiceStatus.ISSUED
    for kind, amount, explicitly in operations:
        owed = open_amount(gross, paid, credited)
        try:
            if kind == "payment":
                current = [invoice("inv", str(owed), status=status)]
                result = allocate_payment(amount, current, {"inv": amount} if explicitly else None, currency="EUR")
                paid += result.allocated
                assert result.allocated + result.credit == amount
            else:
                credited += check_credit_note(amount, owed, "EUR")
        except Invalid:
            continue
        assert paid + credited <= gross                        # never clamped: nothing went below zero
        assert open_amount(gross, paid, credited) == gross - paid - credited >= 0
        new_status = settlement_status(gross, paid, credited)
        if new_status is not status:
            check_invoice_transition(status, new_status, paid, credited)
            status = new_status
    assert (status is InvoiceStatus.PAID) == (paid + credited == gross)
