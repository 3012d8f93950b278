"""Downloads: CSV for people (display headers, numbers rounded with their unit, one line naming the view) and
text neutralised against formula injection in spreadsheets."""

from __future__ import annotations

import pandas as pd

from dashboard.formatting import LABELS

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Headers the label registry (formatting.LABELS) does not hold; any other code name reads with its underscores
# as spaces ('schools_reached' -> 'Schools reached').
COLUMN_LABELS = {
    "school_year": "School year", "state": "State", "state_name": "State", "affiliate_id": "Affiliate ID",
    "affiliate": "Affiliate", "school_id": "School ID", "school": "School", "name": "Name", "city": "City",
    "tier": "Tier", "metric": "Outcome", "metric_label": "Outcome", "eligible": "Eligible students",
    "met": "Students who met it", "rate_label": "Rate as shown", "n_label": "Eligible students as shown",
    "suppressed": "Withheld", "students": "Students", "enrollment": "Enrolment", "tier1_students": "Tier 1 students",
    "tier2_students": "Tier 2 students", "in_kind_usd": "In-kind gifts (USD)",
    "partner_volunteer_hours": "Volunteer hours (partners' reports)", "amount_usd": "Amount (USD)",
    "expenses_usd": "Expenses (USD)", "services": "Services", "category": "Category", "line": "Line",
    "level": "School level", "locale": "Locale", "title_i": "Title I", "place": "Place", "benchmark": "Benchmark",
    "staff": "Site coordinators and staff (FTE)",
}  # fmt: skip
# Columns whose cells are metric codes ('graduated'), written as their labels.
CODE_COLUMNS = {"metric", "measure", "outcome"}
# Columns holding a share of 1: written as percents, to one decimal, with '(%)' in the header.
SHARE_NAMES = {"rate", "share", "peer_rate", "state_rate", "national_rate", "attribution_share"}


def _neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(frame: pd.DataFrame, heading: str | None = None) -> bytes:
    """UTF-8 CSV of the frame, after `heading` as one line starting '# ' when given; text cells that a spreadsheet
    would run as a formula are prefixed with '."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(_neutralise)
    body = safe.to_csv(index=False)
    if heading:
        body = "# " + " ".join(str(_neutralise(heading)).split()) + "\n" + body
    return body.encode("utf-8")


def is_share(name: str) -> bool:
    """Whether a column of this code name holds shares of 1 (rates, shares)."""
    return name in SHARE_NAMES or name.endswith(("_rate", "_share"))


def header(name: str) -> str:
    """A column's display header: the label registry's, else ours, else the code name in words; a share's says
    it is in percent."""
    if name in LABELS or name in COLUMN_LABELS:
        label = LABELS.get(name) or COLUMN_LABELS[name]
    elif name.endswith("_usd"):
        label = name.removesuffix("_usd").replace("_", " ").capitalize() + " (USD)"
    elif "_" in name or name.islower():
        label = name.replace("_", " ").capitalize() + (" (USD)" if name.startswith("cost_") else "")
    else:  # already a header ('Change (pts)')
        label = name
    return f"{label} (%)" if is_share(name) else label


def for_people(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a person reads it in a spreadsheet: display headers; outcome codes as their labels; shares as
    percents to one decimal; other fractional numbers to two decimals (dollars to the cent, hours, points); yes/no
    for true/false. Text already shown on screen ('<10', 'hidden', '>=95%') is left as it is."""
    out = pd.DataFrame(index=frame.index)
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            column = column.map({True: "yes", False: "no"})
        elif pd.api.types.is_float_dtype(column):
            column = (column * 100).round(1) if is_share(str(name)) else column.round(2)
        elif column.dtype == object or pd.api.types.is_string_dtype(column):
            if name in CODE_COLUMNS:
                column = column.map(lambda v: LABELS.get(v, v) if isinstance(v, str) else v)
            if is_share(str(name)):  # a share column holding labels too: the numbers still read as percents
                column = column.map(lambda v: round(v * 100, 1) if isinstance(v, float) else v)
        title = header(str(name))
        out[title if title not in out.columns else f"{title} ({name})"] = column
    return out
