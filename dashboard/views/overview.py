"""The Overview's headline figures as text: each card's label, value and change from the year before.

The page draws them as st.metric cards and a brief prints them, so both read one decision: a student count reads
its stored status ('<10', 'hidden'), a rate its published form, and a change is given only where both years are
published exactly (a change beside a coded or hidden figure would give it back).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboard import formatting, privacy

# Counts of students (not of schools, partners or adult volunteers): these fall under small-cell suppression.
STUDENT_COUNTS = frozenset({"students_served", "case_managed", "tier1_students", "tier2_students", "enrollment"})


@dataclass(frozen=True)
class Card:
    """One headline figure: its label, the value as shown, the change as shown (None: no change to give), whether
    the change is flat ('no change'), and a note on its base (a rate's n)."""

    label: str
    value: str
    change: str | None = None
    flat: bool = False
    note: str | None = None


def _label(row: pd.Series, column: str, threshold: int) -> str | None:
    """The label a student count reads instead of its number ('<10', 'hidden'), from its stored status; None when
    it is shown or is not a count of students. A student count without a status is hidden."""
    if column not in STUDENT_COUNTS:
        return None
    return privacy.count_label(row.get(f"{column}_status"), threshold)


def count_cards(current: pd.Series, previous: pd.Series | None, columns: list[str], threshold: int) -> list[Card]:
    """A card per column of a kpi_totals row (with its `<count>_status` columns): compact numbers, the change
    from `previous` where both years are shown."""
    cards = []
    for column in columns:
        value = current[column]
        hidden = _label(current, column, threshold)
        change = None
        if previous is not None and column in previous and not hidden and not _label(previous, column, threshold):
            change = formatting.compact(value - previous[column])
        cards.append(Card(formatting.LABELS.get(column, column), hidden or formatting.compact(value), change))
    return cards


def _exact(row: pd.DataFrame, top_code_below: int) -> bool:
    """Whether a rate row is published exactly: its stored status says shown (or, without one, it is too large to
    code)."""
    if "status" in row:
        return row["status"].iloc[0] == "shown"
    return int(row["eligible"].iloc[0]) >= top_code_below


def rate_cards(rates: pd.DataFrame, previous: pd.DataFrame | None, metrics: list[str], threshold: int,
               top_code_below: int) -> list[Card]:  # fmt: skip
    """A card per outcome metric of outcome_rates rows (tiers together): the rate as published, the change in
    points where both years are exact, and n eligible as the note."""
    cards = []
    for metric in metrics:
        row = rates[rates["metric"] == metric]
        if row.empty:
            cards.append(Card(formatting.LABELS[metric], "–"))
            continue
        met, eligible = int(row["met"].iloc[0]), int(row["eligible"].iloc[0])
        status = row["status"].iloc[0] if "status" in row else None
        shown = privacy.published_rate(met, eligible, status, threshold, top_code_below)
        change, flat = None, False
        if previous is not None and _exact(row, top_code_below):
            prev = previous[previous["metric"] == metric]
            if not prev.empty and _exact(prev, top_code_below):
                points = (met / eligible - prev["met"].iloc[0] / prev["eligible"].iloc[0]) * 100
                # A change that rounds to nothing is flat: "-0.0" would read as a fall.
                change, flat = (f"{points:+.1f} pts", False) if round(points, 1) else ("no change", True)
        n = privacy.suppressed_label(threshold) if eligible < threshold else f"{eligible:,}"
        if status == "hidden":
            n = privacy.HIDDEN_LABEL
        cards.append(Card(formatting.LABELS[metric], shown, change, flat, f"n = {n} eligible tier 2 and 3 students"))
    return cards
