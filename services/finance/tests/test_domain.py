"""Invoice rules alone: money and rounding, lines and totals, states, numbers, open amounts, credit notes."""
from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from services.finance.domain import (INVOICE_TRANSITIONS, InvoiceLine, InvoiceNumber, InvoiceStatus,
                                     check_credit_note, check_creditable, check_invoice_transition,
                                     format_invoice_number, invoice_totals, line_amounts, open_amount,
                                     parse_invoice_lines, parse_invoice_number, settlement_status)
from services.finance.money import minor_units, round_money, to_company_currency
from shared.errors import Conflict, Invalid

D = Decimal


def line(quantity="1", unit_price="0", discount="0", tax_rate="0", description="Service") -> InvoiceLine:
    return InvoiceLine(description, D(quantity), D(unit_price), D(discount), D(tax_rate))


def test_the_rules_import_no_framework():
    modules = ", ".join(f"services.finance.{m}" for m in
                        ("money", "domain", "payments", "receivables", "dunning", "aging", "statements"))
    probe = (f"import sys, {modules}; print(sorted({{m.split('.')[0] for m in sys.modules}}"
             " & {'nameko', 'sqlalchemy', 'eventlet', 'kombu', 'marshmallow', 'flask', 'alembic'}))")
    root = Path(__file__).resolve().parents[3]
    answer = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "[]"


# Money -----------------------------------------------------------------------

@pytest.mark.parametrize("currency, places", [("EUR", 2), ("USD", 2), ("CHF", 2), ("JPY", 0), ("KRW", 0),
                                              ("BHD", 3), ("KWD", 3), ("JOD", 3), ("OMR", 3), ("TND", 3)])
def test_minor_units_per_currency(currency, places):
    assert minor_units(currency) == places


@pytest.mark.parametrize("code", ["eur", "EURO", "E1R", "", None, 978])
def test_a_currency_is_three_capitals(code):
    with pytest.raises(Invalid) as caught:
        minor_units(code)
    assert caught.value.errors == {"currency": "an ISO 4217 code such as EUR"}


@pytest.mark.parametrize("amount, currency, rounded", [
    ("0.005", "EUR", "0.01"), ("0.004", "EUR", "0.00"), ("2.675", "EUR", "2.68"), ("-0.005", "EUR", "-0.01"),
    ("0.5", "JPY", "1"), ("1.49", "JPY", "1"), ("2.5", "KRW", "3"),
    ("0.0005", "BHD", "0.001"), ("1.2344", "KWD", "1.234")])
def test_rounding_is_half_up_to_the_minor_unit(amount, currency, rounded):
    result = round_money(D(amount), currency)
    assert result == D(rounded) and str(result) == rounded


def test_conversion_to_company_currency_rounds_half_up_at_its_minor_unit():
    assert to_company_currency(D("100.00"), D("0.92345"), 2) == D("92.35")
    assert to_company_currency(D("10.50"), D("1"), 0) == D("11")
    assert to_company_currency(D("1000"), D("0.0021045"), 3) == D("2.105")
    assert str(to_company_currency(D("1"), D("1"), 2)) == "1.00"


@pytest.mark.parametrize("rate, places, field", [(D(0), 2, "rate"), (D("-1.1"), 2, "rate"), (1.1, 2, "rate"),
                                                 (D("NaN"), 2, "rate"), (D(1), 5, "currency_minor_units"),
                                                 (D(1), True, "currency_minor_units")])
def test_conversion_refuses_a_rate_not_above_zero_or_odd_minor_units(rate, places, field):
    with pytest.raises(Invalid) as caught:
        to_company_currency(D("10.00"), rate, places)
    assert list(caught.value.errors) == [field]


# Lines and totals ------------------------------------------------------------

def test_line_net_tax_and_gross_with_discount():
    amounts = line_amounts(line("3", "19.99", discount="15", tax_rate="20"), "EUR")
    assert (amounts.net, amounts.tax, amounts.gross) == (D("50.97"), D("10.19"), D("61.16"))   # 50.9745, 10.194


