"""Reading uploaded files: CSV and Excel workbooks into frames of text, each refused first from its own metadata
(size unpacked, compression ratio, columns, cells) when it would cost far more to read than it weighs. What is
wrong with a file is a Problem, located to its file, row and column; validating the values is the loader's."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from dashboard import config
from dashboard.data import contract

ENCODING = "UTF-8 (with or without BOM)"
PROBLEMS_LISTED = 1_000  # a hostile file can break every row: past this many, problems are only counted
RATIO_FLOOR = 1024 * 1024  # parts of a workbook smaller than this unzipped are too small to matter, whatever ratio
GUIDE_SHEET = "columns"  # the template workbook's sheet explaining each column


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where (file, spreadsheet row, column), the value and what to fix."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f", row {self.row}" if self.row is not None else "")
        where += f", column {self.column}" if self.column else ""
        value = f" (value {self.value!r})" if self.value is not None else ""
        return f"{where}{value}: {self.message}"


class ProblemList(list):
    """Problems of one load: the first PROBLEMS_LISTED are kept, the rest only counted in `unlisted`."""

    def __init__(self, listed: int = PROBLEMS_LISTED) -> None:
        super().__init__()
        self.listed, self.unlisted = listed, 0

    @property
    def full(self) -> bool:
        """Whether further problems are only counted."""
        return len(self) >= self.listed

    def append(self, problem: Problem) -> None:
        """Keep the problem if there is room, else count it."""
        if self.full:
            self.unlisted += 1
        else:
            super().append(problem)


@dataclass(frozen=True)
class Limits:
    """How much a file may hold, checked from its own metadata before it is read: a few KB must not cost GB."""

    unpacked_bytes: int
    compression_ratio: float
    columns: int
    cells: int

    @classmethod
    def configured(cls) -> Limits:
        """The limits set in the settings registry."""
        return cls(
            unpacked_bytes=int(float(config.get("max_unpacked_mb")) * 1024 * 1024),
            compression_ratio=float(config.get("max_compression_ratio")),
            columns=int(config.get("max_columns")),
            cells=int(config.get("max_cells")),
        )


def default_max_bytes() -> int:
    """The configured upload limit in bytes."""
    return int(float(config.get("max_upload_mb")) * 1024 * 1024)


def problem_count(problems: list[Problem]) -> int:
    """How many problems were found, listed or only counted."""
    return len(problems) + getattr(problems, "unlisted", 0)


def expand_folders(paths: list[Path]) -> list[Path]:
    """The files named, with each folder expanded to its CSV and XLSX files."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".xlsx")))
        else:
            out.append(path)
    return out


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV would hold (whole floats without '.0', booleans as true/false)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    return str(value).strip()


def _duplicate_columns(label: str, header: list[str], problems: list[Problem]) -> None:
    """Flag every column name that appears more than once in a header row."""
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name and name in seen:
            problems.append(Problem(label, 1, name, None, f"column {name!r} appears twice in the header "
                                    f"(columns {seen[name]} and {position}): keep one"))  # fmt: skip
        seen.setdefault(name, position)


def _over(what: str, found: float, limit: float, setting: str) -> str:
    """The message for a file over one of the limits (numbers as written: 16,384, 61.4)."""
    found_text, limit_text = (f"{int(x):,}" if float(x).is_integer() else f"{x:,}" for x in (found, limit))
    return (f"{what} is {found_text}, over the limit of {limit_text}: the file is refused unread; split it, or raise "
            f"DASHBOARD_{setting.upper()} if it really holds that much")  # fmt: skip


def _zip_problem(archive: zipfile.ZipFile, limits: Limits) -> str | None:
    """Why the workbook's zip is too big to unpack, from its central directory alone (sizes as declared), or None.

    zipfile never hands out more bytes of a part than its declared size, so declared sizes bound the real work.
    """
    members = archive.infolist()
    total = sum(m.file_size for m in members)
    if total > limits.unpacked_bytes:
        mb = 1024**2
        return _over("its size unzipped, in MB,", round(total / mb, 1), limits.unpacked_bytes / mb, "max_unpacked_mb")
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > RATIO_FLOOR and ratio > limits.compression_ratio:
            return _over(f"the compression ratio of its part {m.filename}", int(ratio), limits.compression_ratio,
                         "max_compression_ratio")  # fmt: skip
    return None


MERGED = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]+[0-9]+:[A-Z]+[0-9]+)\"")


