import io
import json
import tracemalloc
from datetime import date
from decimal import Decimal

import pytest

from services.leads.tabular import TabularError, chunked, detect_format, iter_rows, write_csv, write_xlsx


def rows_of(data: bytes, fmt="csv", mapping=None):
    return list(iter_rows(io.BytesIO(data), fmt, mapping))


def test_csv_with_bom_semicolons_and_blank_rows_keeps_spreadsheet_row_numbers():
    data = "\ufeffCompany;E-mail;Phone\nAcme;a@acme.com;123456\n;;\nGlobex;;\n".encode("utf-8")
    assert rows_of(data) == [(2, {"company": "Acme", "e_mail": "a@acme.com", "phone": "123456"}),
                             (4, {"company": "Globex", "e_mail": None, "phone": None})]


def test_mapping_renames_and_drops_columns_and_names_missing_ones():
    data = b"Firma,Mail,Ignored\nAcme,a@acme.com,x\n"
    assert rows_of(data, mapping={"Firma": "company", "Mail": "email"}) == [
        (2, {"company": "Acme", "email": "a@acme.com"})]
    with pytest.raises(TabularError, match="Telefon"):
        rows_of(data, mapping={"Telefon": "phone"})


def test_unreadable_input_is_a_tabular_error():
    with pytest.raises(TabularError, match="UTF-8"):
        rows_of("company\nZażółć\n".encode("cp1250"))
    with pytest.raises(TabularError, match="more than once"):
        rows_of(b"a,a\n1,2\n")
    with pytest.raises(TabularError):
        detect_format("leads.pdf")
    assert detect_format("LEADS.XLSX") == "xlsx"


def test_xlsx_round_trip_formats_numbers_and_dates():
    out = io.BytesIO()
    write_xlsx([{"company": "Acme", "employees": 12, "since": date(2020, 1, 31),
                 "value": Decimal("10.50"), "tags": ["a", "b"]}],
               ["company", "employees", "since", "value", "tags"], out)
    out.seek(0)
    [(number, record)] = rows_of(out.getvalue(), "xlsx")
    assert number == 2
    assert record["employees"] == "12" and record["since"].startswith("2020-01-31")
    assert record["value"] == "10.50" and record["tags"] == "a;b"


def test_write_csv_parses_back():
    body = b"".join(write_csv([{"company": "A, Inc.", "tags": ["x", "y"]}] * 1200, ["company", "tags"]))
    parsed = rows_of(body)
    assert len(parsed) == 1200 and parsed[0][1] == {"company": "A, Inc.", "tags": "x;y"}


