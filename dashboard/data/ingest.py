"""Load the contract's tables from uploaded files (read by upload_files): validate everything, then upsert and
audit in one transaction; and undo a load."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dashboard import config
from dashboard.data import contract, db, geo, migrate, rollup, upload_files
from dashboard.data.queries import EVERYTHING, Scope
from dashboard.data.upload_files import Limits, Problem, ProblemList

CHUNK = 20_000
LOCK_KEY = 0x64617368_6C6F6164  # "dashload": the advisory lock every load and undo takes on PostgreSQL

# Columns by kind of value; the rest are plain text.
ID_COLUMNS = ("affiliate_id", "school_id", "partner_id")
INT_COLUMNS = (
    "enrollment",
    "students_served",
    "tier1_students",
    "tier2_students",
    "tier3_students",
    "volunteers",
    "tier",
    "eligible",
    "met",
    "students",
    "services",
)
FLOAT_COLUMNS = ("latitude", "longitude", "site_coordinators", "volunteer_hours", "in_kind_usd", "amount_usd")
OPTIONAL_COLUMNS = ("latitude", "longitude")
BOOL_VALUES = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
GEO_TABLES = ("affiliates", "schools", "partners")

# table -> column -> allowed values (finances' category depends on line, checked apart).
ENUMS: dict[str, dict[str, tuple[Any, ...]]] = {
    "affiliates": {"kind": contract.KINDS},
    "schools": {"level": contract.LEVELS, "locale": contract.LOCALES},
    "partners": {"category": contract.PARTNER_CATEGORIES},
    "outcomes": {"tier": contract.OUTCOME_TIERS, "metric": contract.METRICS},
    "supports": {"tier": (1, 2, 3), "category": contract.SUPPORT_CATEGORIES},
    "partnerships": {"category": contract.SUPPORT_CATEGORIES},
    "finances": {"line": ("revenue", "expense")},
}
FINANCE_CATEGORIES = {"revenue": contract.REVENUE_CATEGORIES, "expense": contract.EXPENSE_CATEGORIES}

# (table, column) -> referenced table.
FOREIGN_KEYS: dict[tuple[str, str], str] = {
    ("schools", "affiliate_id"): "affiliates",
    ("school_years", "school_id"): "schools",
    ("outcomes", "school_id"): "schools",
    ("supports", "school_id"): "schools",
    ("partnerships", "school_id"): "schools",
    ("partnerships", "partner_id"): "partners",
    ("finances", "affiliate_id"): "affiliates",
}
KEY_OF = {"affiliates": "affiliate_id", "schools": "school_id", "partners": "partner_id"}
ROLLED_UP = ("school_years", "outcomes", "partnerships")  # the fact tables rollup.refresh sums
# Columns of the dimension tables that the rollups are keyed by: a change to one moves rows in every year.
MOVES_EVERY_YEAR = {"schools": ("state", "affiliate_id"), "partners": ("category",)}

# load_changes' row_key for "this load added rows to this table": one row per table instead of one per row, since
# the rows a load added are the rows still carrying its load_id once the rows it changed are restored.
ADDED = "*"

INTEGER = re.compile(r"^-?\d+(\.0*)?$")
FLOAT = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d*)?$")


@dataclass
class TableCounts:
    """Rows of one table a load added, changed and left unchanged."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass
class LoadReport:
    """What a load did or would do: per-table counts, problems (nothing written if any), warnings."""

    counts: dict[str, TableCounts] = field(default_factory=dict)
    problems: ProblemList = field(default_factory=ProblemList)
    warnings: list[Problem] = field(default_factory=list)
    load_id: int | None = None
    dry_run: bool = False
    # Per table, the first CHANGE_SAMPLE changed values: row (its key), column, before, after.
    changes: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the files passed every check."""
        return not self.problems

    @property
    def problem_count(self) -> int:
        """Every problem found, listed or only counted."""
        return upload_files.problem_count(self.problems)

    def summary_lines(self) -> list[str]:
        """One line per table (added, changed, unchanged), or one line per problem."""
        if not self.ok:
            lines = [f"{self.problem_count:,} problem(s); nothing was written:"] + [str(p) for p in self.problems]
            if self.problem_count > len(self.problems):
                lines.append(f"... and {self.problem_count - len(self.problems):,} more problem(s), not listed")
            return lines
        lines = [
            f"{name:<13} {c.added:>9,} added {c.changed:>9,} changed {c.unchanged:>9,} unchanged"
            for name, c in self.counts.items()
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        if self.dry_run:
            lines.append("dry run: nothing was written")
        elif self.load_id is not None:
            lines.append(f"load {self.load_id} recorded")
        return lines


class LoadError(RuntimeError):
    """A load or undo can't run: the load is unknown or already undone, or another load holds the database."""


