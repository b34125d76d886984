"""Business rules of finance: invoice lines and totals, invoice states and
numbers, open amounts and credit notes.

Rounding: per line, half-up, to the currency's minor unit. A line's net is
rounded first, its tax is computed from that rounded net and rounded again;
gross = net + tax. An invoice's totals are the sums of its lines' amounts and
are never rounded a second time, so the printed lines always add up to the
printed totals. Money is ``Decimal``, never float (``money.py``).

Plain Python: no nameko, no database, no I/O. Payments (``payments.py``), the
receivable plan (``receivables.py``), dunning (``dunning.py``), aging
(``aging.py``) and statements (``statements.py``) build on these rules.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation, localcontext
from enum import Enum
from typing import Any, Mapping, Sequence

from services.finance.money import (EXACT, ZERO, check_amount, check_currency, minor_units, number_error, round_half_up,
                                    round_money)
from shared.bounds import MAX_INT, MAX_MONEY, MAX_STRING, MAX_YEAR, MIN_YEAR
from shared.errors import Conflict, Invalid

# Invoice lines and totals ----------------------------------------------------

MAX_LINES = 500
QUANTITY_PLACES = PRICE_PLACES = 6
PERCENT_PLACES = 4
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = ZERO    # percent off the line, 0..100
    tax_rate: Decimal = ZERO    # percent of the discounted net, 0..100


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    tax: Decimal
    gross: Decimal


@dataclass(frozen=True)
class InvoiceTotals:
    currency: str
    lines: tuple[LineAmounts, ...]
    net: Decimal
    tax: Decimal
    gross: Decimal


def _line_errors(index: int, line: InvoiceLine) -> dict[str, str]:
    path = f"lines.{index}"
    errors = {}
    description = line.description.strip() if isinstance(line.description, str) else ""
    if not description:
        errors[f"{path}.description"] = "required"
    elif len(description) > MAX_STRING:
        errors[f"{path}.description"] = f"at most {MAX_STRING} characters"
    checks = (("quantity", QUANTITY_PLACES, lambda v: v > 0, "must be more than 0"),
              ("unit_price", PRICE_PLACES, lambda v: v >= 0, "must not be negative"),
              ("discount", PERCENT_PLACES, lambda v: 0 <= v <= HUNDRED, "a percentage from 0 to 100"),
              ("tax_rate", PERCENT_PLACES, lambda v: 0 <= v <= HUNDRED, "a percentage from 0 to 100"))
    for name, places, accepted, rule in checks:
        value = getattr(line, name)
        error = number_error(value, places) or (None if accepted(value) else rule)
        if error:
            errors[f"{path}.{name}"] = error
    return errors


def _check_count(lines: Sequence) -> None:
    if not lines:
        raise Invalid("an invoice has at least one line", errors={"lines": "at least one line"})
    if len(lines) > MAX_LINES:
        raise Invalid(f"an invoice has at most {MAX_LINES} lines", errors={"lines": f"at most {MAX_LINES} lines"})


def check_invoice_lines(lines: Sequence[InvoiceLine]) -> None:
    """Invalid, naming every bad field (``lines.0.quantity``), unless there are 1 to
    500 lines, each with a description, a quantity above 0, a unit price not below 0,
    and a discount and tax rate from 0 to 100 percent."""
    _check_count(lines)
    errors: dict[str, str] = {}
    for index, line in enumerate(lines):
        errors.update(_line_errors(index, line))
    if errors:
        raise Invalid("some invoice lines are not valid", errors=errors)


def _wire_decimal(raw: Mapping, name: str, default: str | None) -> Decimal | str:
    """The field as a Decimal, or why it is not one."""
    value = raw.get(name, default)
    if value is None:
        return "required"
    if isinstance(value, (float, bool)):
        return "a decimal string, not a float" if isinstance(value, float) else "not a number"
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "not a number"


def parse_invoice_lines(raw_lines: Sequence[Mapping]) -> list[InvoiceLine]:
    """Lines from the wire (numbers as decimal strings; a float is refused), checked
    as :func:`check_invoice_lines` does; discount and tax rate default to 0."""
    if not isinstance(raw_lines, (list, tuple)):
        raise Invalid("lines is a list", errors={"lines": "a list of lines"})
    _check_count(raw_lines)
    errors: dict[str, str] = {}
    lines = []
    for index, raw in enumerate(raw_lines):
        if not isinstance(raw, Mapping):
            errors[f"lines.{index}"] = "a line with description, quantity and unit_price"
            continue
        values: dict[str, Any] = {}
        for name in ("quantity", "unit_price", "discount", "tax_rate"):
            value = _wire_decimal(raw, name, None if name in ("quantity", "unit_price") else "0")
            if isinstance(value, str):
                errors[f"lines.{index}.{name}"] = value
                value = Decimal(1)
            values[name] = value
        line = InvoiceLine(description=raw.get("description") or "", **values)
        for path, message in _line_errors(index, line).items():
            errors.setdefault(path, message)
        lines.append(line)
    if errors:
        raise Invalid("some invoice lines are not valid", errors=errors)
    return lines


def line_amounts(line: InvoiceLine, currency: str) -> LineAmounts:
    """Net, tax and gross of one line, each rounded half-up to the currency's minor unit."""
    places = minor_units(currency)
    with localcontext(EXACT):
        net = round_half_up(line.quantity * line.unit_price * (1 - line.discount / HUNDRED), places)
        tax = round_half_up(net * line.tax_rate / HUNDRED, places)
        return LineAmounts(net=net, tax=tax, gross=net + tax)


