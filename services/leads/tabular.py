"""Spreadsheet files in and out, as streams: a 100,000-row file is never held whole.

CSV through the standard library; XLSX read by :mod:`services.leads.xlsx` (a reader
that refuses zip bombs while unpacking) and written by openpyxl's write-only
mode. Reading stays within :class:`Limits`, checked while the file is read: a
file beyond them raises :class:`TabularError`, a cell beyond them makes only
its row rejected.
"""
from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from itertools import chain, islice
from typing import IO, Iterable, Iterator, Mapping, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx"}
_HEADER_CLEAN = re.compile(r"[\s\-]+")


class TabularError(Exception):
    """The file cannot be read as a table; the message says why."""


@dataclass(frozen=True)
class Limits:
    """How much of one file is read. ``max_rows`` counts rows besides the header;
    ``max_unpacked_bytes`` is what an .xlsx may unpack to; ``max_row_chars`` bounds
    one CSV record (so a file without line breaks is never held whole) and one
    sheet row."""

    max_rows: int = 200_000
    max_columns: int = 200
    max_cell_chars: int = 32_767  # Excel's own limit
    max_unpacked_bytes: int = 200 * 1024 * 1024
    max_row_chars: int = 256 * 1024


class TooLong:
    """A cell longer than the limit; only its length is kept."""

    __slots__ = ("chars",)

    def __init__(self, chars: int):
        self.chars = chars

    def __repr__(self) -> str:
        return f"TooLong({self.chars})"


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


def _cell(value) -> str | TooLong | None:
    if value is None or isinstance(value, TooLong):
        return value
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


def _records(rows: Iterator[tuple[int, list]], mapping: dict[str, str] | None,
             limits: Limits) -> Iterator[tuple]:
    try:
        number, header = next(rows)
    except StopIteration:
        raise TabularError("the file is empty") from None
    _check_width(number, header, limits)
    if any(isinstance(h, TooLong) for h in header):
        raise TabularError(f"a column name is longer than {limits.max_cell_chars:,} characters")
    fields = _fields(list(header), mapping)
    for number, row in rows:
        if number > limits.max_rows + 1:
            raise TabularError(f"the file has more than {limits.max_rows:,} rows besides the header; "
                               "split it")
        _check_width(number, row, limits)
        values = [_cell(v) for v in row]
        if not any(values):
            continue
        record, problems = {}, {}
        for i, field in enumerate(fields):
            value = values[i] if i < len(values) else None
            if field and isinstance(value, TooLong):
                problems[field] = f"longer than {limits.max_cell_chars:,} characters ({value.chars:,})"
            elif field:
                record[field] = value
        yield (number, record, problems) if problems else (number, record)


def _check_width(number: int, row: list, limits: Limits) -> None:
    if len(row) > limits.max_columns:
        raise TabularError(f"row {number} has {len(row):,} columns; at most {limits.max_columns} are read")


def _csv_rows(stream: IO[bytes], encoding: str, limits: Limits) -> Iterator[tuple[int, list]]:
    # The csv module's own cap (128 KiB by default) raises mid-file; ours is
    # checked on the lines it is fed, so it must never be the lower one.
    if csv.field_size_limit() < limits.max_row_chars:
        csv.field_size_limit(limits.max_row_chars)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    number = 0
    try:
        lines = _BoundedLines(text, limits.max_row_chars)
        dialect = _dialect(lines.sample)
        for number, row in enumerate(csv.reader(lines, dialect), start=1):
            lines.record_chars = 0
            yield number, [v if len(v) <= limits.max_cell_chars else TooLong(len(v)) for v in row]
    except UnicodeDecodeError:
        where = f" beyond row {number}" if number else ""
        raise TabularError(f"the file is not valid {encoding} text{where}; save it as UTF-8 CSV") from None
    except csv.Error as exc:
        raise TabularError(f"row {number + 1} cannot be read as CSV ({exc})") from None


def _dialect(sample: str) -> type[csv.Dialect]:
    """Excel's CSV with the delimiter the sample shows. Only the delimiter is
    sniffed: the Sniffer also guesses quoting, and on a sample without a quoted
    field it turns ``doublequote`` off, so a ``""`` further down would shift the
    columns of its row."""
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return csv.excel

    class Sniffed(csv.excel):
        pass

    Sniffed.delimiter = delimiter
    return Sniffed


class _BoundedLines:
    """The lines of a text file for the csv reader; a line, or a record spread
    over lines, longer than ``limit`` characters is refused before it is held."""

    def __init__(self, text: IO[str], limit: int):
        self.text, self.limit, self.record_chars = text, limit, 0
        self.sample = text.read(4096)

    def __iter__(self) -> Iterator[str]:
        # The sample may end inside a line: finish that line before reading on.
        head = io.StringIO(self.sample + self.text.readline(self.limit + 1))
        rest = iter(lambda: self.text.readline(self.limit + 1), "")
        for line in chain(head, rest):
            self.record_chars += len(line)
            if self.record_chars > self.limit:
                raise TabularError(f"a row is longer than {self.limit:,} characters (a line without "
                                   "line breaks, or a quote left open)")
            yield line


