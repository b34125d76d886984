"""The invoice as a PDF document, from a plain mapping (no database, no nameko).

Library: fpdf2. It is pure Python (no C extension to build, wheels for every
platform), actively released, small, and has what an invoice needs: tables
that wrap long descriptions, break across pages and repeat their header row,
page numbers ("page 2 of 5"), and TrueType fonts embedded as subsets. ReportLab
would do too, but is larger and its layout engine (Platypus) is more than a
one-page form needs.

Fonts: the PDF core fonts (Helvetica) know Latin-1 only; "€", "ł" or "ő" need a
Unicode font. DejaVu Sans Condensed is shipped beside this module (``fonts/``,
with its licence) rather than looked up on the machine, so every installation
renders the same; only the glyphs used are embedded (a page is ~20 KB).

Amounts: each line's net, tax and gross and the totals are printed as given
(an issued invoice's stored amounts are the record); those missing are
computed by the domain's rules (:func:`services.finance.domain.line_amounts`,
:func:`~services.finance.domain.invoice_totals`), never here.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping, Sequence

from fpdf import FPDF
from fpdf.fonts import FontFace

from services.finance.domain import (InvoiceLine, LineAmounts, invoice_totals, line_amounts,
                                     parse_invoice_lines)
from services.finance.money import check_currency, minor_units

FONTS = Path(__file__).with_name("fonts")
FAMILY = "DejaVuSansCondensed"
GREY = (90, 90, 90)
LIGHT = (235, 238, 242)

# Column: heading, width in mm, alignment. The widths add up to the 190 mm between the margins.
COLUMNS = (("#", 8, "RIGHT"), ("Description", 59, "LEFT"), ("Qty", 14, "RIGHT"), ("Unit price", 20, "RIGHT"),
           ("Disc. %", 14, "RIGHT"), ("Tax %", 11, "RIGHT"), ("Net", 20, "RIGHT"), ("Tax", 18, "RIGHT"),
           ("Gross", 24, "RIGHT"))


def invoice_document(invoice: Mapping[str, Any], seller: str) -> dict[str, Any]:
    """What :func:`render_invoice_pdf` prints, from an issued invoice as the service
    answers it (``InvoiceOut``): its stored amounts, the account as the customer."""
    return {
        "number": invoice["number"], "issue_date": invoice["issue_date"], "due_date": invoice["due_date"],
        "seller": seller, "customer": invoice["account_name"] or invoice["account_id"],
        "currency": invoice["currency"],
        "lines": [{name: line[name] for name in ("description", "quantity", "unit_price", "discount", "tax_rate",
                                                 "net", "tax", "gross")} for line in invoice["lines"]],
        "totals": {"net": invoice["net_total"], "tax": invoice["tax_total"], "gross": invoice["gross_total"]},
        "payment_terms": f"Please pay by {invoice['due_date']}, quoting {invoice['number']}.",
    }


def render_invoice_pdf(invoice: Mapping[str, Any]) -> bytes:
    """The invoice as PDF bytes (A4, as many pages as its lines need, the lines'
    header repeated on each page, "page N of M" and the number at the foot).

    ``invoice`` holds: ``number``; ``issue_date`` and ``due_date`` (dates or ISO
    strings); ``seller`` and ``customer``, each a name or a mapping with ``name``
    and optional ``address`` (text with line breaks, or a list of lines) and
    ``tax_id``; ``currency`` (ISO 4217); ``lines``, each with ``description``,
    ``quantity``, ``unit_price``, optional ``discount`` and ``tax_rate`` (percent)
    and optional ``net``, ``tax``, ``gross``; optional ``totals`` (``net``,
    ``tax``, ``gross``); optional ``payment_terms`` and ``notes`` (text).
    Numbers are ``Decimal`` or decimal strings, never floats. Invalid (from the
    domain's rules) for lines or a currency that are not valid."""
    currency = check_currency(invoice["currency"])
    raw_lines = list(invoice["lines"])
    lines = parse_invoice_lines(raw_lines)
    amounts = [_given_amounts(raw) or line_amounts(line, currency) for raw, line in zip(raw_lines, lines)]
    totals = invoice.get("totals")
    if totals:
        net, tax, gross = (_decimal(totals[name]) for name in ("net", "tax", "gross"))
    else:
        computed = invoice_totals(lines, currency)
        net, tax, gross = computed.net, computed.tax, computed.gross

    pdf = _InvoicePdf(str(invoice["number"]))
    pdf.set_title(f"Invoice {invoice['number']}")
    pdf.set_author(_party(invoice["seller"])[0])
    pdf.set_creation_date(datetime.combine(_date(invoice["issue_date"]), datetime.min.time()))
    pdf.add_page()
    money = _Money(currency)
    _heading(pdf, invoice)
    _parties(pdf, invoice)
    _line_table(pdf, lines, amounts, money)
    rates = _by_rate(lines, amounts)
    _keep_together(pdf, 8 + 5.5 * len(rates))
    top = pdf.get_y()
    _tax_summary(pdf, rates, money)
    below_summary = pdf.get_y()
    pdf.set_y(top)
    _totals(pdf, net, tax, gross, money)
    pdf.set_y(max(below_summary, pdf.get_y()) + 6)
    _terms(pdf, invoice)
    return bytes(pdf.output())


class _InvoicePdf(FPDF):
    def __init__(self, number: str):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.number = number
        self.set_margins(10, 12, 10)
        self.set_auto_page_break(auto=True, margin=18)
        self.add_font(FAMILY, "", FONTS / "DejaVuSansCondensed.ttf")
        self.add_font(FAMILY, "B", FONTS / "DejaVuSansCondensed-Bold.ttf")
        self.set_font(FAMILY, size=9)

    def footer(self):
        self.set_y(-12)
        self.set_font(FAMILY, size=8)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"Invoice {self.number}", align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)