def _merged_ranges(archive: zipfile.ZipFile, member: str) -> list[str]:
    """The merged ranges of a worksheet, found by scanning its XML in chunks (read-only openpyxl does not read them).

    Markup can't occur inside cell text (it is escaped there), so a plain search of the bytes is exact.
    """
    found: list[str] = []
    tail = b""
    with archive.open(member) as src:
        while chunk := src.read(1 << 20):
            data = tail + chunk
            end = 0
            for match in MERGED.finditer(data):
                found.append(match.group(1).decode())
                end = match.end()
            tail = data[max(end, len(data) - 200) :]
    return found


def _sheet_rows(ws: Any, label: str, limits: Limits,
                problems: list[Problem]) -> tuple[list[Sequence[Any]], list[tuple[int, int, str]]] | None:  # fmt: skip
    """(rows of values, formula cells as (row, column, formula)) of a read-only sheet, or None past a limit.

    The sheet's own dimension can lie or be missing, so the limits are checked again on the rows as they stream.
    """
    rows: list[Sequence[Any]] = []
    formulas: list[tuple[int, int, str]] = []
    cells = 0
    for number, row in enumerate(ws.iter_rows(), start=1):
        if len(row) > limits.columns:
            problems.append(Problem(label, number, None, None,
                                    _over("the number of columns", len(row), limits.columns, "max_columns")))  # fmt: skip
            return None
        cells += max(len(row), 1)  # a row the sheet skips is cheap, but a million of them still take time
        if cells > limits.cells:
            problems.append(Problem(label, number, None, None,
                                    _over("the number of cells", cells, limits.cells, "max_cells")))  # fmt: skip
            return None
        if not row:
            rows.append(())
            continue
        values = []
        for column, cell in enumerate(row, start=1):
            if cell.data_type == "f":
                formulas.append((number, column, str(cell.value)))
            values.append(cell.value)
        rows.append(values)
    return rows, formulas


def _open_workbook(name: str, data: bytes, limits: Limits,
                   problems: list[Problem]) -> tuple[zipfile.ZipFile, Any] | None:  # fmt: skip
    """(zip, read-only openpyxl workbook) of the file, or None with the reason when it is too big or no workbook.

    The zip's sizes are checked first: openpyxl reads every shared string on opening, whatever is read after.
    """
    import openpyxl

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        too_big = _zip_problem(archive, limits)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        problems.append(Problem(name, None, None, None, f"is not a readable XLSX workbook ({exc})"))
        return None
    if too_big:
        problems.append(Problem(name, None, None, None, too_big))
        return None
    try:
        return archive, openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        problems.append(Problem(name, None, None, None, f"is not a readable XLSX workbook ({exc})"))
        return None


def _dimension_problem(ws: Any, label: str, limits: Limits) -> Problem | None:
    """Why a read-only sheet is too big from the dimension it declares (columns, then cells), or None."""
    from openpyxl.utils import get_column_letter

    # openpyxl read the sheet's <dimension ref> from the first bytes of its XML on opening
    width, height = ws.max_column or 0, ws.max_row or 0
    corner = get_column_letter(width) + str(height) if width else None
    if width > limits.columns:
        return Problem(label, None, None, corner, _over("the number of columns", width, limits.columns, "max_columns"))
    if width * height > limits.cells:
        return Problem(label, None, None, corner,
                       _over("the number of cells", width * height, limits.cells, "max_cells"))  # fmt: skip
    return None


