"""Small-cell suppression for student counts and rates, in the style of FERPA disclosure avoidance.

Primary suppression hides cells built from fewer than `threshold` students. Complementary suppression then
hides a second cell wherever a group total could otherwise be used to recover a single hidden cell by
subtraction. Rates from small (but not suppressed) cells near 0% or 100% are top/bottom coded, because
"100% of 12 students met the goal" identifies every one of them; the ranges are dashboard.disclosure's, which
always hold at least three possible counts (">=80%" of 10 to 19 students, ">=90%" of 20 to 39, and so on).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboard import disclosure
from dashboard.formatting import percent, percents

DEFAULT_THRESHOLD = 10
SUPPRESSED = f"<{DEFAULT_THRESHOLD}"
HIDDEN_LABEL = "hidden"


def suppressed_label(threshold: int = DEFAULT_THRESHOLD) -> str:
    """The label shown in place of a suppressed value, e.g. '<10'."""
    return f"<{threshold}"


def suppress_rates(
    frame: pd.DataFrame,
    groups: list[list[str]],
    threshold: int = DEFAULT_THRESHOLD,
    top_code_below: int = disclosure.CODE_BELOW,
    n_col: str = "eligible",
    met_col: str = "met",
) -> pd.DataFrame:
    """A copy of `frame` with small cells suppressed, rates top/bottom coded and labelled for display."""
    _check_threshold(threshold)
    _check_columns(frame, [n_col, met_col], groups)
    eligible = _as_int_array(frame[n_col], n_col)
    met = _as_int_array(frame[met_col], met_col)
    if (eligible < 0).any() or (met < 0).any():
        raise ValueError(f"{n_col} and {met_col} must not be negative")
    if (met > eligible).any():
        raise ValueError(f"{met_col} must not exceed {n_col}")

    if "status" in frame.columns:
        # The published cells' stored decision (queries.outcome_rates): nothing is decided again here.
        status = frame["status"].to_numpy()
        primary = status == "small"
        hidden = primary | (status == "hidden")
    else:
        # eligible == 0 is below any threshold >= 1, so a zero-student cell is always suppressed (no rate exists).
        primary = eligible < threshold
        hidden = _complementary(frame, primary, eligible, groups)

    with np.errstate(divide="ignore", invalid="ignore"):
        raw_rate = np.where(eligible > 0, met / np.where(eligible > 0, eligible, 1), np.nan)
    codable = ~hidden & (eligible >= threshold) & (eligible < top_code_below)
    if "status" in frame.columns:
        codable = frame["status"].to_numpy() == "coded"
    coded = [disclosure.coded_range(int(n), int(m), top_code_below) if c else None
             for n, m, c in zip(eligible, met, codable, strict=True)]  # fmt: skip
    top = np.array([r is not None and r[1] == n for r, n in zip(coded, eligible, strict=True)], dtype=bool)
    bottom = np.array([r is not None and r[0] == 0 and r[1] != n for r, n in zip(coded, eligible, strict=True)],
                      dtype=bool)  # fmt: skip

    rate = raw_rate.astype(float)
    # A coded rate is drawn at its cut, the edge of the range it reads as.
    cuts = np.array([disclosure.coding_cut(int(n)) if n > 0 else 1.0 for n in eligible])
    rate[top] = cuts[top]
    rate[bottom] = 1 - cuts[bottom]
    rate[hidden] = np.nan

    pairs = zip(eligible, met, top | bottom, strict=True)
    coded_labels = np.array([disclosure.coded_label(int(n), int(m)) if c else "" for n, m, c in pairs], dtype=object)
    # A cell hidden only to protect another is not fewer than the threshold, and must not read as if it were.
    labels = np.select(
        [primary, hidden, top | bottom],
        [suppressed_label(threshold), HIDDEN_LABEL, coded_labels],
        default=percents(np.where(hidden, 0.0, rate)),
    )

    out = frame.copy()
    out[n_col] = _masked(eligible, hidden)
    # A coded cell that still showed `met` next to `eligible` would give the exact rate away, so hide it too.
    out[met_col] = _masked(met, hidden | top | bottom)
    out["rate"] = rate
    out["rate_label"] = pd.Series(labels, index=frame.index, dtype="str")
    out["suppressed"] = hidden
    out["coded"] = top | bottom
    return out


def suppress_counts(
    frame: pd.DataFrame,
    value_cols: list[str],
    groups: list[list[str]],
    threshold: int = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """A copy of `frame` with rows holding any count in 1..threshold-1 (and their complements) blanked.

    Decided here, for this frame alone: only for counts no published cell holds (students and services per support
    category). Student counts of `school_years` carry their stored status instead (`published_counts`).
    """
    _check_threshold(threshold)
    if not value_cols:
        raise ValueError("value_cols must name at least one column")
    _check_columns(frame, value_cols, groups)
    values = {col: _as_int_array(frame[col], col) for col in value_cols}
    if any((v < 0).any() for v in values.values()):
        raise ValueError("counts must not be negative")

    # A true zero is not a small cell: nobody can be identified from an empty count.
    primary = np.zeros(len(frame), dtype=bool)
    for v in values.values():
        primary |= (v > 0) & (v < threshold)
    hidden = _complementary(frame, primary, values[value_cols[0]], groups)

    out = frame.copy()
    for col, v in values.items():
        out[col] = _masked(v, hidden)
    out["suppressed"] = hidden
    return out


def _complementary(
    frame: pd.DataFrame, primary: np.ndarray, size: np.ndarray, groups: Sequence[Sequence[str]]
) -> np.ndarray:
    """Primary mask plus complementary suppressions, repeated over all groupings until stable."""
    hidden = primary.copy()
    # Positions rather than index labels, so duplicate or non-range indexes cannot confuse the lookup.
    members = [_group_positions(frame, list(cols)) for cols in groups]
    changed = True
    while changed:  # terminates: each pass either hides at least one more row or stops
        changed = False
        for grouping in members:
            for positions in grouping:
                if len(positions) < 2 or hidden[positions].sum() != 1:
                    continue
                shown = positions[~hidden[positions]]
                # Smallest shown cell costs the least information; ties go to the first row for determinism.
                pick = shown[np.argmin(size[shown])]
                hidden[pick] = True
                changed = True
    return hidden


def _group_positions(frame: pd.DataFrame, cols: list[str]) -> list[np.ndarray]:
    """Row positions of each group; [] means the whole frame is one group."""
    if not cols:
        return [np.arange(len(frame))]
    if len(frame) == 0:
        return []
    grouped = frame.reset_index(drop=True).groupby(cols, dropna=False, sort=False)
    return [np.asarray(p, dtype=np.intp) for p in grouped.indices.values()]


def _masked(values: np.ndarray, hide: np.ndarray) -> pd.arrays.IntegerArray:
    """Nullable Int64 array with pd.NA wherever `hide` is set."""
    return pd.arrays.IntegerArray(values.astype(np.int64), hide.astype(bool))


def _as_int_array(column: pd.Series, name: str) -> np.ndarray:
    """Column as int64 numpy, refusing missing or fractional values that would make counts meaningless."""
    if column.isna().any():
        raise ValueError(f"{name} must not contain missing values")
    as_float = pd.to_numeric(column).to_numpy(dtype=float)
    if not np.all(np.equal(np.floor(as_float), as_float)):
        raise ValueError(f"{name} must hold whole numbers")
    return as_float.astype(np.int64)


def _check_threshold(threshold: int) -> None:
    """Refuse thresholds that would suppress nothing, not even empty cells."""
    if threshold < 1:
        raise ValueError("threshold must be at least 1")


def _check_columns(frame: pd.DataFrame, needed: list[str], groups: Sequence[Sequence[str]]) -> None:
    """Fail early with every missing column named, rather than a bare KeyError deep in groupby."""
    missing = sorted({c for c in needed if c not in frame.columns} | {c for g in groups for c in g if c not in frame})
    if missing:
        raise KeyError(f"columns not in frame: {missing}")


def shown_rate(met: int, eligible: int, threshold: int = DEFAULT_THRESHOLD,
               top_code_below: int = disclosure.CODE_BELOW) -> str:  # fmt: skip
    """A single rate as it may be shown: '<10' on too few students, a range such as '>=95%' when coded, else '87%'."""
    _check_threshold(threshold)
    if eligible < threshold:
        return suppressed_label(threshold)
    if disclosure.coded_range(eligible, met, top_code_below) is not None:
        return disclosure.coded_label(eligible, met)
    return percent(met / eligible)


def published_rate(met: int, eligible: int, status: str | None, threshold: int = DEFAULT_THRESHOLD,
                   top_code_below: int = disclosure.CODE_BELOW) -> str:  # fmt: skip
    """A rate as its stored status allows: '<10' (small), 'hidden' (protecting another), a coded range, or '87%'.
    Without a status (a figure not from the published cells) it is decided as shown_rate does."""
    if status == "small":
        return suppressed_label(threshold)
    if status == "hidden":
        return HIDDEN_LABEL
    if status == "coded":
        return disclosure.coded_label(eligible, met)
    if status == "shown":
        return percent(met / eligible)
    return shown_rate(met, eligible, threshold, top_code_below)


# Columns of kpi_totals-shaped frames that count students (schools, partners and adult volunteers are not).
STUDENT_COLUMNS = ("enrollment", "students_served", "tier1_students", "tier2_students", "case_managed", "students")


def count_label(status: object, threshold: int = DEFAULT_THRESHOLD) -> str | None:
    """What a student count with this stored status reads instead of its number: None when it is shown, '<10'
    when it is small, 'hidden' when it is hidden to protect another, or has no status (nothing unpublished)."""
    if status == disclosure.SHOWN:
        return None
    return suppressed_label(threshold) if status == disclosure.SMALL else HIDDEN_LABEL


def published_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every student count whose stored status ('<count>_status', queries.count_status)
    is not 'shown' blanked (<NA>), and `suppressed` marking rows with any count blanked.

    Decides nothing: a student count without its status column is refused, so no page can fall back to a
    decision of its own.
    """
    columns = [c for c in STUDENT_COLUMNS if c in frame.columns]
    missing = [c for c in columns if f"{c}_status" not in frame.columns]
    if missing:
        raise KeyError(f"student counts without a stored status: {missing}")
    out = frame.copy()
    suppressed = np.zeros(len(frame), dtype=bool)
    for column in columns:
        hide = (out[f"{column}_status"] != disclosure.SHOWN).to_numpy()
        out[column] = pd.to_numeric(out[column]).astype("Int64").mask(hide)
        suppressed |= hide
    out["suppressed"] = suppressed
    return out


def with_labels(frame: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """The frame for a table or download: each suppressed student count reads its label ('<10' when small,
    'hidden' when it protects another) instead of an empty cell; the status columns are left out."""
    out = frame.copy()
    for column in (c for c in STUDENT_COLUMNS if c in out.columns):
        status = out.get(f"{column}_status")
        if status is not None:
            # A row without a status (a partner on the map) has no student count to label.
            labels = status.map(lambda s: None if pd.isna(s) else count_label(s, threshold))
            out[column] = out[column].astype(object).where(labels.isna(), labels)
        elif out[column].isna().any():
            out[column] = out[column].astype(object).where(out[column].notna(), suppressed_label(threshold))
    return out.drop(columns=[c for c in out.columns if str(c).endswith("_status")])
