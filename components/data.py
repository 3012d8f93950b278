"""The engine and cached query wrappers: the one place pages get data from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from dashboard import config, formatting, startup
from dashboard.data import db, queries, templates
from dashboard.views import partners as partners_view
from dashboard.views import profile as profile_view
from dashboard.views import schools as schools_view


@st.cache_resource(show_spinner=False)
def engine() -> sa.Engine:
    """The process's engine, upgraded, with the demo network built on first start (progress shown)."""
    eng = db.create_engine()
    bar = st.progress(0.0, text="Preparing the database")
    startup.prepare(eng, progress=lambda f, msg: bar.progress(min(f, 1.0), text=msg))
    bar.empty()
    return eng


def engine_or_stop() -> sa.Engine:
    """The engine, or a one-line error on the page (never a traceback) when configuration is wrong."""
    try:
        return engine()
    except config.ConfigError as exc:
        st.error(f"The dashboard cannot start: {formatting.markdown_text(exc)}")
        st.stop()


@st.cache_data(show_spinner=False)
def is_demo(_engine: sa.Engine) -> bool:
    """Whether the synthetic demo network is loaded."""
    return db.is_demo(_engine)


@st.cache_data(show_spinner=False)
def data_as_of(_engine: sa.Engine) -> tuple[int, datetime] | None:
    """Cached queries.data_as_of: cleared, with every cached read, by each load and undo."""
    return queries.data_as_of(_engine)


@st.cache_data(show_spinner=False)
def largest_year_rows(_engine: sa.Engine) -> int:
    """Cached templates.largest_year_rows: cleared, with every cached read, by each load and undo."""
    return templates.largest_year_rows(_engine)


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


@st.cache_data(show_spinner=False, max_entries=256)
def partners_by_category(_engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.partners_by_category."""
    return queries.partners_by_category(_engine, filters, scope)


@st.cache_data(show_spinner=False, max_entries=256)
def partner_reach(_engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached partners_view.partner_reach: partners per number of schools reached."""
    return partners_view.partner_reach(_engine, filters, scope)


@st.cache_data(show_spinner=False, max_entries=256)
def partner_support_matrix(_engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached partners_view.partner_support_matrix: partner category x support category."""
    return partners_view.partner_support_matrix(_engine, filters, scope)


@st.cache_data(show_spinner=False, max_entries=256)
def top_partners(
    _engine: sa.Engine, filters: queries.Filters, scope: queries.Scope, limit: int | None = partners_view.TOP_N
) -> pd.DataFrame:
    """Cached partners_view.top_partners; limit None gives every partner in view."""
    return partners_view.top_partners(_engine, filters, scope, limit)


@st.cache_data(show_spinner=False, max_entries=64)
def affiliate_choices(_engine: sa.Engine, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.place_names: the affiliates in the user's scope (affiliate_id, name, state), for pickers and drills."""
    return queries.place_names(_engine, scope)


@st.cache_data(show_spinner=False, max_entries=256)
def affiliate_profile(_engine: sa.Engine, affiliate_id: str, year: str, years: tuple[str, ...],
                      scope: queries.Scope):  # fmt: skip
    """Cached dashboard.views.profile.load: one affiliate's report card for `year`, trend over `years`; None if out of scope."""
    return profile_view.load(_engine, affiliate_id, year, years, scope)


@st.cache_data(show_spinner=False, max_entries=64)
def school_directory(_engine: sa.Engine, scope: queries.Scope) -> pd.DataFrame:
    """Cached dashboard.views.schools.school_directory: the schools in scope, with their 'name (city, state)' labels."""
    return schools_view.school_directory(_engine, scope)


# The Schools page reads one school year at a time: its table needs this year and last, and only schools picked
# for the trend chart need the others. Rates are suppressed within each year, so a year alone suppresses the same.


@st.cache_data(show_spinner=False, max_entries=64)
def school_metric_rates(_engine: sa.Engine, metric: str, scope: queries.Scope, year: str) -> pd.DataFrame:
    """Cached per-school rates of `metric` in scope in `year`, already suppressed (dashboard.views.schools)."""
    network = network_rates(_engine, metric, year) if scope.affiliates is None else None
    return schools_view.suppressed_school_rates(
        schools_view.school_rates(_engine, metric, scope, years=(year,), network=network)
    )


def school_metric_rates_over(
    engine: sa.Engine, metric: str, scope: queries.Scope, years: Iterable[str]
) -> pd.DataFrame:
    """school_metric_rates of every year in `years`, ordered by school and year like dashboard.views.schools.school_rates."""
    parts = [school_metric_rates(engine, metric, scope, year) for year in years]
    parts = [part for part in parts if not part.empty] or parts[:1]
    return pd.concat(parts, ignore_index=True).sort_values(["school_id", "school_year"], ignore_index=True)


@st.cache_data(show_spinner=False, max_entries=64)
def school_students_served(_engine: sa.Engine, year: str, scope: queries.Scope) -> pd.DataFrame:
    """Cached dashboard.views.schools.students_served: students served per school in scope in `year`."""
    return schools_view.students_served(_engine, year, scope)


@st.cache_data(show_spinner=False, max_entries=4)
def school_keys(_engine: sa.Engine) -> pd.DataFrame:
    """Cached dashboard.views.schools.school_keys: every school's peer keys and state, unnamed."""
    return schools_view.school_keys(_engine)


@st.cache_data(show_spinner=False, max_entries=24)
def network_rates(_engine: sa.Engine, metric: str, year: str) -> pd.DataFrame:
    """Cached dashboard.views.schools.network_rates of one year: every school's `metric` with its peer keys, unnamed."""
    return schools_view.network_rates(_engine, metric, (year,), keys=school_keys(_engine))


@st.cache_data(show_spinner=False, max_entries=64)
def benchmark_rates(_engine: sa.Engine, metric: str, year: str) -> pd.DataFrame:
    """Cached dashboard.views.schools.benchmark_rates of one year: peer-group, state and national aggregates of `metric`."""
    return schools_view.benchmark_rates(_engine, metric, network=network_rates(_engine, metric, year))


def national_rates(engine: sa.Engine, metric: str, years: Iterable[str]) -> pd.DataFrame:
    """The national rate of `metric` in each of `years`: school_year, rate."""
    return schools_view.national_line(
        pd.concat([benchmark_rates(engine, metric, year) for year in years], ignore_index=True)
    )


@st.cache_data(show_spinner=False, max_entries=256)
def school_benchmarks(_engine: sa.Engine, metric: str, year: str, school_ids: tuple[str, ...],
                      scope: queries.Scope) -> pd.DataFrame:  # fmt: skip
    """Cached dashboard.views.schools.benchmarks: the chosen schools against peers, state and nation in `year`."""
    return schools_view.benchmarks(_engine, metric, year, school_ids, scope, rates=school_metric_rates(_engine, metric, scope, year),
                            network=network_rates(_engine, metric, year), directory=school_directory(_engine, scope),
                            aggregates=benchmark_rates(_engine, metric, year))  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=64)
def school_standing(_engine: sa.Engine, metric: str, year: str, scope: queries.Scope) -> pd.DataFrame:
    """Cached dashboard.views.schools.peer_standing: every school in scope against its peers in `year`."""
    return schools_view.peer_standing(
        school_directory(_engine, scope), school_metric_rates(_engine, metric, scope, year),
        network_rates(_engine, metric, year), benchmark_rates(_engine, metric, year), year, scope.affiliates is not None,
    )  # fmt: skip
