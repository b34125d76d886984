"""Hostile spreadsheet files, built in a few milliseconds and a few MB.

A zip bomb is not compressed by zlib at test time: one block of the repeated
text is deflated once (after a full flush a deflate stream does not refer
back), and the compressed block is repeated. Each maker returns ``bytes``
except :func:`csv_without_line_breaks`, a stream that makes its bytes as they
are read. Used by the import tests and the corpus of hostile input.
"""
from __future__ import annotations

import io
import struct
import zlib

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
MB = 1024 * 1024


class Part:
    """An XML part: ``prefix + block * times + suffix``, deflated without ever
    being held whole. ``declared_size`` lies about its size in the zip if set."""

    def __init__(self, prefix: bytes, block: bytes = b"", times: int = 0, suffix: bytes = b"",
                 declared_size: int | None = None):
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
        body = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH) if times else b""
        self.data = head + body * times + compressor.compress(suffix) + compressor.flush()
        crc = zlib.crc32(prefix)
        for _ in range(times):
            crc = zlib.crc32(block, crc)
        self.crc = zlib.crc32(suffix, crc)
        self.size = len(prefix) + len(block) * times + len(suffix)
        self.declared_size = self.size if declared_size is None else declared_size


def zip_of(parts: dict[str, Part | bytes]) -> bytes:
    """A zip (deflated members) of ``parts``, written by hand so a member's
    declared size may differ from what it unpacks to."""
    out, directory = io.BytesIO(), io.BytesIO()
    for name, part in parts.items():
        part = part if isinstance(part, Part) else Part(part)
        encoded, offset = name.encode(), out.tell()
        fields = (20, 0, 8, 0, 0x21, part.crc, len(part.data), part.declared_size, len(encoded), 0)
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + encoded + part.data)
        directory.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, offset)
                        + encoded)
    count, at = len(parts), out.tell()
    out.write(directory.getvalue())
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory.getvalue()), at, 0))
    return out.getvalue()