def invoice_totals(lines: Sequence[InvoiceLine], currency: str) -> InvoiceTotals:
    """Each line's amounts and the invoice's totals, the sums of the lines'; Invalid
    for bad lines (see :func:`check_invoice_lines`) or a total beyond what money holds."""
    check_currency(currency)
    check_invoice_lines(lines)
    amounts = tuple(line_amounts(line, currency) for line in lines)
    start = round_money(ZERO, currency)
    net = sum((a.net for a in amounts), start)
    tax = sum((a.tax for a in amounts), start)
    gross = sum((a.gross for a in amounts), start)
    if gross > MAX_MONEY:
        raise Invalid(f"the invoice's total {gross} is above {MAX_MONEY}",
                      errors={"lines": f"total at most {MAX_MONEY}"})
    return InvoiceTotals(currency=currency, lines=amounts, net=net, tax=tax, gross=gross)


# Invoice states --------------------------------------------------------------

class InvoiceStatus(str, Enum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"           # settled: nothing open, by payments, credit notes or both
    VOID = "void"


INVOICE_TRANSITIONS = {
    InvoiceStatus.DRAFT: (InvoiceStatus.ISSUED, InvoiceStatus.VOID),
    InvoiceStatus.ISSUED: (InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID, InvoiceStatus.VOID),
    InvoiceStatus.PARTIALLY_PAID: (InvoiceStatus.PAID,),
}


def check_invoice_transition(current: InvoiceStatus, target: InvoiceStatus,
                             paid: Decimal = ZERO, credited: Decimal = ZERO) -> None:
    """Conflict, naming the moves allowed from ``current``, unless the table allows the
    move. Voiding also needs nothing paid and nothing credited: once money or a credit
    note has touched an invoice, it is settled with a credit note, not voided."""
    allowed = INVOICE_TRANSITIONS.get(current, ())
    names = [status.value for status in allowed]
    if target not in allowed:
        moves = f"it may become {' or '.join(names)}" if names else "it cannot change any more"
        raise Conflict(f"a {current.value} invoice cannot become {target.value}; {moves}",
                       extra={"allowed": names})
    if target is InvoiceStatus.VOID and (paid > 0 or credited > 0):
        raise Conflict(f"an invoice with {paid} paid and {credited} credited cannot be voided; "
                       "credit its open amount instead",
                       extra={"allowed": [name for name in names if name != InvoiceStatus.VOID.value]})


def open_amount(gross: Decimal, paid: Decimal = ZERO, credited: Decimal = ZERO) -> Decimal:
    """What is still owed on an invoice: gross - paid - credited, never below 0
    (money beyond what an invoice asked is the customer's credit, kept apart)."""
    return max(gross - paid - credited, ZERO)


def settlement_status(gross: Decimal, paid: Decimal, credited: Decimal) -> InvoiceStatus:
    """What an issued invoice is after its payments and credit notes: paid when nothing
    is open, partially paid when some money came in, else still issued. When it equals
    the current status there is no transition to check."""
    if open_amount(gross, paid, credited) == 0:
        return InvoiceStatus.PAID
    return InvoiceStatus.PARTIALLY_PAID if paid > 0 else InvoiceStatus.ISSUED


# Invoice numbers -------------------------------------------------------------

_SERIES = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
_INVOICE_NUMBER = re.compile(r"^([A-Z][A-Z0-9]{0,9})-(\d{4})-(\d{6}|[1-9]\d{6,9})$")


@dataclass(frozen=True, order=True)
class InvoiceNumber:
    series: str
    year: int
    seq: int

    def __str__(self) -> str:
        return format_invoice_number(self.series, self.year, self.seq)


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def format_invoice_number(series: str, year: int, seq: int) -> str:
    """``SERIES-YEAR-SEQ`` with the sequence padded to six digits: ``INV-2027-000123``.
    The series is 1 to 10 capitals and digits starting with a capital. Only the format:
    allocating the next sequence without gaps is the database's job."""
    errors = {}
    if not isinstance(series, str) or not _SERIES.match(series):
        errors["series"] = "1 to 10 capital letters and digits, starting with a letter"
    if not _whole(year, MIN_YEAR, MAX_YEAR):
        errors["year"] = f"a year from {MIN_YEAR} to {MAX_YEAR}"
    if not _whole(seq, 1, MAX_INT):
        errors["seq"] = f"a whole number from 1 to {MAX_INT}"
    if errors:
        raise Invalid("cannot make an invoice number of these", errors=errors)
    return f"{series}-{year}-{seq:06d}"


def parse_invoice_number(number: str) -> InvoiceNumber:
    """Series, year and sequence of a number made by :func:`format_invoice_number`;
    Invalid for anything else (including a sequence padded beyond six digits)."""
    match = _INVOICE_NUMBER.match(number) if isinstance(number, str) else None
    if match and _whole(int(match[2]), MIN_YEAR, MAX_YEAR) and _whole(int(match[3]), 1, MAX_INT):
        return InvoiceNumber(match[1], int(match[2]), int(match[3]))
    raise Invalid(f"{number!r} is not an invoice number", errors={"number": "like INV-2027-000123"})


# Open invoices and credit notes ----------------------------------------------

OPEN_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)   # what payments, dunning, aging count


