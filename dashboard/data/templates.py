"""Templates and tables for the Data page: empty CSVs, an XLSX workbook, problems and load history as frames."""

from __future__ import annotations

import io
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Font

from dashboard.data import contract, db, ingest, upload_files
from dashboard.data.queries import Scope, read_frame

PROBLEM_COLUMNS = ["file", "row", "column", "value", "message"]
HISTORY_COLUMNS = ["load_id", "loaded_by", "loaded_at", "rows_added", "rows_changed", "status", "summary"]


def _kind(table: str, column: str) -> str:
    """What a value of the column must look like, in words."""
    if column in ingest.ID_COLUMNS:
        return "identifier: 1-40 letters, digits, '-' or '_'"
    if column == "school_year":
        return "school year such as 2021-22"
    if column in ingest.OPTIONAL_COLUMNS:
        return "decimal degrees; optional (blank: located from city and state, marked approximate)"
    if column in ingest.INT_COLUMNS:
        return "whole number, no thousands separators or percent signs"
    if column in ingest.FLOAT_COLUMNS:
        return "number, no thousands separators or percent signs"
    if column == "title_i":
        return "true or false"
    if column == "state":
        return "two-letter USPS code such as TX"
    return "text"


def _allowed(table: str, column: str) -> str:
    """The allowed values of an enumerated column, or ''."""
    if table == "finances" and column == "category":
        return "; ".join(f"{line}: {', '.join(cats)}" for line, cats in ingest.FINANCE_CATEGORIES.items())
    values = ingest.ENUMS.get(table, {}).get(column)
    return ", ".join(map(str, values)) if values else ""


def _references(table: str, column: str) -> str:
    target = ingest.FOREIGN_KEYS.get((table, column))
    return f"must exist in {target} (in the database or in the same load)" if target else ""


def column_guide() -> pd.DataFrame:
    """One row per contract column: table, column, whether it is part of the key, required, kind, allowed values."""
    rows = []
    for table, (key, _rest) in contract.TABLES.items():
        for column in contract.columns(table):
            rows.append({
                "table": table,
                "column": column,
                "key": column in key,
                "required": column not in ingest.OPTIONAL_COLUMNS,
                "kind": _kind(table, column),
                "allowed_values": _allowed(table, column),
                "references": _references(table, column),
            })  # fmt: skip
    return pd.DataFrame(rows)


def empty_csv(table: str) -> bytes:
    """The header row of a contract table as UTF-8 CSV: the file to fill and upload as `<table>.csv`."""
    return (",".join(contract.columns(table)) + "\n").encode("utf-8")


def csv_templates() -> dict[str, bytes]:
    """`<table>.csv` -> its header-only CSV, for every contract table."""
    return {f"{table}.csv": empty_csv(table) for table in contract.TABLES}


def xlsx_template() -> bytes:
    """A workbook with one sheet per contract table (header row only) and a 'columns' sheet explaining each column."""
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for table in contract.TABLES:
        ws = wb.create_sheet(table)
        ws.append(list(contract.columns(table)))
        for cell in ws[1]:
            cell.font = bold
        ws.freeze_panes = "A2"
    guide = column_guide()
    ws = wb.create_sheet("columns")
    ws.append(list(guide.columns))
    for cell in ws[1]:
        cell.font = bold
    for record in guide.itertuples(index=False):
        ws.append(["yes" if v is True else "no" if v is False else v for v in record])
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def problems_frame(problems: Iterable[upload_files.Problem]) -> pd.DataFrame:
    """Problems (or warnings) as a table with columns file, row, column, value, message."""
    frame = pd.DataFrame(
        [{"file": p.file, "row": p.row, "column": p.column, "value": p.value, "message": p.message} for p in problems],
        columns=PROBLEM_COLUMNS,
    )
    frame["row"] = frame["row"].astype("Int64")
    return frame


def counts_frame(report: ingest.LoadReport) -> pd.DataFrame:
    """Per-table counts of a load report: table, added, changed, unchanged."""
    return pd.DataFrame(
        [
            {"table": t, "added": c.added, "changed": c.changed, "unchanged": c.unchanged}
            for t, c in report.counts.items()
        ],
        columns=["table", "added", "changed", "unchanged"],
    )


def load_history(engine: sa.Engine) -> pd.DataFrame:
    """Every recorded load, newest first: id, who, when, rows added and changed, status, summary."""
    t = db.loads.c
    stmt = sa.select(*(t[c] for c in HISTORY_COLUMNS)).order_by(t.load_id.desc())
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=HISTORY_COLUMNS)


# Tables whose rows belong to one school year: what "a year's rows" counts.
YEAR_TABLES = ("school_years", "outcomes", "supports", "partnerships", "finances")