def _heading(pdf: FPDF, invoice: Mapping) -> None:
    seller_name, seller_lines = _party(invoice["seller"])
    top = pdf.get_y()
    pdf.set_font(FAMILY, "B", 14)
    pdf.multi_cell(110, 7, seller_name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    pdf.set_text_color(*GREY)
    for text in seller_lines:
        pdf.multi_cell(110, 4.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    left_bottom = pdf.get_y()

    pdf.set_xy(130, top)
    pdf.set_font(FAMILY, "B", 18)
    pdf.cell(70, 9, "INVOICE", align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    for label, value in (("Number", str(invoice["number"])), ("Issue date", _date(invoice["issue_date"]).isoformat()),
                         ("Due date", _date(invoice["due_date"]).isoformat())):
        pdf.set_x(130)
        pdf.set_text_color(*GREY)
        pdf.cell(30, 5, label, align="R")
        pdf.set_text_color(0)
        pdf.set_font(FAMILY, "B", 9)
        pdf.cell(40, 5, value, align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, size=9)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 6)


def _parties(pdf: FPDF, invoice: Mapping) -> None:
    name, details = _party(invoice["customer"])
    pdf.set_font(FAMILY, size=8)
    pdf.set_text_color(*GREY)
    pdf.cell(0, 4.5, "BILL TO", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_font(FAMILY, "B", 10)
    pdf.multi_cell(110, 5.5, name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    for text in details:
        pdf.multi_cell(110, 4.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)


def _line_table(pdf: FPDF, lines: Sequence[InvoiceLine], amounts: Sequence[LineAmounts], money: "_Money") -> None:
    pdf.set_font(FAMILY, size=8.5)
    headings = FontFace(emphasis="BOLD", fill_color=LIGHT)
    with pdf.table(col_widths=[width for _, width, _ in COLUMNS], width=190, line_height=4.6,
                   text_align=tuple(align for _, _, align in COLUMNS), headings_style=headings,
                   borders_layout="HORIZONTAL_LINES", padding=(1.2, 1), repeat_headings=1,
                   v_align="TOP") as table:
        heading = table.row()
        for title, _, _ in COLUMNS:
            heading.cell(title)
        for number, (line, amount) in enumerate(zip(lines, amounts), start=1):
            row = table.row()
            for text in (str(number), line.description.strip(), _plain(line.quantity), money(line.unit_price, 6),
                         _plain(line.discount), _plain(line.tax_rate), money(amount.net), money(amount.tax),
                         money(amount.gross)):
                row.cell(text)
    pdf.ln(4)


def _by_rate(lines: Sequence[InvoiceLine], amounts: Sequence[LineAmounts]) -> dict[Decimal, list[Decimal]]:
    """Net, tax and gross per tax rate: sums of the lines' amounts, nothing rounded again."""
    by_rate: dict[Decimal, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for line, amount in zip(lines, amounts):
        sums = by_rate[line.tax_rate]
        sums[0] += amount.net
        sums[1] += amount.tax
        sums[2] += amount.gross
    return dict(sorted(by_rate.items()))


def _tax_summary(pdf: FPDF, by_rate: Mapping[Decimal, list[Decimal]], money: "_Money") -> None:
    pdf.set_font(FAMILY, size=8.5)
    with pdf.table(col_widths=(20, 25, 25, 25), width=95, align="LEFT", line_height=4.6,
                   text_align=("RIGHT", "RIGHT", "RIGHT", "RIGHT"), borders_layout="HORIZONTAL_LINES",
                   headings_style=FontFace(emphasis="BOLD", fill_color=LIGHT), padding=(1, 1)) as table:
        heading = table.row()
        for title in ("Tax rate", "Net", "Tax", "Gross"):
            heading.cell(title)
        for rate, sums in by_rate.items():
            row = table.row()
            row.cell(f"{_plain(rate)} %")
            for value in sums:
                row.cell(money(value))


def _totals(pdf: FPDF, net: Decimal, tax: Decimal, gross: Decimal, money: "_Money") -> None:
    for label, value, bold in (("Total net", net, False), ("Total tax", tax, False),
                               (f"Total due ({money.currency})", gross, True)):
        pdf.set_x(115)
        pdf.set_font(FAMILY, "B" if bold else "", 11 if bold else 9)
        if bold:
            pdf.set_fill_color(*LIGHT)
        pdf.cell(45, 7 if bold else 5.5, label, align="L", fill=bold)
        pdf.cell(40, 7 if bold else 5.5, f"{money(value)} {money.currency}", align="R", fill=bold,
                 new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)


def _terms(pdf: FPDF, invoice: Mapping) -> None:
    for title, key in (("Payment terms", "payment_terms"), ("Notes", "notes")):
        text = invoice.get(key)
        if text:
            _keep_together(pdf, 15)
            pdf.set_font(FAMILY, "B", 9)
            pdf.cell(0, 5, title, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(FAMILY, size=9)
            pdf.multi_cell(0, 4.5, str(text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)


def _keep_together(pdf: FPDF, height: float) -> None:
    if pdf.get_y() + height > pdf.h - pdf.b_margin:
        pdf.add_page()


class _Money:
    """Amounts as ``1,234.50``: the currency's minor units, thousands grouped."""

    def __init__(self, currency: str):
        self.currency = currency
        self.places = minor_units(currency)

    def __call__(self, amount: Decimal, at_most: int | None = None) -> str:
        if at_most is None:
            return f"{amount:,.{self.places}f}"
        # A unit price may carry more places than the currency (0.125 per item): show them, no fewer.
        places = max(self.places, min(at_most, -amount.normalize().as_tuple().exponent))
        return f"{amount:,.{places}f}"


def _plain(number: Decimal) -> str:
    """``2``, ``2.5``, ``19``: no trailing zeros, no exponent."""
    return f"{number.normalize():f}"


def _given_amounts(raw: Mapping) -> LineAmounts | None:
    if all(raw.get(name) is not None for name in ("net", "tax", "gross")):
        return LineAmounts(*(_decimal(raw[name]) for name in ("net", "tax", "gross")))
    return None


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        raise TypeError("amounts are Decimal or decimal strings, not floats")
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _party(party: Any) -> tuple[str, list[str]]:
    """A party's name and the lines under it (address, tax id)."""
    if isinstance(party, str):
        return party, []
    address = party.get("address") or []
    lines = address.splitlines() if isinstance(address, str) else [str(item) for item in address]
    if party.get("tax_id"):
        lines.append(f"Tax ID: {party['tax_id']}")
    return str(party["name"]), [line for line in lines if line.strip()]