def _read_xlsx(path: Path, data: bytes, limits: Limits, problems: list[Problem],
               warnings: list[Problem]) -> list[tuple[str, str, pd.DataFrame]]:  # fmt: skip
    """(table, label, frame of stripped strings) for each sheet of a workbook, named after its table.

    Only plain values are read: a formula, merged cells or a hidden sheet is a problem, since what the
    loader would read is not what the person sees. The workbook is streamed (read-only openpyxl), after its
    unzipped size and each sheet's dimension are checked against the limits.
    """
    from openpyxl.utils import get_column_letter, range_boundaries

    opened = _open_workbook(path.name, data, limits, problems)
    if opened is None:
        return []
    archive, wb = opened
    out = []
    found = problem_count(problems)
    try:
        for ws in wb.worksheets:
            label = f"{path.name} [{ws.title}]"
            if ws.sheet_state != "visible":
                problems.append(Problem(label, None, None, None, f"sheet is {ws.sheet_state}: unhide it and check "
                                        "it, or delete it; the loader does not read data you can't see"))  # fmt: skip
                continue
            table = path.stem if len(wb.worksheets) == 1 and path.stem in contract.TABLES else ws.title.strip()
            if table == GUIDE_SHEET:
                warnings.append(Problem(label, None, None, None, "the template's column guide: not loaded"))
                continue
            if too_big := _dimension_problem(ws, label, limits):
                problems.append(too_big)
                continue
            ws.reset_dimensions()  # read the rows the sheet holds, not the rows its dimension claims
            read = _sheet_rows(ws, label, limits, problems)
            if read is None:
                continue
            rows, formulas = read
            header = [_cell_text(v) for v in rows[0]] if rows else []
            while header and header[-1] == "":
                header.pop()
            width = len(header)
            # a value beyond the header's columns is ignored, and said; trailing rows blank under the header end it
            stray = [(n, c) for n, r in enumerate(rows, start=1) for c, v in enumerate(r[width:], start=width + 1)
                     if v is not None and str(v).strip() != ""]  # fmt: skip
            if stray:
                n, c = stray[0]
                warnings.append(Problem(label, n, get_column_letter(c), None, f"{len(stray):,} cell(s) outside the "
                                        f"header's columns, the first at {get_column_letter(c)}{n}: ignored"))  # fmt: skip
            while rows and all(v is None or str(v).strip() == "" for v in rows[-1][:width]):
                rows.pop()
            if not rows:
                warnings.append(Problem(label, None, None, None, "sheet is empty: skipped"))
                continue
            for ref in _merged_ranges(archive, ws._worksheet_path.lstrip("/")):
                min_col, min_row, _, _ = range_boundaries(ref)
                problems.append(Problem(label, min_row, _header_name(header, min_col), ref,
                                        f"cells {ref} are merged: unmerge them and fill in every cell"))  # fmt: skip
            for number, column, formula in formulas:
                problems.append(Problem(label, number, _header_name(header, column), formula,
                                        f"cell {get_column_letter(column)}{number} holds a formula: the loader reads "
                                        "values only; copy the cells and paste them as values"))  # fmt: skip
            _duplicate_columns(label, header, problems)
            body = [[_cell_text(v) for v in r[:width]] + [""] * (width - len(r)) for r in rows[1:]]
            if not body:
                warnings.append(Problem(label, 1, None, None, "has a header row but no data rows: skipped"))
                continue
            out.append((table, label, pd.DataFrame(body, columns=header, dtype=object).astype(str)))
    finally:
        wb.close()
    if not out and problem_count(problems) == found:
        problems.append(Problem(path.name, None, None, None, "no sheet holds data rows: expected a header row "
                                "and data rows on a sheet named after its table"))  # fmt: skip
    return out if problem_count(problems) == found else []


def _header_name(header: list[str], column: int) -> str:
    """The header name of a 1-based spreadsheet column, or its letter when it has none."""
    from openpyxl.utils import get_column_letter

    return header[column - 1] if 0 < column <= len(header) and header[column - 1] else get_column_letter(column)


def _decode(name: str, data: bytes, problems: list[Problem]) -> str | None:
    """The file's text (UTF-8 with or without BOM, or UTF-16 with a BOM or plainly so), or None with the reason."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        problems.append(Problem(name, None, None, None, f"is UTF-32 text; save it as CSV in {ENCODING}"))
        return None
    encoding = None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        head = data[:4096]
        even, odd = head[0::2], head[1::2]
        if len(head) >= 4 and odd.count(0) > 0.9 * len(odd) and even.count(0) == 0:
            encoding = "utf-16-le"
        elif len(head) >= 4 and even.count(0) > 0.9 * len(even) and odd.count(0) == 0:
            encoding = "utf-16-be"
    if encoding:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, None, None, None, f"looks like UTF-16 text but is not valid UTF-16 "
                                    f"(byte {exc.start}); save it as CSV in {ENCODING}"))  # fmt: skip
            return None
    if b"\x00" in data[:65536]:
        problems.append(Problem(name, None, None, None, f"is a binary file, not CSV text in {ENCODING} or UTF-16"))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        guess = "it looks like Latin-1 / Windows-1252" if exc.object[exc.start] >= 0x80 else "unknown encoding"
        problems.append(Problem(name, None, None, None, f"is not text in {ENCODING} or UTF-16: undecodable byte "
                                f"0x{exc.object[exc.start]:02X} at position {exc.start} ({guess}); "
                                "save it as CSV UTF-8"))  # fmt: skip
        return None


def _file_bytes(path: Path, max_bytes: int, problems: list[Problem]) -> bytes | None:
    """The file's bytes, or None with the reason when it is missing, of another kind or over the upload limit."""
    name = path.name
    if not path.is_file():
        problems.append(Problem(name, None, None, None, "file not found"))
        return None
    if path.suffix.lower() not in (".csv", ".xlsx"):
        problems.append(Problem(name, None, None, None, "only .csv and .xlsx files are read"))
        return None
    size = path.stat().st_size
    if size > max_bytes:
        problems.append(
            Problem(
                name,
                None,
                None,
                None,
                f"file is {size:,} bytes, over the limit of {max_bytes:,} bytes ({max_bytes / 1024**2:.1f} MB); "
                "split it or raise DASHBOARD_MAX_UPLOAD_MB",
            )
        )
        return None
    return path.read_bytes()