def workbook(sheet: Part | bytes, shared_strings: Part | bytes | None = None) -> bytes:
    """A minimal .xlsx, one that openpyxl opens too, around one sheet part (and a
    shared strings part)."""
    strings_rel = (f'<Relationship Id="rId2" Target="sharedStrings.xml" Type="{RELS}/sharedStrings"/>'
                   if shared_strings is not None else "")
    rels = (f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" Target="worksheets/sheet1.xml" '
            f'Type="{RELS}/worksheet"/>{strings_rel}</Relationships>')
    kinds = {"/xl/workbook.xml": "sheet.main", "/xl/worksheets/sheet1.xml": "worksheet"}
    if shared_strings is not None:
        kinds["/xl/sharedStrings.xml"] = "sharedStrings"
    overrides = "".join(f'<Override PartName="{name}" ContentType="application/vnd.openxmlformats-'
                        f'officedocument.spreadsheetml.{kind}+xml"/>' for name, kind in kinds.items())
    parts = {
        "[Content_Types].xml": ('<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-'
                                'package.relationships+xml"/><Default Extension="xml" '
                                f'ContentType="application/xml"/>{overrides}</Types>').encode(),
        "_rels/.rels": (f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" Target="xl/workbook.xml" '
                        f'Type="{RELS}/officeDocument"/></Relationships>').encode(),
        "xl/workbook.xml": (f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
                            f'<sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>').encode(),
        "xl/_rels/workbook.xml.rels": rels.encode(),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if shared_strings is not None:
        parts["xl/sharedStrings.xml"] = shared_strings
    return zip_of(parts)


def sheet(rows: str, dimension: str | None = None) -> bytes:
    size = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<worksheet xmlns="{MAIN}">{size}<sheetData>{rows}</sheetData></worksheet>'.encode()


def inline_row(number: int, *values: str) -> str:
    cells = "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values)
    return f'<row r="{number}">{cells}</row>'


HEADER = inline_row(1, "company", "email")


def xlsx_sheet_bomb(unpacks_to: int = 1024 * MB) -> bytes:
    """About 3 MB that unpacks to ``unpacks_to`` bytes of rows (1 GB by default)."""
    block = ('<row><c t="inlineStr"><is><t>Bomb Ltd</t></is></c></row>' * 18_000).encode()[:MB]
    block = block[:block.rfind(b"</row>") + len(b"</row>")]
    prefix = f'<worksheet xmlns="{MAIN}"><sheetData>{HEADER}'.encode()
    return workbook(Part(prefix, block, unpacks_to // len(block), b"</sheetData></worksheet>"))


def xlsx_lying_sizes(unpacks_to: int = 1024 * MB) -> bytes:
    """The sheet bomb, with a zip directory that declares the sheet a harmless 100 KB."""
    block = ('<row><c t="inlineStr"><is><t>Bomb Ltd</t></is></c></row>' * 18_000).encode()
    prefix = f'<worksheet xmlns="{MAIN}"><sheetData>{HEADER}'.encode()
    return workbook(Part(prefix, block, unpacks_to // len(block), b"</sheetData></worksheet>",
                         declared_size=100 * 1024))


def xlsx_huge_dimension(columns: str = "XFD", rows: int = 20_000) -> bytes:
    """A sheet that declares itself 16,384 x 20,000 and has a cell at its far corner."""
    corner = f'<row r="{rows}"><c r="{columns}{rows}" t="inlineStr"><is><t>far</t></is></c></row>'
    return workbook(sheet(HEADER + corner, dimension=f"A1:{columns}{rows}"))


def xlsx_far_cell(columns: str = "XFD", rows: int = 20_000) -> bytes:
    """A cell at XFD20000 and no declared dimension."""
    corner = f'<row r="{rows}"><c r="{columns}{rows}" t="inlineStr"><is><t>far</t></is></c></row>'
    return workbook(sheet(HEADER + corner))


def xlsx_huge_row_index(index: int = 1_048_576) -> bytes:
    """A row numbered ``index`` right after the header."""
    return workbook(sheet(HEADER + inline_row(index, "Far Away Ltd", "far@x.com")))


def xlsx_huge_shared_string(chars: int = 200 * MB) -> bytes:
    """About 200 KB: one shared string of ``chars`` characters, used by row 2."""
    prefix = f'<sst xmlns="{MAIN}"><si><t>company</t></si><si><t>'.encode()
    block = b"A" * MB if chars >= MB else b"A" * chars
    strings = Part(prefix, block, max(1, chars // len(block)), b"</t></si></sst>")
    rows = '<row r="1"><c t="s"><v>0</v></c></row><row r="2"><c t="s"><v>1</v></c></row>'
    return workbook(sheet(rows), strings)


def xlsx_huge_inline_cell(chars: int, row: int = 3) -> bytes:
    """Rows 2 and 4 are fine; row ``row``'s company is ``chars`` characters long."""
    prefix = f'<worksheet xmlns="{MAIN}"><sheetData>{HEADER}{inline_row(2, "Before Ltd", "b@x.com")}' \
             f'<row r="{row}"><c t="inlineStr"><is><t>'.encode()
    block = b"B" * min(chars, MB)
    suffix = f'</t></is></c></row>{inline_row(row + 1, "After Ltd", "a@x.com")}</sheetData></worksheet>'
    return workbook(Part(prefix, block, max(1, chars // len(block)), suffix.encode()))


def csv_with_long_field(field_chars: int = 200 * 1024, rows: int = 5, long_row: int = 3,
                        tag: str = "") -> bytes:
    """A CSV whose row ``long_row`` has a company of ``field_chars`` characters."""
    lines = ["company,email"]
    for number in range(2, rows + 2):
        company = "L" * field_chars if number == long_row else f"Company {number} {tag}"
        lines.append(f"{company},row{number}-{tag}@x.com")
    return ("\n".join(lines) + "\n").encode()


def csv_broken_midway(good_rows: int = 2500, tag: str = "") -> bytes:
    """``good_rows`` valid UTF-8 rows, then a row in cp1250 (not UTF-8), then more."""
    good = "".join(f"Company {n} {tag},row{n}-{tag}@x.com\n" for n in range(2, good_rows + 2))
    return ("company,email\n" + good).encode() + f"Zażółć {tag},z-{tag}@x.com\nAfter {tag},\n".encode("cp1250")


def csv_without_line_breaks(size: int = 500 * MB) -> io.BufferedReader:
    """A CSV stream of ``size`` bytes (500 MB by default) on one line, made as it is read."""
    return io.BufferedReader(_OneEndlessLine(size))


class _OneEndlessLine(io.RawIOBase):
    def __init__(self, size: int):
        self.left = size
        self.header = b"company,notes\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.header:
            n = len(self.header)
            buffer[:n], self.header = self.header, b""
            return n
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n
