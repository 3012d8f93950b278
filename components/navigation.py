"""Moves between pages that carry the view along in the URL."""

from __future__ import annotations

import streamlit as st

OUTCOMES_PAGE = "app_pages/outcomes.py"
SCHOOLS_PAGE = "app_pages/schools.py"


def selected_id(event: object) -> str | None:
    """The first id in customdata of a plotly selection event, or None."""
    try:
        points = event["selection"]["points"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    if not points:
        return None
    custom = points[0].get("customdata")
    if isinstance(custom, list | tuple):
        custom = custom[0] if custom else None
    return str(custom) if custom is not None else None


def open_state_outcomes(event: object, year: str) -> None:
    """A click on a state opens Outcomes drilled to that state."""
    state = selected_id(event)
    if state:
        st.switch_page(OUTCOMES_PAGE, query_params={"state": state, "year": year})


def open_school(school_id: str, year: str, metric: str) -> None:
    """Open the Schools page on one school, for the year and outcome in view."""
    st.switch_page(SCHOOLS_PAGE, query_params={"school": school_id, "year": year, "metric": metric})
