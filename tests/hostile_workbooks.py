"""Hostile XLSX workbooks built small from a normal one: zip bombs, a cell far out, sizes declared large."""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pandas as pd

SHEET = "xl/worksheets/sheet1.xml"
SHARED_STRINGS = "xl/sharedStrings.xml"
SECONDS, MEGABYTES = 5.0, 300.0  # what refusing a hostile workbook may cost at most


def workbook(small_csv: Path, path: Path) -> Path:
    """A normal workbook: a schools sheet with the first ten demo schools."""
    schools = pd.read_csv(small_csv / "schools.csv", dtype=str, keep_default_na=False).head(10)
    with pd.ExcelWriter(path) as xl:
        schools.to_excel(xl, sheet_name="schools", index=False)
    return path


def rezip(path: Path, member: str, write: Callable[[bytes, IO[bytes]], None]) -> Path:
    """The workbook with one part rewritten (or added) by write(old bytes, open part); the other parts as they were."""
    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i) for i in src.infolist()}
    parts.setdefault(member, b"")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, body in parts.items():
            if name == member:
                with out.open(name, "w", force_zip64=True) as part:
                    write(body, part)
            else:
                out.writestr(name, body)
    return path


def with_cell(path: Path, ref: str, dimension: str | None) -> Path:
    """The workbook with one more cell at ref (holding 'x'), its sheet's dimension set to `dimension`, or
    left as written (a dimension that lies) when None, or removed when ''."""
    row = re.match(r"[A-Z]+(\d+)", ref).group(1)
    cell = f'<row r="{row}"><c r="{ref}" t="inlineStr"><is><t>x</t></is></c></row>'.encode()

    def write(body: bytes, part: IO[bytes]) -> None:
        body = body.replace(b"</sheetData>", cell + b"</sheetData>")
        if dimension == "":
            body = re.sub(rb"<dimension [^>]*/>", b"", body)
        elif dimension is not None:
            body = re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"'.encode(), body)
        part.write(body)

    return rezip(path, SHEET, write)


def bomb(path: Path, megabytes: int) -> Path:
    """The workbook with its sheet replaced by `megabytes` of rows that compress about a thousandfold."""
    rows = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 20_000  # about 1 MB

    def write(body: bytes, part: IO[bytes]) -> None:
        head, _, _ = body.partition(b"<sheetData>")
        part.write(head + b"<sheetData>")
        for _ in range(megabytes):
            part.write(rows)
        part.write(b"</sheetData></worksheet>")

    return rezip(path, SHEET, write)


def shared_strings_bomb(path: Path, megabytes: int) -> Path:
    """The workbook with a shared-strings part of `megabytes` of strings that compress about a thousandfold.

    openpyxl reads every shared string when it opens a workbook, read-only or not, whatever rows are asked for.
    """
    strings = b"<si><t>x</t></si>" * 60_000  # about 1 MB

    def write(_: bytes, part: IO[bytes]) -> None:
        part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
        for _ in range(megabytes):
            part.write(strings)
        part.write(b"</sst>")

    def declare(body: bytes, part: IO[bytes]) -> None:
        part.write(body.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))  # fmt: skip

    return rezip(rezip(path, "[Content_Types].xml", declare), SHARED_STRINGS, write)


def declare_size(path: Path, member: str, size: int) -> Path:
    """The zip with the unzipped size of one part declared as `size`, in its local and central headers alike."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            length = struct.unpack_from("<H", data, at + (26 if signature == b"PK\x03\x04" else 28))[0]
            if bytes(data[name_at : name_at + length]) == name:
                struct.pack_into("<I", data, at + offset, size)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    return path