def _xlsx_rows(stream: IO[bytes], limits: Limits) -> Iterator[tuple[int, list]]:
    from services.leads.xlsx import sheet_rows  # it imports this module

    if not (hasattr(stream, "seekable") and stream.seekable()):
        spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        while chunk := stream.read(1024 * 1024):
            spooled.write(chunk)
        spooled.seek(0)
        stream = spooled
    return sheet_rows(stream, limits)


def iter_rows(stream: IO[bytes], fmt: str, mapping: dict[str, str] | None = None,
              encoding: str = "utf-8-sig", limits: Limits = Limits()) -> Iterator[tuple]:
    """Yield ``(row_number, record)``; row 1 is the header, blank rows are skipped
    but counted. With ``mapping`` (file column -> field) other columns are ignored.

    A row with a cell longer than ``limits.max_cell_chars`` comes as
    ``(row_number, record, problems)``: the record without those cells and
    ``problems`` mapping each such field to the reason. Anything else beyond the
    limits, or a file that cannot be read, raises :class:`TabularError` when
    the reading reaches it."""
    rows = _csv_rows(stream, encoding, limits) if fmt == "csv" else _xlsx_rows(stream, limits)
    return _records(rows, mapping, limits)


def chunked(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def chunked_by_size(rows: Iterable, max_rows: int, max_bytes: int) -> Iterator[list]:
    """Lists of at most ``max_rows`` rows and at most ``max_bytes`` as JSON; a
    row that is larger on its own travels alone."""
    chunk: list = []
    size = 0
    for row in rows:
        row_size = len(json.dumps(row, default=str)) + 1
        if chunk and (len(chunk) >= max_rows or size + row_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += row_size
    if chunk:
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


# A spreadsheet reads a cell starting with one of these as a formula (CSV
# injection, OWASP): such a cell goes into a CSV behind a single quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# ...unless it is a plain number or a phone number: digits and + - ( ) . , / and
# spaces call no function and reach no other program ("+48 22 555 01 02", "-5.00").
_LITERAL = re.compile(r"[+-][0-9 ().,/+-]*")


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: a single quote
    before a would-be formula (see :data:`_FORMULA_START`)."""
    if text.startswith(_FORMULA_START) and not _LITERAL.fullmatch(text):
        return "'" + text
    return text


def write_csv(rows: Iterable[Mapping], columns: Sequence[str], bom: bool = False) -> Iterator[bytes]:
    """UTF-8 CSV in pieces, header first, for a streaming response; with ``bom``
    it starts with a byte order mark, by which Excel knows the text is UTF-8.
    A cell that a spreadsheet would run as a formula is neutralised."""
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([neutralise(c) for c in columns])
    for count, row in enumerate(rows, start=1):
        writer.writerow([neutralise(_text(row.get(c))) for c in columns])
        if count % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


XLSX_DECIMAL, XLSX_DATETIME = "decimal", "datetime"
_XLSX_FORMATS = {XLSX_DECIMAL: "#,##0.00", XLSX_DATETIME: "yyyy-mm-dd hh:mm:ss"}


def _xlsx_value(value, kind: str | None):
    """The typed value of one XLSX cell: a number for a decimal column, a date
    (UTC, as Excel knows no offsets) for a datetime column, text otherwise."""
    if value is None or value == "":
        return None
    try:
        if kind == XLSX_DECIMAL:
            return value if isinstance(value, Decimal) else Decimal(str(value))
        if kind == XLSX_DATETIME:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            if moment.tzinfo is not None:
                moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
            return moment
    except (ArithmeticError, ValueError, TypeError):
        pass
    if isinstance(value, (bool, int, float, date)) and not isinstance(value, datetime):
        return value
    return _text(value)  # an untyped Decimal keeps its digits as text


def write_xlsx(rows: Iterable[Mapping], columns: Sequence[str], fileobj: IO[bytes], title: str = "Leads",
               types: Mapping[str, str] | None = None) -> None:
    """An XLSX workbook of one sheet, header first. ``types`` maps a column to
    :data:`XLSX_DECIMAL` (written as a number) or :data:`XLSX_DATETIME` (a real
    date, in UTC); every other value is written as text, never as a formula,
    whatever it starts with."""
    types = types or {}
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)

    def cell(value, kind=None):
        made = WriteOnlyCell(sheet, value=value)
        if made.data_type == "f":  # openpyxl takes a str starting with "=" for a formula
            made.data_type = "s"
        if kind in _XLSX_FORMATS and value is not None:
            made.number_format = _XLSX_FORMATS[kind]
        return made

    sheet.append([cell(c) for c in columns])
    for row in rows:
        sheet.append([cell(_xlsx_value(row.get(c), types.get(c)), types.get(c)) for c in columns])
    workbook.save(fileobj)
