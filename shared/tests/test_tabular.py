import io
import tracemalloc
from datetime import date
from decimal import Decimal

import pytest

from shared.tabular import TabularError, chunked, detect_format, iter_rows, write_csv, write_xlsx


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
