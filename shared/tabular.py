"""Spreadsheet files in and out, as streams: a 100,000-row file is never held whole.

CSV through the standard library, XLSX through openpyxl's read-only and
write-only modes.
"""
from __future__ import annotations

import csv
import io
import re
import tempfile
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import IO, Iterable, Iterator, Mapping, Sequence

from openpyxl import Workbook, load_workbook

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx"}
_HEADER_CLEAN = re.compile(r"[\s\-]+")


class TabularError(Exception):
    """The file cannot be read as a table; the message says why."""


def detect_format(filename: str, content_type: str | None = None) -> str:
    name = (filename or "").lower()
    for suffix, fmt in FORMATS.items():
        if name.endswith(suffix):
            return fmt
    if content_type and "spreadsheetml" in content_type:
        return "xlsx"
    if content_type and content_type.startswith("text/csv"):
        return "csv"
    raise TabularError(f"{filename!r} is neither a .csv nor an .xlsx file")


def _field_name(header: str) -> str:
    return _HEADER_CLEAN.sub("_", header.strip().lower())


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _fields(header: list, mapping: dict[str, str] | None) -> list[str | None]:
    names = [(_cell(h) or "") for h in header]
    if not any(names):
        raise TabularError("the first row must name the columns; it is empty")
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    if dupes:
        raise TabularError(f"columns named more than once: {', '.join(dupes)}")
    if mapping is None:
        return [_field_name(n) or None for n in names]
    missing = sorted(set(mapping) - set(names))
    if missing:
        raise TabularError(f"the mapping names columns the file does not have: {', '.join(missing)}; "
                           f"the file has: {', '.join(n for n in names if n)}")
    return [mapping.get(n) for n in names]


def _records(rows: Iterator[list], mapping: dict[str, str] | None) -> Iterator[tuple[int, dict]]:
    try:
        header = next(rows)
    except StopIteration:
        raise TabularError("the file is empty") from None
    fields = _fields(list(header), mapping)
    for number, row in enumerate(rows, start=2):
        values = [_cell(v) for v in row]
        if not any(values):
            continue
        yield number, {f: (values[i] if i < len(values) else None)
                       for i, f in enumerate(fields) if f}


def _csv_rows(stream: IO[bytes], encoding: str) -> Iterator[list]:
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        sample = text.read(4096)
    except UnicodeDecodeError:
        raise TabularError(f"the file is not valid {encoding} text; save it as UTF-8 CSV") from None
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(_chain_text(sample, text), dialect)
    try:
        yield from reader
    except UnicodeDecodeError:
        raise TabularError(f"the file is not valid {encoding} text; save it as UTF-8 CSV") from None


def _chain_text(first: str, rest: IO[str]) -> Iterator[str]:
    buffer = io.StringIO(first + rest.readline())
    yield from buffer
    yield from rest


def _xlsx_rows(stream: IO[bytes]) -> Iterator[list]:
    if not (hasattr(stream, "seekable") and stream.seekable()):
        spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        while chunk := stream.read(1024 * 1024):
            spooled.write(chunk)
        spooled.seek(0)
        stream = spooled
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a broken file
        raise TabularError(f"the file is not a readable .xlsx workbook ({exc})") from None
    try:
        yield from (list(row) for row in workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()


def iter_rows(stream: IO[bytes], fmt: str, mapping: dict[str, str] | None = None,
              encoding: str = "utf-8-sig") -> Iterator[tuple[int, dict]]:
    """Yield ``(row_number, record)``; row 1 is the header, blank rows are skipped
    but counted. With ``mapping`` (file column -> field) other columns are ignored."""
    rows = _csv_rows(stream, encoding) if fmt == "csv" else _xlsx_rows(stream)
    return _records(rows, mapping)


def chunked(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def write_csv(rows: Iterable[Mapping], columns: Sequence[str]) -> Iterator[bytes]:
    """UTF-8 CSV in pieces, header first, for a streaming response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for count, row in enumerate(rows, start=1):
        writer.writerow([_text(row.get(c)) for c in columns])
        if count % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def write_xlsx(rows: Iterable[Mapping], columns: Sequence[str], fileobj: IO[bytes], title: str = "Leads") -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_text(row.get(c)) if isinstance(row.get(c), (list, tuple, Decimal)) else row.get(c)
                      for c in columns])
    workbook.save(fileobj)