class _Checker:
    """Collects problems for one file, vectorised over its rows."""

    def __init__(self, file: str, frame: pd.DataFrame, problems: list[Problem]) -> None:
        self.file, self.frame, self.problems = file, frame, problems
        self.rows = np.arange(len(frame)) + 2  # spreadsheet row numbers: header is row 1
        self.bad = pd.Series(False, index=frame.index)

    def flag(self, mask: pd.Series, column: str, message: str, value: pd.Series | None = None) -> None:
        """Add one problem for each row where mask is true."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        self.bad |= mask
        values = (value if value is not None else self.frame[column])[mask]
        for i, (row, val) in enumerate(zip(self.rows[mask.to_numpy()], values, strict=True)):
            if getattr(self.problems, "full", False):  # counted, not built: a hostile file may break a million rows
                self.problems.unlisted += len(values) - i
                return
            self.problems.append(Problem(self.file, int(row), column, str(val), message))


def _validate(table: str, frame: pd.DataFrame, file: str, problems: list[Problem],
              warnings: list[Problem]) -> pd.DataFrame | None:  # fmt: skip
    """The typed frame of a table whose columns are all present (values may still be flagged bad)."""
    wanted = contract.columns(table)
    missing = [c for c in wanted if c not in frame.columns]
    for col in missing:
        problems.append(Problem(file, 1, col, None, f"required column {col!r} is missing from the header"))
    for col in frame.columns:
        if col not in wanted:
            warnings.append(Problem(file, 1, col, None, f"unknown column {col!r} ignored"))
    if missing:
        return None
    raw = frame[list(wanted)]
    check = _Checker(file, raw, problems)
    out = pd.DataFrame(index=raw.index)
    for col in wanted:
        s = raw[col]
        blank = s == ""
        if col in OPTIONAL_COLUMNS:
            pass
        else:
            check.flag(blank, col, "value is required")
        filled = ~blank
        if col in ID_COLUMNS:
            check.flag(filled & ~s.str.fullmatch(contract.IDENTIFIER.pattern[1:-1]), col,
                       "identifier must be 1-40 letters, digits, '-' or '_'")  # fmt: skip
            out[col] = s
        elif col == "school_year":
            uniq = {v: contract.normalise_school_year(v) for v in s.unique()}
            norm = s if all(k == v for k, v in uniq.items()) else s.map(uniq)
            check.flag(filled & norm.isna(), col, "school year must be written like 2021-22 (or 2021-2022)")
            out[col] = norm
        elif col in INT_COLUMNS or col in FLOAT_COLUMNS:
            pattern = INTEGER if col in INT_COLUMNS else FLOAT
            good = s.str.fullmatch(pattern.pattern).fillna(False) & filled
            wrong = filled & ~good
            if wrong.any():
                thousands = wrong & s.str.fullmatch(THOUSANDS.pattern)
                percent = wrong & s.str.endswith("%")
                check.flag(thousands, col, "thousands separators are not allowed: write 1200, not 1,200")
                check.flag(percent, col, "percent signs are not allowed: the contract takes counts, not percentages")
                kind = "a whole number" if col in INT_COLUMNS else "a number"
                check.flag(wrong & ~thousands & ~percent, col, f"must be {kind}")
            num = _numbers(s if good.all() else s.where(good))
            if col not in ("latitude", "longitude"):
                check.flag(num < 0, col, "must not be negative")
            if col in INT_COLUMNS:
                largest = _largest_integer(db.metadata.tables[table].c[col])
                check.flag(num > largest, col, f"is too large for the database: whole numbers here may be at most "
                           f"{largest:,}")  # fmt: skip
            else:
                check.flag(num.abs() == np.inf, col, "is too large for the database: numbers may be at most about "
                           "1.8e308")  # fmt: skip
            out[col] = num
        elif col == "title_i":
            b = s.str.lower().map(BOOL_VALUES)
            check.flag(filled & b.isna(), col, "must be true or false")
            out[col] = b
        elif col == "state":
            check.flag(filled & ~s.isin(list(geo.STATES)), col, "unknown state: use a two-letter USPS code such as TX")
            out[col] = s
        else:
            if col in ("name", "city"):
                formula = s.str.match(r"^[=+@]") | s.str.match(r"^-[^\d]")
                if formula.any():
                    for row, val in zip(check.rows[formula.to_numpy()], s[formula], strict=True):
                        warnings.append(Problem(file, int(row), col, val, "starts like a spreadsheet formula; "
                                                "stored as plain text, never evaluated"))  # fmt: skip
            length = getattr(db.metadata.tables[table].c[col].type, "length", None)
            if length and col not in ENUMS.get(table, {}):  # an enumeration value is checked against its list
                lengths = s.str.len()
                shown = s.str.slice(0, 60) + "... (" + lengths.astype(str) + " characters)"
                check.flag(lengths > length, col, f"is longer than the {length} characters the database holds: "
                           "shorten it", shown.where(lengths > 60, s))  # fmt: skip
            out[col] = s
    for col, allowed in ENUMS.get(table, {}).items():
        check.flag(out[col].notna() & (raw[col] != "") & ~out[col].isin(allowed), col,
                   f"must be one of {', '.join(map(str, allowed))}")  # fmt: skip
    if table == "finances":
        for line, cats in FINANCE_CATEGORIES.items():
            check.flag((out["line"] == line) & ~out["category"].isin(cats), "category",
                       f"for line {line!r} must be one of {', '.join(cats)}")  # fmt: skip
    _check_rules(table, out, check)
    if table in GEO_TABLES:
        _locate(out, check)
    _check_duplicates(table, out, check)
    out["_row"] = check.rows
    out["_bad"] = check.bad.to_numpy()
    return out


def _largest_integer(column: sa.Column) -> int:
    """The largest value the column's integer type holds on PostgreSQL (SQLite holds 64 bits in any of them)."""
    if isinstance(column.type, sa.SmallInteger):
        return 2**15 - 1
    return 2**63 - 1 if isinstance(column.type, sa.BigInteger) else 2**31 - 1


