"""The first worksheet of an .xlsx workbook, read as a stream within limits.

An .xlsx file is a zip of XML parts, and a hostile one expands 1.5 MB into a
gigabyte, declares a sheet of 16,384 columns by a million rows, or holds one
cell of 200 MB. So the file is not handed to a library that trusts it: the
zip's directory is checked before any part is opened (part count, sizes,
compression ratios), every byte decompressed is counted against one budget,
and the XML is parsed by expat handlers that refuse a row or column beyond the
limits as soon as it is seen and stop keeping a cell's text once it is too
long. No XML tree is built: memory holds one row, the shared strings and a
parser buffer. openpyxl is used only for its number-format and date helpers.
"""
from __future__ import annotations

import posixpath
import struct
import zipfile
import zlib
from functools import lru_cache
from typing import IO, Iterator
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import column_index_from_string, range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, from_excel

from services.leads.tabular import Limits, TabularError, TooLong

# Apache POI's defaults for the same attack: a part bigger than the grace size
# may not expand more than 100 times (real sheets expand 5 to 30 times).
MAX_RATIO = 100
RATIO_GRACE_BYTES = 1 << 20
MAX_PARTS = 1000
MAX_STRUCTURE_BYTES = 16 << 20   # workbook, relationships and styles parts
MAX_UNPARSED_BYTES = 4 << 20     # one tag (its attributes), comment or declaration
READ_BYTES = 64 << 10

_REL_ID = "http://schemas.openxmlformats.org/officeDocument/2006/relationships id"
_EOCD = b"PK\x05\x06"


