"""The engine and cached query wrappers: the one place pages get data from."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from dashboard import config, db, queries


@st.cache_resource(show_spinner=False)
def engine() -> sa.Engine:
    """The process's engine, upgraded, with the demo network built on first start (progress shown)."""
    eng = db.create_engine()
    bar = st.progress(0.0, text="Preparing the database")
    db.prepare(eng, progress=lambda f, msg: bar.progress(min(f, 1.0), text=msg))
    bar.empty()
    return eng


def engine_or_stop() -> sa.Engine:
    """The engine, or a one-line error on the page (never a traceback) when configuration is wrong."""
    try:
        return engine()
    except config.ConfigError as exc:
        st.error(f"The dashboard cannot start: {exc}")
        st.stop()


@st.cache_data(show_spinner=False)
def is_demo(_engine: sa.Engine) -> bool:
    """Whether the synthetic demo network is loaded."""
    return db.is_demo(_engine)


@st.cache_data(show_spinner=False)
def school_years(_engine: sa.Engine) -> list[str]:
    """School years with data, oldest first."""
    return queries.school_years_available(_engine)


@st.cache_data(show_spinner=False, max_entries=256)
def kpi_totals(
    _engine: sa.Engine, filters: queries.Filters, scope: queries.Scope, level: str = "national"
) -> pd.DataFrame:
    """Cached queries.kpi_totals, keyed on the frozen filters and scope."""
    return queries.kpi_totals(_engine, filters, scope, level)


@st.cache_data(show_spinner=False, max_entries=256)
def outcome_rates(_engine: sa.Engine, filters: queries.Filters, scope: queries.Scope, level: str = "national",
                  by_tier: bool = True) -> pd.DataFrame:  # fmt: skip
    """Cached queries.outcome_rates."""
    return queries.outcome_rates(_engine, filters, scope, level, by_tier)


@st.cache_data(show_spinner=False, max_entries=256)
def partners_by_year(_engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.partners_by_year."""
    return queries.partners_by_year(_engine, filters, scope)


@st.cache_data(show_spinner=False, max_entries=256)
def students_served_by_tier(_engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.students_served_by_tier."""
    return queries.students_served_by_tier(_engine, filters, scope)


@st.cache_data(show_spinner=False, max_entries=256)
def kpi_by_state(_engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.kpi_totals at state level."""
    return queries.kpi_totals(_engine, filters, scope, "state")


@st.cache_data(show_spinner=False)
def states(_engine: sa.Engine) -> list[str]:
    """State codes that hold schools, sorted."""
    return queries.states_with_schools(_engine)