def test_reading_a_large_csv_keeps_memory_bounded(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("company,email,notes\n")
        for i in range(50_000):
            f.write(f"Company {i},user{i}@example.com,{'n' * 100}\n")
    tracemalloc.start()
    with path.open("rb") as stream:
        count = sum(len(chunk) for chunk in chunked(iter_rows(stream, "csv"), 1000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 50_000
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# Hostile files: refused (or their bad rows rejected) while reading, in a few MB.

from services.leads import xlsx  # noqa: E402
from services.leads.tabular import Limits, chunked_by_size  # noqa: E402
from services.leads.tests import hostile_files as hostile  # noqa: E402

FEW_MB = 4 * 1024 * 1024


def read_measured(stream, fmt, limits=Limits()):
    """(rows or the TabularError, peak bytes Python allocated while reading)."""
    tracemalloc.start()
    try:
        result = list(iter_rows(stream, fmt, limits=limits))
    except TabularError as exc:
        result = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("maker, reason", [
    (hostile.xlsx_sheet_bomb, "unpacks to 1,07"),
    (hostile.xlsx_lying_sizes, "not a readable .xlsx"),  # checked against what is really unpacked
    (lambda: hostile.xlsx_huge_inline_cell(3 * hostile.MB), "expands 9"),
    (hostile.xlsx_huge_shared_string, "unpacks to"),
    (hostile.xlsx_huge_dimension, "declares its size as A1:XFD20000"),
    (hostile.xlsx_far_cell, "column 16,384"),
    (hostile.xlsx_huge_row_index, "row 1,048,576"),
    (lambda: hostile.workbook(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet/>'), "DTD"),
])
def test_a_hostile_workbook_is_refused_while_read_in_a_few_mb(maker, reason):
    data = maker()
    result, peak = read_measured(io.BytesIO(data), "xlsx")
    assert isinstance(result, TabularError), result[:3]
    assert reason in str(result)
    assert peak < FEW_MB, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("maker", [hostile.xlsx_huge_inline_cell, hostile.xlsx_huge_shared_string])
def test_past_the_zip_checks_a_huge_cell_is_still_read_in_a_few_mb_and_rejects_its_row(maker, monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_RATIO", 10**9)  # the reading itself must hold without the directory checks
    data = maker(64 * hostile.MB)
    rows, peak = read_measured(io.BytesIO(data), "xlsx", Limits(max_unpacked_bytes=100 * hostile.MB))
    assert peak < FEW_MB, f"peak {peak / 1e6:.1f} MB"
    [long_row] = [row for row in rows if len(row) == 3]
    assert long_row[2] == {"company": "longer than 32,767 characters (67,108,864)"}
    assert "company" not in long_row[1]


def test_a_csv_field_over_the_cell_limit_rejects_only_its_row():
    rows, peak = read_measured(io.BytesIO(hostile.csv_with_long_field(200 * 1024, rows=5, long_row=3)), "csv")
    assert [row[0] for row in rows] == [2, 3, 4, 5, 6]
    assert rows[1] == (3, {"email": "row3-@x.com"}, {"company": "longer than 32,767 characters (204,800)"})
    assert rows[2][1]["company"] == "Company 4"
    assert peak < FEW_MB, f"peak {peak / 1e6:.1f} MB"


def test_a_csv_without_line_breaks_is_refused_without_being_held():
    result, peak = read_measured(hostile.csv_without_line_breaks(500 * hostile.MB), "csv")
    assert isinstance(result, TabularError) and "longer than 262,144 characters" in str(result)
    assert peak < FEW_MB, f"peak {peak / 1e6:.1f} MB"


def test_a_csv_that_stops_being_utf8_half_way_is_refused():
    result, _ = read_measured(io.BytesIO(hostile.csv_broken_midway(2500)), "csv")
    assert isinstance(result, TabularError) and "not valid utf-8-sig text beyond row" in str(result)


def test_csv_rows_and_columns_beyond_the_limits_are_refused():
    five_rows = b"company\n" + b"".join(b"Company %d\n" % n for n in range(5))
    assert len(rows_of(five_rows)) == 5
    with pytest.raises(TabularError, match="more than 4 rows"):
        list(iter_rows(io.BytesIO(five_rows), "csv", limits=Limits(max_rows=4)))
    wide = ",".join(f"c{n}" for n in range(201)).encode() + b"\n" + b"x\n"
    with pytest.raises(TabularError, match="201 columns; at most 200"):
        rows_of(wide)


def test_chunks_are_bounded_by_rows_and_by_bytes():
    rows = [(n, {"company": "x" * 1000}) for n in range(2, 102)]
    assert [len(c) for c in chunked_by_size(rows, 30, 10**9)] == [30, 30, 30, 10]
    by_bytes = list(chunked_by_size(rows, 1000, 10_000))
    assert all(len(json.dumps(c)) <= 10_000 for c in by_bytes) and sum(map(len, by_bytes)) == 100
    assert [len(c) for c in chunked_by_size([(2, {"notes": "y" * 50_000})], 1000, 10_000)] == [1]


# Quoting, formulas and types (a new user's first export).

def test_a_doubled_quote_after_a_first_4kb_without_quotes_keeps_its_columns():
    """The Sniffer, seeing no quoted field in its sample, turned doublequote off."""
    head = "company,email,phone\n" + "".join(f"Firma {i},f{i}@example.com,123\n" for i in range(300))
    data = (head + '"Acme ""Best"" Sp. z o.o.",jan@acme.example,456\n').encode()
    assert len(head) > 4096
    rows = rows_of(data)
    assert rows[-1] == (302, {"company": 'Acme "Best" Sp. z o.o.', "email": "jan@acme.example",
                              "phone": "456"})


def test_a_semicolon_file_is_still_sniffed():
    assert rows_of(b'company;email\n"A ""x"" b";a@b.example\n') == [
        (2, {"company": 'A "x" b', "email": "a@b.example"})]


HOSTILE = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def test_csv_neutralises_formulas_but_not_numbers_or_phones():
    import csv as stdcsv
    rows = [{"company": h, "phone": "+48 22 555 01 02", "value": "-5.00"} for h in HOSTILE]
    body = b"".join(write_csv(rows, ["company", "phone", "value"])).decode()
    parsed = list(stdcsv.reader(io.StringIO(body)))[1:]
    assert [r[0] for r in parsed] == ["'" + h for h in HOSTILE]
    assert all(r[1:] == ["+48 22 555 01 02", "-5.00"] for r in parsed)


def test_csv_with_a_bom_for_excel():
    body = b"".join(write_csv([{"company": "Zażółć 北京"}], ["company"], bom=True))
    assert body.startswith(b"\xef\xbb\xbf") and "Zażółć 北京" in body.decode("utf-8-sig")
    assert not b"".join(write_csv([], ["company"])).startswith(b"\xef\xbb\xbf")


def test_xlsx_writes_text_never_formulas_and_typed_numbers_and_dates():
    from datetime import datetime

    from openpyxl import load_workbook

    from services.leads.tabular import XLSX_DATETIME, XLSX_DECIMAL
    out = io.BytesIO()
    rows = [{"company": h, "value": "12000.50", "at": "2026-03-01T10:30:00+01:00"} for h in HOSTILE]
    write_xlsx(rows, ["company", "value", "at"], out, types={"value": XLSX_DECIMAL, "at": XLSX_DATETIME})
    out.seek(0)
    sheet = load_workbook(out).active
    cells = list(sheet.iter_rows(min_row=2))
    assert [row[0].value for row in cells][:5] == HOSTILE[:5]  # (XML reads a lone CR back as LF)
    for company, value, at in cells:
        assert company.data_type == "s"
        assert value.data_type == "n" and value.value == 12000.5
        assert at.is_date and at.value == datetime(2026, 3, 1, 9, 30)  # UTC