def test_half_a_cent_goes_up_for_the_net_and_for_the_tax():
    assert line_amounts(line("1", "0.005"), "EUR").net == D("0.01")
    assert line_amounts(line("1", "0.05", tax_rate="10"), "EUR").tax == D("0.01")          # 0.005


def test_tax_is_computed_from_the_rounded_net():
    # exact net 0.125 -> 0.13; 50 % of 0.13 = 0.065 -> 0.07 (of the unrounded net it would be 0.0625 -> 0.06)
    assert line_amounts(line("1", "0.125", tax_rate="50"), "EUR").tax == D("0.07")


def test_zero_decimal_currency_rounds_each_line_to_whole_units():
    amounts = line_amounts(line("3", "333.5", tax_rate="10"), "JPY")
    assert (amounts.net, amounts.tax, amounts.gross) == (D("1001"), D("100"), D("1101"))     # 1000.5, 100.1
    assert str(amounts.net) == "1001"


def test_three_decimal_currency_rounds_each_line_to_the_fils():
    amounts = line_amounts(line("1", "1.2345", tax_rate="5"), "BHD")
    assert (amounts.net, amounts.tax, amounts.gross) == (D("1.235"), D("0.062"), D("1.297"))  # tax 0.06175


def test_invoice_totals_are_sums_of_rounded_lines_not_rounded_again():
    totals = invoice_totals([line("1", "0.333", tax_rate="10")] * 3, "EUR")
    assert [a.net for a in totals.lines] == [D("0.33")] * 3
    assert (totals.net, totals.tax, totals.gross) == (D("0.99"), D("0.09"), D("1.08"))   # not 1.00 / 0.10


def test_a_free_line_is_allowed_and_totals_keep_the_currency_places():
    totals = invoice_totals([line("1", "0")], "EUR")
    assert str(totals.gross) == "0.00" and totals.currency == "EUR"


def test_line_validation_names_every_bad_field():
    with pytest.raises(Invalid) as caught:
        parse_invoice_lines([
            {"description": "ok", "quantity": "0", "unit_price": "10"},
            {"description": "ok", "quantity": "1", "unit_price": "-1", "discount": "101"},
            {"description": "", "quantity": "1", "unit_price": "1", "tax_rate": 19.0},
            {"description": "ok", "quantity": "lots", "unit_price": "1.0000001"},
            {"description": "ok", "unit_price": "1", "discount": "-5", "tax_rate": "100.00001"},
            "not a line"])
    assert caught.value.errors == {
        "lines.0.quantity": "must be more than 0",
        "lines.1.unit_price": "must not be negative",
        "lines.1.discount": "a percentage from 0 to 100",
        "lines.2.description": "required",
        "lines.2.tax_rate": "a decimal string, not a float",
        "lines.3.quantity": "not a number",
        "lines.3.unit_price": "at most 6 decimal places",
        "lines.4.quantity": "required",
        "lines.4.discount": "a percentage from 0 to 100",
        "lines.4.tax_rate": "at most 4 decimal places",
        "lines.5": "a line with description, quantity and unit_price"}


def test_parsed_lines_default_discount_and_tax_to_zero():
    [parsed] = parse_invoice_lines([{"description": " Setup ", "quantity": "2", "unit_price": "100.00"}])
    assert (parsed.quantity, parsed.unit_price, parsed.discount, parsed.tax_rate) == (D(2), D("100.00"), 0, 0)
    assert invoice_totals([parsed], "EUR").gross == D("200.00")


def test_an_invoice_has_one_to_five_hundred_lines():
    assert len(invoice_totals([line("1", "1")] * 500, "EUR").lines) == 500
    for lines in ([], [line("1", "1")] * 501):
        with pytest.raises(Invalid) as caught:
            invoice_totals(lines, "EUR")
        assert list(caught.value.errors) == ["lines"]
    with pytest.raises(Invalid):
        parse_invoice_lines([{"description": "x", "quantity": "1", "unit_price": "1"}] * 501)


def test_totals_refuse_what_money_cannot_hold_and_a_bad_currency():
    with pytest.raises(Invalid) as caught:
        invoice_totals([line("1000000000000", "1000000000000")], "EUR")
    assert list(caught.value.errors) == ["lines"]
    with pytest.raises(Invalid) as caught:
        invoice_totals([line("1", "1")], "euro")
    assert list(caught.value.errors) == ["currency"]


