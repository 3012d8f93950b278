"""KPI cards with the change from the year before; student counts read their stored suppression status."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import config, formatting, privacy

# Counts of students (not of schools, partners or adult volunteers): these fall under small-cell suppression.
STUDENT_COUNTS = frozenset({"students_served", "case_managed", "tier1_students", "tier2_students", "enrollment"})


def _threshold() -> int:
    return int(config.get("suppression_threshold"))


def _label(row: pd.Series, column: str) -> str | None:
    """The label a student count reads instead of its number ('<10', 'hidden'), from its stored status; None when
    it is shown or is not a count of students. A student count without a status is hidden."""
    if column not in STUDENT_COUNTS:
        return None
    return privacy.count_label(row.get(f"{column}_status"), _threshold())


def cards(current: pd.Series, previous: pd.Series | None, columns: list[str], per_row: int = 4) -> None:
    """One st.metric per column, compact numbers, delta against the previous year where both years are shown."""
    for start in range(0, len(columns), per_row):
        for slot, column in zip(st.columns(per_row), columns[start : start + per_row], strict=False):
            value = current[column]
            hidden = _label(current, column)
            delta = None
            if previous is not None and column in previous and not hidden and not _label(previous, column):
                delta = formatting.compact(value - previous[column])
            slot.metric(formatting.LABELS.get(column, column), hidden or formatting.compact(value), delta)


def rate_cards(rates: pd.DataFrame, previous: pd.DataFrame | None, metrics: list[str]) -> None:
    """One st.metric per outcome rate (met / eligible), with n in the help text; small groups suppressed or coded."""
    threshold, top_code_below = _threshold(), int(config.get("top_coding_below"))
    for slot, metric in zip(st.columns(len(metrics)), metrics, strict=True):
        row = rates[rates["metric"] == metric]
        if row.empty:
            slot.metric(formatting.LABELS[metric], "–")
            continue
        met, eligible = int(row["met"].iloc[0]), int(row["eligible"].iloc[0])
        status = row["status"].iloc[0] if "status" in row else None
        shown = privacy.published_rate(met, eligible, status, threshold, top_code_below)
        # Only exact rates carry a change: a coded or hidden one would leak it back.
        exact = _exact(row, top_code_below)
        delta, colour = None, "normal"
        if previous is not None and exact:
            prev = previous[previous["metric"] == metric]
            if not prev.empty and _exact(prev, top_code_below):
                points = (met / eligible - prev["met"].iloc[0] / prev["eligible"].iloc[0]) * 100
                # A change that rounds to nothing gets no arrow: "-0.0" would read as a fall.
                delta, colour = (f"{points:+.1f} pts", "normal") if round(points, 1) else ("no change", "off")
        n = privacy.suppressed_label(threshold) if eligible < threshold else f"{eligible:,}"
        if status == "hidden":
            n = privacy.HIDDEN_LABEL
        # "no change" carries no arrow: an up arrow beside it would read as a rise.
        slot.metric(formatting.LABELS[metric], shown, delta, delta_color=colour,
                    delta_arrow="off" if colour == "off" else "auto",
                    help=f"n = {n} eligible tier 2 and 3 students")  # fmt: skip


def _exact(row: pd.DataFrame, top_code_below: int) -> bool:
    """Whether a rate row is published exactly: its stored status says shown (or, without one, it is too large to
    code)."""
    if "status" in row:
        return row["status"].iloc[0] == "shown"
    return int(row["eligible"].iloc[0]) >= top_code_below