def _csv_text(name: str, data: bytes, limits: Limits, problems: list[Problem]) -> tuple[str, list[str]] | None:
    """(text, header) of a CSV file within the limits, or None with the reason; nothing is parsed past the header."""
    text = _decode(name, data, problems)
    if text is None:
        return None
    if not text.strip():
        problems.append(Problem(name, None, None, None, "file is empty: expected a header row and data rows"))
        return None
    header_line = (text.lstrip("\ufeff").partition("\n")[0].splitlines() or [""])[0]
    header = [c.strip() for c in next(csv.reader([header_line]))]
    for sep, sep_name in ((";", "semicolons (;)"), ("\t", "tabs")):
        if header_line.count(sep) > header_line.count(","):
            problems.append(Problem(name, 1, None, header_line[:80], f"columns are separated by {sep_name}, not "
                                    "commas: save it as 'CSV UTF-8 (comma delimited)'"))  # fmt: skip
            return None
    if len(header) > limits.columns:
        problems.append(Problem(name, 1, None, None,
                                _over("the number of columns", len(header), limits.columns, "max_columns")))  # fmt: skip
        return None
    lines = text.count("\n") + (not text.endswith("\n"))  # at least the rows: a quoted value may hold a line break
    if lines * len(header) > limits.cells:
        problems.append(Problem(name, None, None, None,
                                _over("the number of cells", lines * len(header), limits.cells, "max_cells")))  # fmt: skip
        return None
    return text, header


def refusals(path: Path, max_bytes: int | None = None, limits: Limits | None = None) -> list[Problem]:
    """The problems that refuse a file unread, as the loader finds them, or [] when it may be read (say, previewed).

    The same checks the loader runs first: upload size, encoding, columns and cells of a CSV file; a workbook's
    unzipped size and compression ratio, then each sheet's declared dimension (hidden sheets too).
    """
    limits = Limits.configured() if limits is None else limits
    problems: list[Problem] = []
    data = _file_bytes(path, default_max_bytes() if max_bytes is None else max_bytes, problems)
    if data is None:
        return problems
    if path.suffix.lower() == ".csv":
        _csv_text(path.name, data, limits, problems)
        return problems
    opened = _open_workbook(path.name, data, limits, problems)
    if opened is not None:
        _, wb = opened
        try:
            problems += filter(None, (_dimension_problem(ws, f"{path.name} [{ws.title}]", limits)
                                      for ws in wb.worksheets))  # fmt: skip
        finally:
            wb.close()
    return problems


def read(path: Path, max_bytes: int, limits: Limits, problems: list[Problem],
          warnings: list[Problem]) -> tuple[list[tuple[str, str, pd.DataFrame]] | None, bytes]:  # fmt: skip
    """(table, label, frame of stripped strings) per table in the file, or None after adding the reason to problems."""
    name = path.name
    data = _file_bytes(path, max_bytes, problems)
    if data is None:
        return None, b""
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path, data, limits, problems, warnings), data
    read = _csv_text(name, data, limits, problems)
    if read is None:
        return None, data
    text, header = read
    _duplicate_columns(name, header, problems)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, quoting=csv.QUOTE_MINIMAL)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        problems.append(Problem(name, None, None, None, f"is not a readable CSV file: {str(exc).strip()}"))
        return None, data
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        problems.append(Problem(name, 1, None, None, "has a header row but no data rows"))
        return None, data
    return [(path.stem, name, frame.apply(lambda s: s.str.strip()))], data
