"""KPI cards with the change from the year before; student counts read their stored suppression status."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import config
from dashboard.views import overview as overview_view


def _threshold() -> int:
    return int(config.get("suppression_threshold"))


def cards(current: pd.Series, previous: pd.Series | None, columns: list[str], per_row: int = 4) -> None:
    """One st.metric per column, compact numbers, delta against the previous year where both years are shown."""
    shown = overview_view.count_cards(current, previous, columns, _threshold())
    for start in range(0, len(shown), per_row):
        for slot, card in zip(st.columns(per_row), shown[start : start + per_row], strict=False):
            slot.metric(card.label, card.value, card.change)


def rate_cards(rates: pd.DataFrame, previous: pd.DataFrame | None, metrics: list[str]) -> None:
    """One st.metric per outcome rate (met / eligible), with n in the help text; small groups suppressed or coded."""
    shown = overview_view.rate_cards(rates, previous, metrics, _threshold(), int(config.get("top_coding_below")))
    for slot, card in zip(st.columns(len(metrics)), shown, strict=True):
        # "no change" carries no arrow: an up arrow beside it would read as a rise.
        slot.metric(card.label, card.value, card.change, delta_color="off" if card.flat else "normal",
                    delta_arrow="off" if card.flat else "auto", help=card.note)  # fmt: skip