def _numbers(s: pd.Series) -> pd.Series:
    """Floats of strings that matched INTEGER or FLOAT (missing as NaN), by one Arrow cast where that is exact."""
    try:
        num = s.astype("float64[pyarrow]").astype("float64")
    except (ImportError, TypeError, ValueError):  # no pyarrow, or a value its parser refuses
        return pd.to_numeric(s, errors="coerce")
    if (num.abs() >= 2**53).any():  # past exact floats: whole numbers stay exact the slow way
        return pd.to_numeric(s, errors="coerce")
    return num


def _check_rules(table: str, out: pd.DataFrame, check: _Checker) -> None:
    """Rules between columns of one row: met <= eligible, tiers <= served <= enrollment."""
    if table == "outcomes":
        check.flag(out["met"] > out["eligible"], "met", "met must not exceed eligible")
    if table == "school_years":
        check.flag(out["students_served"] > out["enrollment"], "students_served",
                   "students_served must not exceed enrollment")  # fmt: skip
        for col in ("tier1_students", "tier2_students", "tier3_students"):
            check.flag(out[col] > out["students_served"], col, f"{col} must not exceed students_served")


def _locate(out: pd.DataFrame, check: _Checker) -> None:
    """Fill blank coordinates from the gazetteer (marked approximate); flag coordinates outside the state."""
    blank = out["latitude"].isna() | out["longitude"].isna()
    blank &= check.frame["latitude"].eq("") | check.frame["longitude"].eq("")
    out["approximate_location"] = blank
    places = {(c, s) for c, s in zip(out.loc[blank, "city"], out.loc[blank, "state"], strict=True) if s in geo.STATES}
    found = {p: geo.locate(*p) for p in places}
    for idx in out.index[blank]:
        hit = found.get((out.at[idx, "city"], out.at[idx, "state"]))
        if hit:
            out.at[idx, "latitude"], out.at[idx, "longitude"] = hit[0], hit[1]
    boxes = pd.DataFrame(
        [(code, *box[2:]) for code, box in geo.STATES.items()], columns=["state", "lat0", "lat1", "lon0", "lon1"]
    ).set_index("state")
    b = boxes.reindex(out["state"]).set_axis(out.index)
    known = out["state"].isin(list(geo.STATES)) & out["latitude"].notna() & out["longitude"].notna()
    lat_out = known & ~out["latitude"].between(b["lat0"], b["lat1"])
    lon_out = known & ~out["longitude"].between(b["lon0"], b["lon1"])
    text = check.frame["latitude"] + ", " + check.frame["longitude"]
    check.flag(lat_out | lon_out, "latitude", "coordinates (latitude, longitude) lie outside the state", text)


def _check_duplicates(table: str, out: pd.DataFrame, check: _Checker) -> None:
    """Flag every repeat of a key already seen in the same file."""
    key = list(contract.TABLES[table][0])
    dup = out.duplicated(key, keep="first")
    if not dup.any():
        return
    rows = pd.Series(check.rows, index=out.index)
    first = rows.groupby([out[k] for k in key], dropna=False, sort=False).transform("first")
    check.bad |= dup
    for idx in out.index[dup]:
        k = "/".join(str(out.at[idx, c]) for c in key)
        message = f"duplicate key ({', '.join(key)}) = {k}: same as row {first[idx]}"
        check.problems.append(Problem(check.file, int(rows[idx]), key[0], k, message))


