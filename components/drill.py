"""The Outcomes drill position in the URL (?state=NC&affiliate=NC-CHARLOTTE), checked against the data."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from components import data, navigation
from dashboard import formatting
from dashboard.data import queries
from dashboard.views import outcomes as outcomes_view


@data.cached(max_entries=256)
def school_names(engine: sa.Engine, affiliate: str, scope: queries.Scope) -> dict[str, str]:
    """Cached outcomes_view.school_names."""
    return outcomes_view.school_names(engine, affiliate, scope)


def position(known: pd.DataFrame, highest: outcomes_view.DrillPath = outcomes_view.NATION) -> outcomes_view.DrillPath:
    """The drill path in the URL, never above `highest`; unknown values are cleared with a short notice, never an
    exception."""
    path, notices = outcomes_view.validate(
        st.query_params.get("state"), st.query_params.get("affiliate"), known, highest
    )
    for notice in notices:
        st.info(notice, icon=":material/info:")
    _write(path)
    return path


def go_to(path: outcomes_view.DrillPath, clear: str | None = None) -> None:
    """Move the drill to `path` and rerun the page.

    `clear` names a chart whose selection led here: it is dropped, or the next run at a level where that chart
    is drawn again would read the old click once more and drill straight back.
    """
    if clear is not None and clear in st.session_state:
        del st.session_state[clear]
    _write(path)
    st.rerun()


def _write(path: outcomes_view.DrillPath) -> None:
    wanted = path.query_params()
    for key in ("state", "affiliate"):
        if key in wanted:
            if st.query_params.get(key) != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]


def breadcrumb(path: outcomes_view.DrillPath, names: dict[str, str],
               highest: outcomes_view.DrillPath = outcomes_view.NATION) -> None:  # fmt: skip
    """Nation > State > Affiliate as buttons (from `highest` down); the current position is shown but not
    clickable."""
    crumbs = outcomes_view.breadcrumb(path, names, highest)
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    for i, (label, target) in enumerate(crumbs):
        current = i == len(crumbs) - 1
        if row.button(
            formatting.markdown_text(label), key=f"crumb_{i}", type="tertiary", disabled=current, width="content"
        ):
            go_to(target)
        if not current:
            row.markdown("›", width="content")


def next_level_picker(path: outcomes_view.DrillPath, bars: pd.DataFrame, year: str, metric: str) -> None:
    """A select of the places on the chart, for the keyboard and screen readers: choosing one does what a click on
    its bar does (opens its affiliates or schools, or the school on the Schools page)."""
    level = path.level
    places = bars.drop_duplicates("place_id").sort_values("place")
    ids = dict(zip(places["place"], places["place_id"], strict=True))  # the labels are unique (place_labels)
    verb = {"state": "its affiliates", "affiliate": "its schools", "school": "it on the Schools page"}[level]
    noun = outcomes_view.LEVEL_NOUN[level]
    article = "an" if noun[0] in "aeiou" else "a"
    chosen = st.selectbox(f"Or pick {article} {noun} to open {verb}", list(ids), index=None,
                          placeholder=f"Choose {article} {noun}",
                          key=(key := f"drill_pick_{level}_{path.state}_{path.affiliate}"))  # fmt: skip
    if chosen is None:
        return
    # Forgotten once acted on: else Back to this level would find the choice still made and drill straight down.
    del st.session_state[key]
    chosen = ids[chosen]
    if level == "school":
        navigation.open_school(chosen, year, metric)
    elif (target := path.child(chosen)) is not None:
        go_to(target)
