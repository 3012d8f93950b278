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

VERSION_KEY = "_data_version"


def _engine_key(engine: sa.Engine) -> tuple[str, int]:
    """What a cached read is keyed on for its engine: the database, and the data version this rerun read."""
    version = st.session_state.get(VERSION_KEY)
    if version is None:  # a page run outside engine_or_stop: read it now
        version = queries.data_version(engine)
    return engine.url.render_as_string(hide_password=True), int(version)


def cached(max_entries: int | None = None, show_spinner: bool | str = False):
    """st.cache_data keyed on the data version as well as the arguments: a load or undo through any replica, or the
    command line, raises the version, so every process reads afresh at its next rerun and nothing is cleared."""
    return st.cache_data(show_spinner=show_spinner, max_entries=max_entries, hash_funcs={sa.Engine: _engine_key})


def read_version(engine: sa.Engine) -> int:
    """Read the data version once for this rerun (one indexed row) and key the cached reads below on it."""
    version = queries.data_version(engine)
    st.session_state[VERSION_KEY] = version
    return version


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
        eng = engine()
        read_version(eng)
        return eng
    except config.ConfigError as exc:
        st.error(f"The dashboard cannot start: {formatting.markdown_text(exc)}")
        st.stop()


@cached()
def is_demo(engine: sa.Engine) -> bool:
    """Whether the synthetic demo network is loaded."""
    return db.is_demo(engine)


@cached()
def data_as_of(engine: sa.Engine) -> tuple[int, datetime] | None:
    """Cached queries.data_as_of: read afresh, like every cached read, after each load and undo."""
    return queries.data_as_of(engine)


@cached()
def largest_year_rows(engine: sa.Engine) -> int:
    """Cached templates.largest_year_rows: read afresh, like every cached read, after each load and undo."""
    return templates.largest_year_rows(engine)


@cached()
def school_years(engine: sa.Engine) -> list[str]:
    """School years with data, oldest first."""
    return queries.school_years_available(engine)


@cached(max_entries=256)
def kpi_totals(
    engine: sa.Engine, filters: queries.Filters, scope: queries.Scope, level: str = "national"
) -> pd.DataFrame:
    """Cached queries.kpi_totals, keyed on the frozen filters and scope."""
    return queries.kpi_totals(engine, filters, scope, level)


@cached(max_entries=256)
def outcome_rates(engine: sa.Engine, filters: queries.Filters, scope: queries.Scope, level: str = "national",
                  by_tier: bool = True) -> pd.DataFrame:  # fmt: skip
    """Cached queries.outcome_rates."""
    return queries.outcome_rates(engine, filters, scope, level, by_tier)


