"""The invoice PDF: a real PDF whose text (read back with pypdf) holds the number, every
line and the totals, accents and the euro sign included; a long invoice runs over
several pages, each with the lines' header and its page number."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from services.finance.documents import render_invoice_pdf
from services.finance.domain import invoice_totals, parse_invoice_lines
from shared.errors import Invalid

LINES = [
    {"description": "Wartungsvertrag Gerät Nr. 4711 – Jahrespauschale", "quantity": "1", "unit_price": "1200.00",
     "tax_rate": "19"},
    {"description": "Technikerstunden vor Ort, Zuschlag 15 € pro Einsatz", "quantity": "7.5", "unit_price": "89.90",
     "discount": "10", "tax_rate": "19"},
    {"description": "Łożysko kulkowe 6204-2RS, żółte", "quantity": "12", "unit_price": "4.125", "tax_rate": "7"},
]


def invoice(lines=LINES, **changes) -> dict:
    return {"number": "INV-2027-000123", "issue_date": "2027-03-01", "due_date": "2027-03-15",
            "seller": {"name": "Müller & Söhne GmbH", "address": "Hauptstraße 5\n80331 München",
                       "tax_id": "DE123456789"},
            "customer": {"name": "Café Zoë S.à r.l.", "address": ["12, rue de l'Église", "L-1458 Luxembourg"]},
            "currency": "EUR", "lines": lines, "payment_terms": "Zahlbar innerhalb von 14 Tagen ohne Abzug.",
            **changes}


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, whitespace collapsed (a long description wraps inside its cell)."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_invoice_is_a_pdf_with_its_number_lines_and_totals_unicode_included():
    pdf = render_invoice_pdf(invoice())
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    [text] = pages_text(pdf)
    totals = invoice_totals(parse_invoice_lines(LINES), "EUR")
    assert (totals.net, totals.tax, totals.gross) == (Decimal("1856.33"), Decimal("346.77"), Decimal("2203.10"))
    for expected in ("INV-2027-000123", "2027-03-01", "2027-03-15", "Müller & Söhne GmbH", "Café Zoë S.à r.l.",
                     "12, rue de l'Église", "Zahlbar innerhalb von 14 Tagen", "1,856.33 EUR", "346.77 EUR",
                     "2,203.10 EUR", "Page 1 of 1", *(flat(line["description"]) for line in LINES)):
        assert expected in text, expected
    # each line's amounts, by the domain's rules (the discounted hours: 7.5 x 89.90 - 10 % = 606.83)
    assert "7.5 89.90 10 19 606.83 115.30 722.13" in text
    assert "12 4.125 0 7 49.50 3.47 52.97" in text


def test_stored_amounts_are_printed_as_they_are():
    """An issued invoice's amounts are the record: printed, not computed again."""
    stored = [{**LINES[0], "net": "1200.00", "tax": "228.00", "gross": "1428.00"}]
    [text] = pages_text(render_invoice_pdf(invoice(stored, totals={"net": "1200.00", "tax": "228.00",
                                                                     "gross": "1428.00"})))
    assert "1,428.00 EUR" in text and "1 1,200.00 0 19 1,200.00 228.00 1,428.00" in text


def test_a_currency_without_minor_units_is_printed_without_them():
    [text] = pages_text(render_invoice_pdf(invoice([{"description": "Kaizen", "quantity": "3",
                                                     "unit_price": "1500", "tax_rate": "10"}], currency="JPY")))
    assert "4,950 JPY" in text and "4,500 JPY" in text


def test_a_long_invoice_runs_over_pages_each_with_the_header_and_its_number():
    lines = [{"description": f"Position {n}: Ersatzteil für Gerät Ä-{n}", "quantity": "2", "unit_price": "10.005",
              "tax_rate": "19"} for n in range(1, 201)]
    texts = pages_text(render_invoice_pdf(invoice(lines)))
    assert len(texts) > 2
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in text and "Invoice INV-2027-000123" in text
        assert "Description Qty Unit price" in text, f"page {number} has no header row"
    everything = " ".join(texts)
    assert all(f"Position {n}: Ersatzteil für Gerät Ä-{n}" in everything for n in range(1, 201))
    assert "Position 200:" in texts[-1] and "Total due" in texts[-1] and "Total due" not in texts[0]
    # tax is rounded per line (3.8019 -> 3.80), so the totals are 200 x 20.01 and 200 x 3.80
    assert "4,002.00 EUR" in texts[-1] and "760.00 EUR" in texts[-1] and "4,762.00 EUR" in texts[-1]


def test_lines_that_are_not_valid_are_refused_by_the_domains_rules():
    with pytest.raises(Invalid) as refused:
        render_invoice_pdf(invoice([{"description": "", "quantity": 1.5, "unit_price": "1"}]))
    assert set(refused.value.errors) >= {"lines.0.description", "lines.0.quantity"}


def test_an_issued_invoice_as_the_service_answers_it_renders_with_its_stored_amounts():
    from services.finance.documents import invoice_document
    answer = {"number": "INV-2027-000007", "issue_date": "2027-01-01", "due_date": "2027-01-31",
              "account_name": "Café Zoë", "account_id": "a1", "currency": "EUR",
              "lines": [{"position": 1, "description": "Instalment 1 of 12", "quantity": "1", "unit_price": "500",
                         "discount": "0", "tax_rate": "0", "net": "500.00", "tax": "0.00", "gross": "500.00"}],
              "net_total": "500.00", "tax_total": "0.00", "gross_total": "500.00"}
    text = " ".join(pages_text(render_invoice_pdf(invoice_document(answer, seller="Müller & Söhne GmbH"))))
    for expected in ("INV-2027-000007", "Café Zoë", "Müller & Söhne GmbH", "Instalment 1 of 12", "500.00",
                     "Please pay by 2027-01-31"):
        assert expected in text, expected