def largest_year_rows(engine: sa.Engine) -> int:
    """Rows of the school year holding the most, summed over the year-keyed tables (0 on an empty database)."""
    per_year: dict[str, int] = {}
    with engine.connect() as conn:
        for name in YEAR_TABLES:
            t = db.metadata.tables[name]
            stmt = sa.select(t.c.school_year, sa.func.count()).group_by(t.c.school_year)
            for year, n in conn.execute(stmt):
                per_year[year] = per_year.get(year, 0) + int(n)
    return max(per_year.values(), default=0)


def undo_needs_typed_id(history: pd.DataFrame, year_rows: int) -> dict[int, str]:
    """The loads still in place whose undo asks for the id to be typed, not a box ticked, each with why: the first
    load recorded (the initial build, which holds the whole network) and any load that added or changed more rows
    than the largest school year holds. `history` is load_history's frame (every load, not a user's own)."""
    if history.empty:
        return {}
    first = int(history["load_id"].min())
    rows = (history["rows_added"].fillna(0) + history["rows_changed"].fillna(0)).astype(int)
    reasons = {}
    for load_id, n, status in zip(history["load_id"], rows, history["status"], strict=True):
        if status != "loaded":
            continue
        if int(load_id) == first:
            reasons[int(load_id)] = f"Load {load_id} is the initial build: undoing it removes the whole network."
        elif n > year_rows:
            reasons[int(load_id)] = (
                f"Load {load_id} added or changed {n:,} rows, more than the busiest school year holds ({year_rows:,})."
            )
    return reasons


def current_rows(engine: sa.Engine, scope: Scope, school_year: str) -> dict[str, pd.DataFrame]:
    """The rows a user may load, as they stand, per contract table in contract columns: the year-keyed tables for
    `school_year`, the others whole; within `scope` (a lead: its affiliates, their schools, and the partners those
    schools worked with that year). Coordinates the loader approximated read blank, as they were given."""
    s = db.schools.c
    mine = sorted(scope.affiliates) if scope.affiliates is not None else None
    school_ids = sa.select(s.school_id).where(s.affiliate_id.in_(mine)) if mine is not None else None
    out: dict[str, pd.DataFrame] = {}
    for table in contract.TABLES:
        t = db.metadata.tables[table]
        where: list[sa.ColumnElement[bool]] = []
        if "school_year" in t.c:
            where.append(t.c.school_year == school_year)
        if mine is not None:
            if "affiliate_id" in t.c and table != "schools":
                where.append(t.c.affiliate_id.in_(mine))
            elif table == "schools":
                where.append(s.affiliate_id.in_(mine))
            elif table == "partners":
                ps = db.partnerships.c
                where.append(t.c.partner_id.in_(
                    sa.select(ps.partner_id).where(ps.school_id.in_(school_ids), ps.school_year == school_year)))  # fmt: skip
            else:
                where.append(t.c.school_id.in_(school_ids))
        approximate = [t.c.approximate_location] if "approximate_location" in t.c else []
        keys = [t.c[k] for k in contract.TABLES[table][0]]
        stmt = sa.select(*(t.c[c] for c in contract.columns(table)), *approximate).where(*where).order_by(*keys)
        frame = read_frame(engine, stmt)
        if approximate:
            frame.loc[frame["approximate_location"].astype(bool), ["latitude", "longitude"]] = None
            frame = frame.drop(columns="approximate_location")
        out[table] = frame
    return out


def rows_xlsx(frames: dict[str, pd.DataFrame]) -> bytes:
    """A workbook with a sheet per table holding its rows under the contract header: a file to edit and upload."""
    wb = Workbook(write_only=True)
    for table, frame in frames.items():
        ws = wb.create_sheet(table)
        ws.append(list(frame.columns))
        for record in frame.itertuples(index=False):
            ws.append([None if (v is None or (isinstance(v, float) and v != v)) else v for v in record])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


HISTORY_LABELS = {"load_id": "Load", "loaded_by": "Loaded by", "loaded_at": "When (UTC)", "rows_added": "Rows added",
                  "rows_changed": "Rows changed", "status": "Status", "summary": "What it did"}  # fmt: skip
COUNT_LABELS = {"table": "Table", "added": "Rows added", "changed": "Rows changed", "unchanged": "Rows unchanged"}


def history_for_people(history: pd.DataFrame) -> pd.DataFrame:
    """load_history with headers a person reads ('Rows added', not rows_added) and statuses in words."""
    out = history.assign(
        status=history["status"].map({"loaded": "in place", "undone": "undone"}).fillna(history["status"])
    )
    return out.rename(columns=HISTORY_LABELS)