CURRENCIES = st.sampled_from(["EUR", "JPY", "BHD", "USD", "KWD"])
LINES = st.lists(st.builds(
    line,
    quantity=st.decimals(min_value=D("0.001"), max_value=D(10000), places=3).map(str),
    unit_price=st.decimals(min_value=D(0), max_value=D(100000), places=4).map(str),
    discount=st.decimals(min_value=D(0), max_value=D(100), places=2).map(str),
    tax_rate=st.sampled_from(["0", "5", "7.7", "19", "20", "27"])), min_size=1, max_size=20)


@given(LINES, CURRENCIES)
def test_totals_add_up_and_each_line_is_within_half_a_minor_unit(lines, currency):
    totals = invoice_totals(lines, currency)
    unit = D(1).scaleb(-minor_units(currency))
    assert totals.net == sum(a.net for a in totals.lines)
    assert totals.tax == sum(a.tax for a in totals.lines)
    assert totals.gross == totals.net + totals.tax == sum(a.gross for a in totals.lines)
    for given_line, amounts in zip(lines, totals.lines):
        exact = given_line.quantity * given_line.unit_price * (1 - given_line.discount / 100)
        assert abs(amounts.net - exact) <= unit / 2
        assert amounts.net == amounts.net.quantize(unit) and amounts.tax == amounts.tax.quantize(unit)


# States ----------------------------------------------------------------------

@pytest.mark.parametrize("current", list(InvoiceStatus))
@pytest.mark.parametrize("target", list(InvoiceStatus))
def test_transitions_follow_the_table_and_name_the_allowed_moves(current, target):
    allowed = INVOICE_TRANSITIONS.get(current, ())
    if target in allowed:
        check_invoice_transition(current, target)
        return
    with pytest.raises(Conflict) as caught:
        check_invoice_transition(current, target)
    assert caught.value.extra["allowed"] == [s.value for s in allowed]
    for status in allowed:
        assert status.value in caught.value.detail


def test_the_table_is_the_business_life_cycle():
    assert INVOICE_TRANSITIONS == {
        InvoiceStatus.DRAFT: (InvoiceStatus.ISSUED, InvoiceStatus.VOID),
        InvoiceStatus.ISSUED: (InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID, InvoiceStatus.VOID),
        InvoiceStatus.PARTIALLY_PAID: (InvoiceStatus.PAID,)}
    with pytest.raises(Conflict, match="cannot change any more"):
        check_invoice_transition(InvoiceStatus.PAID, InvoiceStatus.ISSUED)


def test_void_only_with_nothing_paid_or_credited():
    check_invoice_transition(InvoiceStatus.ISSUED, InvoiceStatus.VOID, paid=D("0.00"), credited=D("0.00"))
    for paid, credited in ((D("0.01"), D(0)), (D(0), D("5.00"))):
        with pytest.raises(Conflict, match="credit its open amount") as caught:
            check_invoice_transition(InvoiceStatus.ISSUED, InvoiceStatus.VOID, paid=paid, credited=credited)
        assert caught.value.extra["allowed"] == ["partially_paid", "paid"]
    with pytest.raises(Conflict):
        check_invoice_transition(InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.VOID)


def test_settlement_status_from_payments_and_credit_notes():
    assert settlement_status(D("100.00"), D(0), D(0)) is InvoiceStatus.ISSUED
    assert settlement_status(D("100.00"), D(0), D("40.00")) is InvoiceStatus.ISSUED
    assert settlement_status(D("100.00"), D("0.01"), D(0)) is InvoiceStatus.PARTIALLY_PAID
    assert settlement_status(D("100.00"), D("60.00"), D("40.00")) is InvoiceStatus.PAID
    assert settlement_status(D("100.00"), D(0), D("100.00")) is InvoiceStatus.PAID


# Numbers ---------------------------------------------------------------------

