"""Statements of account alone: opening balance, lines in date order with a running balance, closing."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.finance.statements import EntryKind, StatementEntry, account_statement
from shared.errors import Invalid

D = Decimal
JUNE, END = date(2027, 6, 1), date(2027, 6, 30)


def entry(day, kind, reference, amount) -> StatementEntry:
    return StatementEntry(day, EntryKind(kind), reference, D(amount))


def test_statement_opening_lines_and_closing():
    entries = [
        entry(date(2027, 7, 1), "invoice", "INV-2027-000009", "999.00"),     # after the period
        entry(date(2027, 6, 10), "payment", "PAY-2", "300.00"),
        entry(date(2027, 5, 3), "invoice", "INV-2027-000001", "500.00"),
        entry(date(2027, 5, 20), "payment", "PAY-1", "200.00"),
        entry(date(2027, 6, 10), "invoice", "INV-2027-000002", "100.00"),
        entry(date(2027, 6, 12), "credit_note", "CN-2027-000001", "50.00"),
        entry(date(2027, 6, 30), "refund", "REF-1", "20.00")]
    statement = account_statement(entries, JUNE, END, "EUR")
    assert statement.opening_balance == D("300.00")
    assert [(line.entry.reference, line.balance) for line in statement.lines] == [
        ("INV-2027-000002", D("400.00")), ("PAY-2", D("100.00")), ("CN-2027-000001", D("50.00")),
        ("REF-1", D("70.00"))]
    assert statement.closing_balance == D("70.00")


def test_same_day_entries_come_invoices_credit_notes_payments_refunds_then_by_reference():
    day = date(2027, 6, 5)
    entries = [entry(day, "refund", "R", "1"), entry(day, "payment", "P2", "1"), entry(day, "payment", "P1", "1"),
               entry(day, "credit_note", "C", "1"), entry(day, "invoice", "I", "9")]
    assert [line.entry.reference for line in account_statement(entries, JUNE, END, "EUR").lines] == [
        "I", "C", "P1", "P2", "R"]


def test_a_quiet_period_closes_at_its_opening_and_credit_shows_negative():
    statement = account_statement([entry(date(2027, 5, 1), "payment", "PAY-1", "80.00")], JUNE, END, "EUR")
    assert statement.lines == () and statement.opening_balance == statement.closing_balance == D("-80.00")
    empty = account_statement([], JUNE, END, "JPY")
    assert str(empty.opening_balance) == "0" and str(account_statement([], JUNE, END, "EUR").closing_balance) == "0.00"


def test_statement_refuses_a_backwards_period_or_a_signed_amount():
    with pytest.raises(Invalid) as caught:
        account_statement([], END, JUNE, "EUR")
    assert list(caught.value.errors) == ["period_end"]
    with pytest.raises(Invalid) as caught:
        account_statement([entry(JUNE, "invoice", "I", "10"), entry(JUNE, "payment", "P", "-10")], JUNE, END, "EUR")
    assert caught.value.errors == {"entries.1.amount": "must be more than 0"}


ENTRIES = st.lists(st.builds(entry, st.integers(-60, 60).map(lambda n: JUNE + timedelta(days=n)),
                             st.sampled_from([k.value for k in EntryKind]),
                             st.from_regex(r"[A-Z]{1,3}-\d{1,3}", fullmatch=True),
                             st.decimals(D("0.01"), D(10**6), places=2).map(str)), max_size=30)


@given(ENTRIES)
def test_running_balance_and_closing_follow_from_opening_and_the_period_entries(entries):
    statement = account_statement(entries, JUNE, END, "EUR")
    in_period = [e for e in entries if JUNE <= e.on <= END]
    assert sorted(map(id, (line.entry for line in statement.lines))) == sorted(map(id, in_period))
    assert [line.entry.on for line in statement.lines] == sorted(e.on for e in in_period)
    balance = statement.opening_balance
    for line in statement.lines:
        balance += line.entry.amount if line.entry.kind in (EntryKind.INVOICE, EntryKind.REFUND) else -line.entry.amount
        assert line.balance == balance
    assert statement.closing_balance == balance
    owed = sum((e.amount if e.kind in (EntryKind.INVOICE, EntryKind.REFUND) else -e.amount)
               for e in entries if e.on <= END)
    assert statement.closing_balance == owed