@dataclass(frozen=True)
class OpenInvoice:
    """An issued invoice as payments, dunning and aging see it; one in another status
    (say, voided since it was read) is skipped by them, or refused when named."""
    invoice_id: str
    number: str
    currency: str
    issue_date: date
    due_date: date
    open_amount: Decimal
    status: InvoiceStatus = InvoiceStatus.ISSUED

    def days_overdue(self, as_of: date) -> int:
        """Days past the due date on ``as_of``; 0 on the due date and before it."""
        return max((as_of - self.due_date).days, 0)


def check_creditable(status: InvoiceStatus) -> None:
    """Conflict unless the invoice is issued or partially paid: a draft is edited, a void
    invoice is gone, a paid one has nothing open (the customer is refunded instead)."""
    if status not in OPEN_STATUSES:
        raise Conflict(f"a {status.value} invoice cannot be credited; only an issued or partially paid one")


def check_credit_note(amount: Decimal, open_amount: Decimal, currency: str) -> Decimal:
    """The amount of a credit note; Invalid unless it is a positive amount of the
    invoice's currency and at most the invoice's open amount, the limit it names."""
    check_amount(amount, currency)
    if amount > open_amount:
        raise Invalid(f"a credit note can be at most the invoice's open amount, {open_amount} {currency}",
                      errors={"amount": f"at most the open amount {open_amount}"},
                      extra={"limit": str(open_amount)})
    return Decimal(amount)