def sheet_rows(stream: IO[bytes], limits: Limits) -> Iterator[tuple[int, list]]:
    """Yield ``(row_number, values)`` of the first worksheet's non-empty rows,
    numbered as in the sheet; ``values[0]`` is column A. A cell longer than
    ``limits.max_cell_chars`` is a :class:`TooLong`. Anything beyond the other
    limits raises :class:`TabularError` as soon as it is read."""
    try:
        yield from _sheet_rows(stream, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise TabularError(f"the file is not a readable .xlsx workbook ({exc})") from None
    except expat.ExpatError as exc:
        raise TabularError(f"the workbook holds broken XML ({expat.errors.messages[exc.code]}, "
                           f"line {exc.lineno})") from None


def _sheet_rows(stream: IO[bytes], limits: Limits) -> Iterator[tuple[int, list]]:
    _check_directory_size(stream)
    with zipfile.ZipFile(stream) as archive:
        _check_parts(archive, limits)
        budget = _Budget(limits.max_unpacked_bytes)
        workbook = _Workbook(archive, budget)
        sheet = _Sheet(workbook.strings(limits), workbook.styles(), workbook.epoch, limits)
        for _ in _parse(archive, workbook.sheet_path, budget, sheet):
            yield from sheet.rows
            sheet.rows.clear()


def _check_directory_size(stream: IO[bytes]) -> None:
    # zipfile reads the whole central directory into objects before anything
    # can be checked; count its entries from the end record first.
    end = stream.seek(0, 2)
    tail_at = max(0, end - 22 - 0xFFFF)
    stream.seek(tail_at)
    tail = stream.read(end - tail_at)
    stream.seek(0)
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        raise TabularError("the file is not a readable .xlsx workbook (no zip directory)")
    (entries,) = struct.unpack("<H", tail[at + 10:at + 12])
    if entries > MAX_PARTS:
        raise TabularError(f"the workbook has {entries} parts; a spreadsheet has at most {MAX_PARTS}")


def _check_parts(archive: zipfile.ZipFile, limits: Limits) -> None:
    infos = archive.infolist()
    unpacked = sum(info.file_size for info in infos)
    if unpacked > limits.max_unpacked_bytes:
        raise TabularError(f"the workbook unpacks to {unpacked:,} bytes; at most "
                           f"{limits.max_unpacked_bytes:,} are read (split the file)")
    for info in infos:
        if info.flag_bits & 0x1:
            raise TabularError("the workbook is encrypted; save it without a password")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise TabularError(f"part {info.filename} uses a compression Excel does not write")
        if info.file_size > RATIO_GRACE_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise TabularError(f"part {info.filename} expands {info.file_size // max(info.compress_size, 1):,} "
                               f"times; a spreadsheet expands at most {MAX_RATIO} times (a zip bomb?)")


class _Budget:
    """Decompressed bytes left to read, across all parts."""

    def __init__(self, limit: int):
        self.limit, self.left = limit, limit

    def take(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise TabularError(f"the workbook unpacks to more than {self.limit:,} bytes (split the file)")


def _parse(archive: zipfile.ZipFile, name: str, budget: _Budget, handler) -> Iterator[None]:
    """Feed part ``name`` to ``handler`` (start/end/text methods) a block at a time."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_declarations
    parser.EntityDeclHandler = _refuse_declarations
    parser.buffer_text = True
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.text
    fed = 0
    try:
        member = archive.open(name)
    except KeyError:
        raise TabularError(f"the workbook names a part it does not have: {name}") from None
    with member:
        while block := member.read(READ_BYTES):
            budget.take(len(block))
            fed += len(block)
            parser.Parse(block, False)
            if fed - parser.CurrentByteIndex > MAX_UNPARSED_BYTES:
                raise TabularError(f"part {name} holds a tag longer than {MAX_UNPARSED_BYTES:,} bytes")
            yield
    parser.Parse(b"", True)
    yield


def _refuse_declarations(*_):
    raise TabularError("the workbook declares a DTD or entities; Excel never writes them")


@lru_cache(maxsize=256)
def _local(name: str) -> str:
    return name.rpartition(" ")[2]


class _Elements:
    """Collects (parent, element, attributes) of a small structural part."""

    def __init__(self, wanted: set[str]):
        self.wanted, self.found, self.stack = wanted, [], []

    def start(self, name, attrs):
        local = _local(name)
        if local in self.wanted:
            self.found.append((self.stack[-1] if self.stack else None, local, attrs))
        self.stack.append(local)

    def end(self, name):
        self.stack.pop()

    def text(self, data):
        pass


class _Workbook:
    """Where the first worksheet, the shared strings and the styles are, and the date epoch."""

    def __init__(self, archive: zipfile.ZipFile, budget: _Budget):
        self.archive, self.budget = archive, budget
        self.sizes = {info.filename: info.file_size for info in archive.infolist()}
        main = next((target for _, kind, target in self.relationships("")
                     if kind.endswith("/officeDocument")), "xl/workbook.xml")
        rels = self.relationships(main)
        by_id = {rel_id: (kind, target) for rel_id, kind, target in rels}
        found = self.elements(main, {"sheet", "workbookPr"})
        sheets = [by_id.get(a.get(_REL_ID, ""), ("", "")) for _, local, a in found if local == "sheet"]
        self.sheet_path = next((target for kind, target in sheets if kind.endswith("/worksheet")), None)
        if self.sheet_path is None:
            raise TabularError("the workbook has no worksheet")
        self.shared_strings_path = next((t for _, kind, t in rels if kind.endswith("/sharedStrings")), None)
        self.styles_path = next((t for _, kind, t in rels if kind.endswith("/styles")), None)
        mac = any(local == "workbookPr" and a.get("date1904", "0").lower() in ("1", "true")
                  for _, local, a in found)
        self.epoch = CALENDAR_MAC_1904 if mac else WINDOWS_EPOCH

    def elements(self, name: str, wanted: set[str]) -> list[tuple]:
        if name not in self.sizes:
            return []
        if self.sizes[name] > MAX_STRUCTURE_BYTES:
            raise TabularError(f"part {name} is {self.sizes[name]:,} bytes; a workbook's structure "
                               f"takes at most {MAX_STRUCTURE_BYTES:,}")
        found = _Elements(wanted)
        for _ in _parse(self.archive, name, self.budget, found):
            pass
        return found.found

    def relationships(self, part: str) -> list[tuple[str, str, str]]:
        """(id, type, target path) of ``part``'s relationships."""
        folder, base = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", base + ".rels")
        return [(a.get("Id", ""), a.get("Type", ""), _resolve(folder, a.get("Target", "")))
                for _, _, a in self.elements(rels, {"Relationship"})]

    def strings(self, limits: Limits) -> list:
        if not self.shared_strings_path:
            return []
        table = _SharedStrings(limits)
        for _ in _parse(self.archive, self.shared_strings_path, self.budget, table):
            pass
        return table.strings

    def styles(self) -> tuple[set[int], set[int]]:
        """The cell styles that show dates, and those of them that show durations."""
        if not self.styles_path:
            return set(), set()
        found = self.elements(self.styles_path, {"numFmt", "xf"})
        codes = dict(BUILTIN_FORMATS)
        codes.update((_format_id(a), a.get("formatCode", "")) for _, local, a in found if local == "numFmt")
        formats = [codes.get(_format_id(a), "") for parent, local, a in found
                   if local == "xf" and parent == "cellXfs"]
        dates = {i for i, code in enumerate(formats) if code and is_date_format(code)}
        return dates, {i for i in dates if is_timedelta_format(formats[i])}


def _format_id(attrs: dict) -> int:
    raw = attrs.get("numFmtId", "0")
    return int(raw) if raw.isdigit() else 0


def _resolve(folder: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(folder, target))


class _Text:
    """Text of the current cell or shared string, kept only up to the cell limit."""

    def __init__(self, limit: int):
        self.limit, self.pieces, self.chars, self.capturing = limit, [], 0, False

    def reset(self):
        self.pieces.clear()
        self.chars, self.capturing = 0, False

    def add(self, data: str):
        if self.capturing:
            self.chars += len(data)
            if self.chars > self.limit:
                self.pieces.clear()
            else:
                self.pieces.append(data)

    def value(self):
        return TooLong(self.chars) if self.chars > self.limit else "".join(self.pieces)


class _SharedStrings:
    def __init__(self, limits: Limits):
        self.strings: list = []
        self.current = _Text(limits.max_cell_chars)
        self.phonetic = 0

    def start(self, name, attrs):
        local = _local(name)
        if local == "si":
            self.current.reset()
        elif local == "rPh":
            self.phonetic += 1
        elif local == "t" and not self.phonetic:
            self.current.capturing = True

    def end(self, name):
        local = _local(name)
        if local == "si":
            self.strings.append(self.current.value())
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "t":
            self.current.capturing = False

    def text(self, data):
        self.current.add(data)


class _Sheet:
    """Expat handlers that turn sheetData into finished rows in ``self.rows``."""

    def __init__(self, strings: list, styles: tuple[set[int], set[int]], epoch, limits: Limits):
        self.strings, (self.dates, self.durations), self.epoch = strings, styles, epoch
        self.limits = limits
        self.rows: list[tuple[int, list]] = []
        self.row_number = self.column = self.row_chars = 0
        self.cells: dict[int, object] = {}
        self.cell: tuple[str, str, str] | None = None
        self.buffer = _Text(limits.max_cell_chars)
        self.phonetic = 0
        self.last_row = limits.max_rows + 1

    def start(self, name, attrs):
        local = _local(name)
        if local == "c":
            self.column = self._column(attrs.get("r")) if attrs.get("r") else self.column + 1
            if self.column > self.limits.max_columns:
                raise TabularError(f"row {self.row_number} has a cell in column {self.column:,}; "
                                   f"at most {self.limits.max_columns} columns are read")
            self.cell = (attrs.get("t", "n"), attrs.get("s", "0"), attrs.get("r", ""))
            self.buffer.reset()
        elif local == "row":
            self.row_number = self._row(attrs.get("r"))
            self.column = self.row_chars = 0
            self.cells = {}
        elif self.cell is not None and (local == "v" or (local == "t" and not self.phonetic)):
            self.buffer.capturing = True
        elif local == "rPh":
            self.phonetic += 1
        elif local == "dimension":
            self._check_dimension(attrs.get("ref", ""))

    def end(self, name):
        local = _local(name)
        if local == "c" and self.cell is not None:
            value = self._value()
            if value is not None:
                self.cells[self.column] = value
                self.row_chars += 0 if isinstance(value, TooLong) else len(str(value))
                if self.row_chars > self.limits.max_row_chars:
                    raise TabularError(f"row {self.row_number} holds more than "
                                       f"{self.limits.max_row_chars:,} characters")
            self.cell = None
        elif local in ("v", "t"):
            self.buffer.capturing = False
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "row" and self.cells:
            width = max(self.cells)
            self.rows.append((self.row_number, [self.cells.get(i) for i in range(1, width + 1)]))
            self.cells = {}

    def text(self, data):
        self.buffer.add(data)

    def _row(self, ref: str | None) -> int:
        try:
            number = int(ref) if ref else self.row_number + 1
        except ValueError:
            raise TabularError(f"the sheet has a row numbered {ref[:20]!r}") from None
        if number > self.last_row:
            raise TabularError(f"the sheet has a row {number:,}; at most {self.limits.max_rows:,} rows "
                               "besides the header are imported at once (split the file)")
        return number

    def _column(self, ref: str) -> int:
        letters = ref.rstrip("0123456789")
        if not letters.isalpha() or len(letters) > 3:
            raise TabularError(f"the sheet has a cell at {ref[:20]!r}")
        return column_index_from_string(letters.upper())

    def _check_dimension(self, ref: str) -> None:
        try:
            _, _, columns, rows = range_boundaries(ref.split(":")[-1] if ":" in ref else ref)
        except (ValueError, TypeError):
            return  # a dimension is a hint; the cells themselves are checked
        if (columns or 0) > self.limits.max_columns or (rows or 0) > self.last_row:
            raise TabularError(f"the sheet declares its size as {ref[:40]}; at most {self.limits.max_rows:,} "
                               f"rows and {self.limits.max_columns} columns are read (delete the empty "
                               "rows and columns, or split the file)")

    def _value(self):
        kind, style, ref = self.cell
        text = self.buffer.value()
        if isinstance(text, TooLong) or not text:
            return text or None
        if kind == "s":
            try:
                return self.strings[int(text)]
            except (ValueError, IndexError):
                raise TabularError(f"cell {ref} refers to a shared string the workbook does not have") from None
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind != "n":
            return text  # inline and formula strings, errors (#N/A), ISO dates
        try:
            number = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            return text
        if style.isdigit() and int(style) in self.dates:
            try:
                return from_excel(number, self.epoch, timedelta=int(style) in self.durations)
            except (OverflowError, ValueError):
                return text
        return number
