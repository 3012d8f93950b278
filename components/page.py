"""The opening every year-based page shares: engine, the user's scope, title, school year."""

from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from components import data, filters
from dashboard import access, formatting
from dashboard.data import queries


def year_page(title: str, caption: str | None = None) -> tuple[sa.Engine, queries.Scope, list[str], str]:
    """Engine, scope, the school years with data and the chosen one; explains and stops when none is loaded."""
    engine = data.engine_or_stop()
    scope = st.session_state.get("scope", queries.EVERYTHING)
    st.title(title)
    filters.begin_view(title)
    if caption:
        st.caption(caption)
    if scope.affiliates is not None:
        plain = list(data.affiliate_choices(engine, scope)["name"])
        st.caption(access.scope_sentence([formatting.markdown_text(n) for n in plain]))
        filters.note(f"Your affiliate{'s' if len(plain) > 1 else ''}: {', '.join(plain)}")
    as_of_line(engine)
    years = data.school_years(engine)
    if not years:
        st.info("No school years are loaded yet. An admin can load the network's outcome tables on the Data page.")
        st.stop()
    return engine, scope, years, filters.school_year(years)


def as_of_line(engine: sa.Engine) -> None:
    """'Data as of <when> (load n, the newest in place).' under a page's title, when any load is in place."""
    if as_of := data.data_as_of(engine):
        load_id, when = as_of
        st.caption(f"Data as of {formatting.moment(when)} (load {load_id}, the newest in place).")


def previous_school_year(years: list[str], year: str) -> str | None:
    """The school year before `year` among those with data, if any."""
    at = years.index(year)
    return years[at - 1] if at > 0 else None