@cached(max_entries=256)
def partners_by_year(engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.partners_by_year."""
    return queries.partners_by_year(engine, filters, scope)


@cached(max_entries=256)
def students_served_by_tier(engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.students_served_by_tier."""
    return queries.students_served_by_tier(engine, filters, scope)


@cached(max_entries=256)
def kpi_by_state(engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.kpi_totals at state level."""
    return queries.kpi_totals(engine, filters, scope, "state")


@cached()
def states(engine: sa.Engine) -> list[str]:
    """State codes that hold schools, sorted."""
    return queries.states_with_schools(engine)


@cached(max_entries=256)
def partners_by_category(engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.partners_by_category."""
    return queries.partners_by_category(engine, filters, scope)


@cached(max_entries=256)
def partner_reach(engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached partners_view.partner_reach: partners per number of schools reached."""
    return partners_view.partner_reach(engine, filters, scope)


@cached(max_entries=256)
def partner_support_matrix(engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached partners_view.partner_support_matrix: partner category x support category."""
    return partners_view.partner_support_matrix(engine, filters, scope)


@cached(max_entries=256)
def top_partners(
    engine: sa.Engine, filters: queries.Filters, scope: queries.Scope, limit: int | None = partners_view.TOP_N
) -> pd.DataFrame:
    """Cached partners_view.top_partners; limit None gives every partner in view."""
    return partners_view.top_partners(engine, filters, scope, limit)


@cached(max_entries=64)
def affiliate_choices(engine: sa.Engine, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.place_names: the affiliates in the user's scope (affiliate_id, name, state), for pickers and drills."""
    return queries.place_names(engine, scope)


@cached(max_entries=64)
def affiliates_with_schools(engine: sa.Engine, school_year: str) -> frozenset[str]:
    """Cached queries.affiliates_with_schools: the affiliates holding a school in `school_year`."""
    return queries.affiliates_with_schools(engine, school_year)


@cached(max_entries=256)
def affiliate_profile(engine: sa.Engine, affiliate_id: str, year: str, years: tuple[str, ...],
                      scope: queries.Scope):  # fmt: skip
    """Cached dashboard.views.profile.load: one affiliate's report card for `year`, trend over `years`; None if out of scope."""
    return profile_view.load(engine, affiliate_id, year, years, scope)


@cached(max_entries=64)
def school_directory(engine: sa.Engine, scope: queries.Scope) -> pd.DataFrame:
    """Cached dashboard.views.schools.school_directory: the schools in scope, with their 'name (city, state)' labels."""
    return schools_view.school_directory(engine, scope)


# The Schools page reads one school year at a time: its table needs this year and last, and only schools picked
# for the trend chart need the others. Rates are suppressed within each year, so a year alone suppresses the same.


@cached(max_entries=64)
def school_metric_rates(engine: sa.Engine, metric: str, scope: queries.Scope, year: str) -> pd.DataFrame:
    """Cached per-school rates of `metric` in scope in `year`, already suppressed (dashboard.views.schools)."""
    network = network_rates(engine, metric, year) if scope.affiliates is None else None
    return schools_view.suppressed_school_rates(
        schools_view.school_rates(engine, metric, scope, years=(year,), network=network)
    )


def school_metric_rates_over(
    engine: sa.Engine, metric: str, scope: queries.Scope, years: Iterable[str]
) -> pd.DataFrame:
    """school_metric_rates of every year in `years`, ordered by school and year like dashboard.views.schools.school_rates."""
    parts = [school_metric_rates(engine, metric, scope, year) for year in years]
    parts = [part for part in parts if not part.empty] or parts[:1]
    return pd.concat(parts, ignore_index=True).sort_values(["school_id", "school_year"], ignore_index=True)


@cached(max_entries=64)
def school_students_served(engine: sa.Engine, year: str, scope: queries.Scope) -> pd.DataFrame:
    """Cached dashboard.views.schools.students_served: students served per school in scope in `year`."""
    return schools_view.students_served(engine, year, scope)


@cached(max_entries=4)
def school_keys(engine: sa.Engine) -> pd.DataFrame:
    """Cached dashboard.views.schools.school_keys: every school's peer keys and state, unnamed."""
    return schools_view.school_keys(engine)


@cached(max_entries=24)
def network_rates(engine: sa.Engine, metric: str, year: str) -> pd.DataFrame:
    """Cached dashboard.views.schools.network_rates of one year: every school's `metric` with its peer keys, unnamed."""
    return schools_view.network_rates(engine, metric, (year,), keys=school_keys(engine))


@cached(max_entries=64)
def benchmark_rates(engine: sa.Engine, metric: str, year: str) -> pd.DataFrame:
    """Cached dashboard.views.schools.benchmark_rates of one year: peer-group, state and national aggregates of `metric`."""
    return schools_view.benchmark_rates(engine, metric, network=network_rates(engine, metric, year))


def national_rates(engine: sa.Engine, metric: str, years: Iterable[str]) -> pd.DataFrame:
    """The national rate of `metric` in each of `years`: school_year, rate."""
    return schools_view.national_line(
        pd.concat([benchmark_rates(engine, metric, year) for year in years], ignore_index=True)
    )


@cached(max_entries=256)
def school_benchmarks(engine: sa.Engine, metric: str, year: str, school_ids: tuple[str, ...],
                      scope: queries.Scope) -> pd.DataFrame:  # fmt: skip
    """Cached dashboard.views.schools.benchmarks: the chosen schools against peers, state and nation in `year`."""
    return schools_view.benchmarks(engine, metric, year, school_ids, scope, rates=school_metric_rates(engine, metric, scope, year),
                            network=network_rates(engine, metric, year), directory=school_directory(engine, scope),
                            aggregates=benchmark_rates(engine, metric, year))  # fmt: skip


@cached(max_entries=64)
def school_standing(engine: sa.Engine, metric: str, year: str, scope: queries.Scope) -> pd.DataFrame:
    """Cached dashboard.views.schools.peer_standing: every school in scope against its peers in `year`."""
    return schools_view.peer_standing(
        school_directory(engine, scope), school_metric_rates(engine, metric, scope, year),
        network_rates(engine, metric, year), benchmark_rates(engine, metric, year), year, scope.affiliates is not None,
    )  # fmt: skip