def _check_foreign_keys(conn: sa.Connection, frames: dict[str, pd.DataFrame], files: dict[str, str],
                        problems: list[Problem]) -> None:  # fmt: skip
    """Every referenced id must be in the database or in the same load."""
    known: dict[str, pd.Index] = {}
    for parent, col in KEY_OF.items():
        table = db.metadata.tables[parent]
        ids = list(conn.execute(sa.select(table.c[col])).scalars())
        if parent in frames:
            ids += frames[parent][col].unique().tolist()
        known[parent] = pd.Index(ids, dtype=object).unique()
    for (table, col), parent in FOREIGN_KEYS.items():
        if table not in frames:
            continue
        f = frames[table]
        # a hash lookup: Series.isin converts each of the many known ids to an Arrow scalar first
        found = known[parent].get_indexer(f[col]) >= 0
        missing = f[col].notna() & (f[col] != "") & ~found
        if missing.any():
            for row, val in zip(f.loc[missing, "_row"], f.loc[missing, col], strict=True):
                problems.append(Problem(files[table], int(row), col, val,
                                        f"{col} {val!r} is not in {parent}, neither in the database nor in this load"))  # fmt: skip


def _out_of_scope(allowed: frozenset[str]) -> str:
    return f"an affiliate lead may load only its own affiliates' rows ({', '.join(sorted(allowed))})"


def _check_scope(conn: sa.Connection, frames: dict[str, pd.DataFrame], files: dict[str, str], scope: Scope,
                 problems: list[Problem]) -> None:  # fmt: skip
    """Flag every row that names an affiliate outside the scope, or a school belonging to one (in the database
    or in this load); schools can't be moved between affiliates by a lead either."""
    allowed = scope.affiliates
    if allowed is None:
        return
    why = _out_of_scope(allowed)
    s = db.schools.c
    owner = dict(conn.execute(sa.select(s.school_id, s.affiliate_id)).tuples().all())
    loaded_owner = dict(zip(frames["schools"]["school_id"], frames["schools"]["affiliate_id"], strict=True)) \
        if "schools" in frames else {}  # fmt: skip

    def flag(table: str, mask: pd.Series, column: str, message: str) -> None:
        f = frames[table]
        for row, val in zip(f.loc[mask, "_row"], f.loc[mask, column], strict=True):
            problems.append(Problem(files[table], int(row), column, val, message))

    for table in ("affiliates", "finances"):
        if table in frames:
            f = frames[table]
            flag(table, f["affiliate_id"].ne("") & ~f["affiliate_id"].isin(allowed), "affiliate_id",
                 f"this affiliate is not one of yours: {why}")  # fmt: skip
    if "schools" in frames:
        f = frames["schools"]
        flag(
            "schools",
            f["affiliate_id"].ne("") & ~f["affiliate_id"].isin(allowed),
            "affiliate_id",
            f"this affiliate is not one of yours: {why}",
        )
        current = f["school_id"].map(owner)
        flag("schools", current.notna() & ~current.isin(allowed), "school_id",
             f"this school belongs to another affiliate in the database: {why}")  # fmt: skip
    for table in ("school_years", "outcomes", "supports", "partnerships"):
        if table not in frames:
            continue
        f = frames[table]
        current, incoming = f["school_id"].map(owner), f["school_id"].map(loaded_owner)
        foreign = (current.notna() & ~current.isin(allowed)) | (incoming.notna() & ~incoming.isin(allowed))
        flag(table, foreign, "school_id", f"this school belongs to another affiliate: {why}")


def _check_shared_rows(diffs: dict[str, tuple], frames: dict[str, pd.DataFrame], files: dict[str, str],
                       scope: Scope, problems: list[Problem]) -> None:  # fmt: skip
    """Partners are shared by the whole network: a lead may add new ones but not change existing ones."""
    if scope.affiliates is None or "partners" not in diffs:
        return
    changed = diffs["partners"][1]
    if changed.empty:
        return
    f = frames["partners"]
    mask = f["partner_id"].isin(set(changed["partner_id"]))
    for row, val in zip(f.loc[mask, "_row"], f.loc[mask, "partner_id"], strict=True):
        problems.append(Problem(files["partners"], int(row), "partner_id", val,
                                "this partner is shared by the network and already recorded with other values: "
                                "an affiliate lead may add partners but only an admin may change one"))  # fmt: skip


def _native(value: Any) -> Any:
    """A JSON- and DBAPI-friendly Python value (NaN as None)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return _native(value.item())
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of native Python values, missing values as None."""
    if frame.empty:
        return []
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _frame(conn: sa.Connection, stmt: sa.Select, columns: list[str]) -> pd.DataFrame:
    """A query's rows as a frame with the given columns."""
    return pd.DataFrame([tuple(r) for r in conn.execute(stmt)], columns=columns)


