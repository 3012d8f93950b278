"""KPI cards with the change from the year before."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import formatting


def cards(current: pd.Series, previous: pd.Series | None, columns: list[str], per_row: int = 4) -> None:
    """One st.metric per column, compact numbers, delta against the previous year where there is one."""
    for start in range(0, len(columns), per_row):
        for slot, column in zip(st.columns(per_row), columns[start : start + per_row], strict=False):
            value = current[column]
            delta = None
            if previous is not None and column in previous:
                delta = formatting.compact(value - previous[column])
            slot.metric(formatting.LABELS.get(column, column), formatting.compact(value), delta)


def rate_cards(rates: pd.DataFrame, previous: pd.DataFrame | None, metrics: list[str]) -> None:
    """One st.metric per outcome rate (met / eligible), with n in the help text."""
    for slot, metric in zip(st.columns(len(metrics)), metrics, strict=True):
        row = rates[rates["metric"] == metric]
        if row.empty:
            slot.metric(formatting.LABELS[metric], "–")
            continue
        rate = row["met"].iloc[0] / row["eligible"].iloc[0]
        delta = None
        if previous is not None:
            prev = previous[previous["metric"] == metric]
            if not prev.empty:
                delta = f"{(rate - prev['met'].iloc[0] / prev['eligible'].iloc[0]) * 100:+.1f} pts"
        slot.metric(formatting.LABELS[metric], formatting.percent(rate), delta,
                    help=f"{row['met'].iloc[0]:,} of {row['eligible'].iloc[0]:,} eligible tier 2 and 3 students")  # fmt: skip