def test_invoice_number_format_and_parse():
    assert format_invoice_number("INV", 2027, 123) == "INV-2027-000123"
    assert format_invoice_number("CN2", 2027, 1234567) == "CN2-2027-1234567"
    assert parse_invoice_number("INV-2027-000123") == InvoiceNumber("INV", 2027, 123)
    assert str(InvoiceNumber("INV", 2027, 5)) == "INV-2027-000005"


@pytest.mark.parametrize("series, year, seq, fields", [
    ("inv", 2027, 1, {"series"}), ("", 2027, 1, {"series"}), ("IN-V", 2027, 1, {"series"}),
    ("ABCDEFGHIJK", 2027, 1, {"series"}), ("INV", 1899, 0, {"year", "seq"}), ("INV", 2027, True, {"seq"}),
    ("INV", "2027", 2**31, {"year", "seq"})])
def test_format_refuses_what_would_not_parse_back(series, year, seq, fields):
    with pytest.raises(Invalid) as caught:
        format_invoice_number(series, year, seq)
    assert set(caught.value.errors) == fields


@pytest.mark.parametrize("text", ["INV-2027-0001234", "INV-2027-000000", "INV-27-000123", "INV-2027-12345",
                                  "inv-2027-000123", "INV-2027-000123 ", "INV-1899-000001", "INV-2027-9999999999",
                                  "", None])
def test_parse_refuses_anything_format_does_not_make(text):
    with pytest.raises(Invalid) as caught:
        parse_invoice_number(text)
    assert caught.value.errors == {"number": "like INV-2027-000123"}


@given(st.from_regex(r"[A-Z][A-Z0-9]{0,9}", fullmatch=True), st.integers(1900, 2999), st.integers(1, 2**31 - 1))
def test_numbers_round_trip(series, year, seq):
    assert parse_invoice_number(format_invoice_number(series, year, seq)) == InvoiceNumber(series, year, seq)


# Open amounts and credit notes -----------------------------------------------

def test_open_amount_is_what_is_left_and_never_negative():
    assert open_amount(D("100.00"), D("30.00"), D("20.00")) == D("50.00")
    assert str(open_amount(D("100.00"), D("60.00"), D("40.00"))) == "0.00"
    assert open_amount(D("100.00"), D("150.00")) == 0


def test_a_credit_note_is_limited_to_the_open_amount():
    assert check_credit_note(D("50.00"), D("50.00"), "EUR") == D("50.00")
    with pytest.raises(Invalid) as caught:
        check_credit_note(D("50.01"), D("50.00"), "EUR")
    assert caught.value.errors == {"amount": "at most the open amount 50.00"}
    assert caught.value.extra == {"limit": "50.00"}


@pytest.mark.parametrize("amount, currency, message", [
    (D(0), "EUR", "must be more than 0"), (D("-1"), "EUR", "must be more than 0"),
    (D("0.001"), "EUR", "at most 2 decimal places in EUR"), (D("1.5"), "JPY", "at most 0 decimal places in JPY"),
    (D("0.0001"), "BHD", "at most 3 decimal places in BHD"), (1.5, "EUR", "a decimal string, not a float")])
def test_a_credit_note_is_a_positive_amount_of_the_currency(amount, currency, message):
    with pytest.raises(Invalid) as caught:
        check_credit_note(amount, D(100), currency)
    assert caught.value.errors == {"amount": message}


def test_only_issued_or_partially_paid_invoices_are_credited():
    check_creditable(InvoiceStatus.ISSUED)
    check_creditable(InvoiceStatus.PARTIALLY_PAID)
    for status in (InvoiceStatus.DRAFT, InvoiceStatus.PAID, InvoiceStatus.VOID):
        with pytest.raises(Conflict, match=status.value):
            check_creditable(status)


@given(st.decimals(min_value=D("-10"), max_value=D(10**6), places=2),
       st.decimals(min_value=D(0), max_value=D(10**6), places=2))
def test_a_credit_note_is_accepted_exactly_when_it_fits_in_the_open_amount(amount, open_):
    fits = D(0) < amount <= open_
    try:
        check_credit_note(amount, open_, "EUR")
    except Invalid:
        assert not fits
    else:
        assert fits