def _existing(conn: sa.Connection, table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The database's rows of this table that could share a key with the load."""
    t = db.metadata.tables[table]
    key = contract.TABLES[table][0]
    names = [c.name for c in t.columns]
    if "school_year" in key:
        years = sorted(frame["school_year"].unique())
        stmt = sa.select(t).where(t.c.school_year.in_(years))
        if table != "finances":
            # narrow by school for small loads; whole years when the load is large
            schools = frame["school_id"].unique()
            if len(schools) <= 500:
                stmt = stmt.where(t.c.school_id.in_(list(schools)))
        return _frame(conn, stmt, names)
    if conn.execute(sa.select(t.c[key[0]]).limit(1)).first() is None:
        return pd.DataFrame(columns=names)
    ids = list(frame[key[0]].unique())
    parts = [
        _frame(conn, sa.select(t).where(t.c[key[0]].in_(ids[i : i + 900])), names) for i in range(0, len(ids), 900)
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=names)


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise equality that treats two missing values as equal and floats to 1e-9."""
    both_na = a.isna() & b.isna()
    if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
        x, y = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
        return both_na | ((x - y).abs() <= 1e-9 * np.maximum(1.0, y.abs()))
    if pd.api.types.is_bool_dtype(a) or pd.api.types.is_bool_dtype(b):
        return both_na | (a.astype("boolean") == b.astype("boolean")).fillna(False)
    return both_na | (a.astype(object) == b.astype(object)).fillna(False)


def _diff(conn: sa.Connection, table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """(rows to add, rows to change, their previous values, unchanged count)."""
    key = list(contract.TABLES[table][0])
    cols = [c for c in frame.columns if not c.startswith("_")]
    new = frame[cols].copy()
    for c in cols:
        if c in INT_COLUMNS:
            new[c] = new[c].astype("int64")
        elif c == "title_i" or c == "approximate_location":
            new[c] = new[c].astype(bool)
    old = _existing(conn, table, new)
    if old.empty:
        return new, new.iloc[0:0], old, 0
    for k in key:
        old[k] = old[k].astype(new[k].dtype)
    old_values = [c for c in old.columns if c not in key]
    merged = new.merge(old.rename(columns={c: f"{c}_old" for c in old_values}), on=key, how="left", indicator=True)
    is_new = merged["_merge"] == "left_only"
    same = pd.Series(True, index=merged.index)
    for c in cols:
        if c not in key:
            same &= _same(merged[c], merged[f"{c}_old"])
    changed = ~is_new & ~same
    previous = merged.loc[changed, key + [f"{c}_old" for c in old_values]]
    previous.columns = key + old_values
    return merged.loc[is_new, cols], merged.loc[changed, cols], previous, int((~is_new & same).sum())


CHANGE_SAMPLE = 500  # changed values listed per table in a review; the counts cover them all


def change_details(table: str, changed: pd.DataFrame, previous: pd.DataFrame, limit: int = CHANGE_SAMPLE
                   ) -> pd.DataFrame:  # fmt: skip
    """The values a load changes in `table`, one per row and column that differ: row (its key as
    'school_id 370… · school_year 2023-24'), column, before, after (as text, as the file and the database hold them);
    at most `limit`. `changed` and `previous` are _diff's, row for row."""
    key = list(contract.TABLES[table][0])
    rows: list[dict[str, str]] = []
    labels = [" · ".join(f"{k} {v}" for k, v in zip(key, values, strict=True))
              for values in changed[key].itertuples(index=False)]  # fmt: skip
    differs = {c: ~_same(changed[c].reset_index(drop=True), previous[c].reset_index(drop=True))
               for c in changed.columns if c not in key and c in previous.columns}  # fmt: skip
    after, before = changed.reset_index(drop=True), previous.reset_index(drop=True)
    for i, label in enumerate(labels):
        for column, mask in differs.items():
            if mask.iloc[i]:
                rows.append({"row": label, "column": column, "before": _text(before[column].iloc[i]),
                             "after": _text(after[column].iloc[i])})  # fmt: skip
                if len(rows) >= limit:
                    return pd.DataFrame(rows)
    return pd.DataFrame(rows, columns=["row", "column", "before", "after"])


def _text(value: Any) -> str:
    return "" if pd.isna(value) else str(value)


def _tuples(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Rows as tuples of native Python values (missing as None), built a column at a time."""
    columns = []
    for name in frame.columns:
        s = frame[name]
        if s.dtype != object and not s.hasnans:
            columns.append(s.tolist())
        elif pd.api.types.is_float_dtype(s.dtype):
            columns.append([None if v != v else v for v in s.tolist()])
        else:
            values = s.astype(object).where(s.notna(), None).tolist()
            if s.dtype == object:  # may hold numpy scalars
                values = [_native(v) for v in values]
            columns.append(values)
    return list(zip(*columns, strict=True)) if columns else []


def _row_keys(frame: pd.DataFrame, key: list[str]) -> list[str]:
    """Each row's key as the JSON text load_changes holds, e.g. {"school_id": "A1", "tier": 2}.

    Keys are validated identifiers, school years, tiers and enumeration values, so they are formatted column by
    column; anything else falls back to json.dumps, which gives the same text.
    """
    if frame.empty:
        return []
    parts = []
    for k in key:
        s = frame[k]
        if pd.api.types.is_integer_dtype(s.dtype):
            parts.append(f'"{k}": ' + s.astype(str))
            continue
        text = s.astype(str)
        if not text.str.fullmatch(r"[A-Za-z0-9_\-]*").all():
            return [json.dumps({k: _native(v) for k, v in zip(key, row, strict=True)}) for row in _tuples(frame[key])]
        parts.append(f'"{k}": "' + text + '"')
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + ", " + part
    return ("{" + joined + "}").tolist()


def _insert(conn: sa.Connection, t: sa.Table, frame: pd.DataFrame) -> None:
    """Insert the frame's rows in bulk on the load's transaction (db.bulk_insert)."""
    if not frame.empty:
        db.bulk_insert(conn, t, list(frame.columns), _tuples(frame))


def _write(conn: sa.Connection, table: str, added: pd.DataFrame, changed: pd.DataFrame, previous: pd.DataFrame,
           load_id: int) -> None:  # fmt: skip
    """Insert added rows, update changed ones and record both in load_changes (added ones by one ADDED row)."""
    t = db.metadata.tables[table]
    key = list(contract.TABLES[table][0])
    _insert(conn, t, added.assign(load_id=load_id))
    if len(changed):
        values = [c for c in changed.columns if c not in key] + ["load_id"]
        stmt = (
            t.update()
            .where(*[t.c[k] == sa.bindparam(f"k_{k}") for k in key])
            .values({c: sa.bindparam(f"v_{c}") for c in values})
        )
        upd = [
            {**{f"k_{k}": r[k] for k in key}, **{f"v_{c}": r[c] for c in values}}
            for r in _records(changed.assign(load_id=load_id))
        ]
        for i in range(0, len(upd), CHUNK):
            conn.execute(stmt, upd[i : i + CHUNK])
    marks = [ADDED] if len(added) else []
    audit = pd.DataFrame({
        "load_id": load_id,
        "table_name": table,
        "row_key": marks + _row_keys(previous, key),
        "previous": [None] * len(marks) + [json.dumps(r, default=str) for r in _records(previous)],
    })  # fmt: skip
    _insert(conn, db.load_changes, audit)


def _years_to_refresh(diffs: dict[str, tuple]) -> set[str] | None:
    """School years whose rollups a load changes, or None for all when a school moved state or affiliate or a
    partner changed category (the rollups hold them by place and by partner category, in every year)."""
    for table, columns in MOVES_EVERY_YEAR.items():
        if table in diffs:
            _, changed, previous, _ = diffs[table]
            for col in columns:
                if (changed[col].to_numpy() != previous[col].to_numpy()).any():
                    return None
    years: set[str] = set()
    for table in ROLLED_UP:
        if table in diffs:
            added, changed, _, _ = diffs[table]
            years |= set(added["school_year"].unique()) | set(changed["school_year"].unique())
    return years


def _hold_the_database(conn: sa.Connection) -> None:
    """Wait until no other load or undo runs on the database, then hold it until this transaction ends.

    Two loads diffing against the same rows would both insert them; the second would fail on a key. PostgreSQL
    takes an advisory lock, SQLite its write lock (BEGIN IMMEDIATE, so every read of the load sees the rows the
    previous one wrote). Raises LoadError after waiting DASHBOARD_LOAD_WAIT_SECONDS.
    """
    wait = float(config.get("load_wait_seconds"))
    busy = LoadError(f"another load or undo is running on this database and did not finish within {wait:g} "
                     "seconds; nothing was written: wait for it to finish, then try again")  # fmt: skip
    if conn.dialect.name == "postgresql":
        before = conn.execute(sa.text("SELECT current_setting('lock_timeout')")).scalar_one()
        conn.execute(sa.text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{int(wait * 1000)}ms"})
        try:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise busy from None
            raise
        conn.execute(sa.text("SELECT set_config('lock_timeout', :before, true)"), {"before": before})
    elif conn.dialect.name == "sqlite":
        before = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except sa.exc.OperationalError as exc:
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise busy from None
            raise
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(before)}")


def load_tables(engine: sa.Engine, paths: list[Path], loaded_by: str, dry_run: bool = False,
                max_bytes: int | None = None, scope: Scope = EVERYTHING) -> LoadReport:  # fmt: skip
    """Validate the files and, if they pass every check and this is no dry run, upsert them in one transaction.

    With an affiliate lead's scope, a file naming another affiliate (or one of its schools) is refused whole.
    """
    report = LoadReport(dry_run=dry_run)
    limit = upload_files.default_max_bytes() if max_bytes is None else max_bytes
    limits = Limits.configured()
    frames: dict[str, pd.DataFrame] = {}
    names: dict[str, str] = {}
    digests: list[dict[str, str]] = []
    files = upload_files.expand_folders(paths)
    if not files:
        report.problems.append(
            Problem(", ".join(map(str, paths)) or "(none)", None, None, None, "no CSV or XLSX files given")
        )
    for path in files:
        if path.suffix.lower() == ".csv" and path.stem not in contract.TABLES:
            report.problems.append(Problem(path.name, None, None, None,
                                           f"file name must be a contract table: {', '.join(contract.TABLES)}"))  # fmt: skip
            continue
        sheets, data = upload_files.read(path, limit, limits, report.problems, report.warnings)
        if sheets is None:
            continue
        digests.append({"name": path.name, "sha256": hashlib.sha256(data).hexdigest()})
        for table, label, raw in sheets:
            if table not in contract.TABLES:
                report.problems.append(Problem(label, None, None, None,
                                               f"sheet name must be a contract table: {', '.join(contract.TABLES)}"))  # fmt: skip
                continue
            if table in names:
                report.problems.append(Problem(label, None, None, None,
                                               f"table {table} is also given in {names[table]}"))  # fmt: skip
                continue
            names[table] = label
            typed = _validate(table, raw, label, report.problems, report.warnings)
            if typed is not None:
                frames[table] = typed
    order = [t for t in contract.TABLES if t in frames]
    with engine.begin() as conn:
        if not dry_run and not report.problems:
            _hold_the_database(conn)  # before the checks read, so they see the rows of a load that just finished
        _check_foreign_keys(conn, frames, names, report.problems)
        _check_scope(conn, frames, names, scope, report.problems)
        if report.problems:
            report.problems.sort(key=lambda p: (p.file, p.row or 0))
            return report
        diffs = {t: _diff(conn, t, frames[t]) for t in order}
        _check_shared_rows(diffs, frames, names, scope, report.problems)
        if report.problems:
            return report
        for t in order:
            added, changed, previous, unchanged = diffs[t]
            report.counts[t] = TableCounts(len(added), len(changed), unchanged)
            if len(changed):
                report.changes[t] = change_details(t, changed, previous)
        if dry_run:
            return report
        result = conn.execute(
            db.loads.insert().values(
                loaded_by=loaded_by,
                loaded_at=datetime.now(UTC),
                files=json.dumps(digests),
                rows_added=sum(c.added for c in report.counts.values()),
                rows_changed=sum(c.changed for c in report.counts.values()),
                status="loaded",
                summary="",
            )
        )
        report.load_id = int(result.inserted_primary_key[0])
        for t in order:
            added, changed, previous, _ = diffs[t]
            _write(conn, t, added, changed, previous, report.load_id)
        rollup.refresh(conn, _years_to_refresh(diffs))  # same transaction: facts and rollups change together
        conn.execute(
            db.loads.update()
            .where(db.loads.c.load_id == report.load_id)
            .values(summary="\n".join(report.summary_lines()))
        )
    return report


def undo_load(engine: sa.Engine, load_id: int, by: str | None = None, scope: Scope = EVERYTHING) -> dict[str, int]:
    """Restore every row the load changed, delete the rows it added, mark it undone; returns rows touched per table.

    With an affiliate lead's scope only the lead's own loads (recorded as loaded by `by`) may be undone.
    """
    touched: dict[str, int] = {}
    with engine.begin() as conn:
        _hold_the_database(conn)
        found = conn.execute(
            sa.select(db.loads.c.status, db.loads.c.loaded_by).where(db.loads.c.load_id == load_id)
        ).one_or_none()
        if found is None:
            raise LoadError(f"there is no load {load_id}")
        status, loaded_by = found
        if scope.affiliates is not None and (by is None or loaded_by != by):
            raise LoadError(f"load {load_id} was made by {loaded_by}: an affiliate lead may undo only its own "
                            "loads; ask an admin")  # fmt: skip
        if status != "loaded":
            raise LoadError(f"load {load_id} is {status}, not loaded")
        lc = db.load_changes.c
        changes = _frame(
            conn, sa.select(lc.table_name, lc.row_key, lc.previous).where(lc.load_id == load_id),
            ["table_name", "row_key", "previous"],
        )  # fmt: skip
        marked = set(changes.loc[changes["row_key"] == ADDED, "table_name"])
        changes = changes[changes["row_key"] != ADDED]
        later = (
            sa.select(lc.table_name, lc.row_key, lc.load_id, lc.previous)
            .join(db.loads, db.loads.c.load_id == lc.load_id)
            .where(lc.load_id > load_id, db.loads.c.status == "loaded", lc.row_key != ADDED)
        )
        same_key = _frame(conn, later, ["table_name", "row_key", "load_id", "previous"]).merge(
            changes[["table_name", "row_key"]], on=["table_name", "row_key"]
        )
        blockers = set(same_key["load_id"])
        if marked:
            # a later load that changed a row this load added recorded it with this load's id
            written_here = later.where(lc.table_name.in_(marked), lc.previous.like(f'%"load_id": {load_id}%'))
            for row in conn.execute(written_here):
                if json.loads(row.previous).get("load_id") == load_id:
                    blockers.add(row.load_id)
        if blockers:
            ids = ", ".join(map(str, sorted(blockers, reverse=True)))
            raise LoadError(f"rows of load {load_id} were changed again by load(s) {ids}; undo those first")
        years: set[str] | None = set()
        for table in reversed(contract.TABLES):
            t = db.metadata.tables[table]
            key = list(contract.TABLES[table][0])
            mine = changes[changes["table_name"] == table]
            if mine.empty and table not in marked:
                continue
            added = mine[mine["previous"].isna()]  # loads recorded before ADDED: one row per added row
            changed = mine[mine["previous"].notna()]
            where = [t.c[k] == sa.bindparam(f"k_{k}") for k in key]
            if len(changed):
                prev = [json.loads(p) for p in changed["previous"]]
                values = [c for c in prev[0] if c not in key]
                stmt = t.update().where(*where).values({c: sa.bindparam(f"v_{c}") for c in values})
                rows = [{**{f"k_{k}": p[k] for k in key}, **{f"v_{c}": p.get(c) for c in values}} for p in prev]
                for i in range(0, len(rows), CHUNK):
                    conn.execute(stmt, rows[i : i + CHUNK])
            deletes = [{f"k_{k}": v for k, v in json.loads(r).items()} for r in added["row_key"]]
            for i in range(0, len(deletes), CHUNK):
                conn.execute(t.delete().where(*where), deletes[i : i + CHUNK])
            removed = 0
            if table in marked:  # the rows it changed are restored above, so those left carrying its id it added
                if table in ROLLED_UP and years is not None:
                    added_years = sa.select(t.c.school_year).distinct().where(t.c.load_id == load_id)
                    years |= set(conn.execute(added_years).scalars())
                removed = conn.execute(t.delete().where(t.c.load_id == load_id)).rowcount
            if table in ROLLED_UP and years is not None:
                years |= {json.loads(r)["school_year"] for r in mine["row_key"]}
            if table in MOVES_EVERY_YEAR and len(changed):
                years = None  # a restored school or partner may move back to another state, affiliate or category
            touched[table] = len(mine) + removed
        rollup.refresh(conn, years)
        conn.execute(db.loads.update().where(db.loads.c.load_id == load_id).values(status="undone"))
    return touched


def cmd_load(args: argparse.Namespace) -> int:
    """Run `load` from the command line: 0 when loaded (or dry run passed), 1 when the files have problems."""
    try:
        engine = db.create_engine(args.database_url)
        migrate.upgrade(engine)
    except config.ConfigError as exc:
        print(f"error: {exc}")
        return 2
    from dashboard.data import users

    account = users.get_user(engine, args.user)
    scope = account.scope if account is not None else EVERYTHING
    if scope.affiliates is not None:
        print(f"loading as affiliate lead {args.user}: only rows of {', '.join(sorted(scope.affiliates))}")
    try:
        report = load_tables(engine, [Path(p) for p in args.paths], loaded_by=args.user, dry_run=args.dry_run,
                             scope=scope)  # fmt: skip
    except LoadError as exc:
        print(f"error: {exc}")
        return 1
    for line in report.summary_lines():
        print(line)
    return 0 if report.ok else 1


def register_cli(subparsers: Any) -> None:
    """Add `load PATH... [--dry-run] [--as USER] [--database-url URL]` to a CLI's subparsers."""
    p = subparsers.add_parser("load", help="validate and load contract tables from CSV files or folders")
    p.add_argument("paths", nargs="+", metavar="PATH", help="<table>.csv files, or folders holding them")
    p.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    p.add_argument(
        "--as",
        dest="user",
        default="cli",
        help="who the load is recorded as; an affiliate lead's account limits it to its own affiliates",
    )
    p.add_argument("--database-url", default=None, help="defaults to DASHBOARD_DATABASE_URL or the embedded SQLite")
    p.set_defaults(func=cmd_load)
