"""Sidebar filters that live in the URL, so a copied link opens the same view."""

from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from components import data
from dashboard import formatting
from dashboard.data import contract, geo, queries
from dashboard.views.charts import TIER_NAMES

VIEW_KEY = "_view_filters"


def begin_view(page_title: str) -> None:
    """Start this run's record of the view (the page, then each filter as it is read), for the line heading
    every CSV the page offers."""
    st.session_state[VIEW_KEY] = [page_title]


def note(text: str) -> None:
    """Add one chosen filter, in words ('State: North Carolina'), to this run's record of the view."""
    st.session_state.setdefault(VIEW_KEY, []).append(text)


def view_parts() -> list[str]:
    """This run's record of the view: the page's title, then each filter chosen on it, in words."""
    return list(st.session_state.get(VIEW_KEY, []))


def view_line() -> str:
    """'Impact overview; School year 2024-25; State: North Carolina': the page and the filters chosen on it."""
    return "; ".join(view_parts())


def _shown(value: str, limit: int = 60) -> str:
    """A value from the URL as it may appear in a notice: cut short, Markdown escaped (no links, no markup)."""
    return "'" + formatting.markdown_text(value[:limit]) + "'"


def school_year(years: list[str], key: str = "year") -> str:
    """One school year, read from and written to ?year=; an unknown value falls back to the latest with a notice."""
    wanted = st.query_params.get(key)
    if wanted is not None and wanted not in years:
        st.sidebar.info(f"School year {_shown(wanted)} is not in the data; showing the latest year instead.")
        wanted = None
    index = years.index(wanted) if wanted else len(years) - 1
    chosen = st.sidebar.selectbox("School year", years, index=index, key=f"filter_{key}")
    st.query_params[key] = chosen
    note(f"School year {chosen}")
    return chosen


def _multi(label: str, options: list[str], key: str, fmt=str) -> tuple[str, ...]:
    """A multiselect kept in ?key=a&key=b; unknown values are dropped with a notice."""
    wanted = st.query_params.get_all(key)
    unknown = [w for w in wanted if w not in options]
    if unknown:
        st.sidebar.info(f"Ignored unknown {label.lower()}: {_shown(', '.join(unknown))}")
    chosen = st.sidebar.multiselect(label, options, default=[w for w in wanted if w in options], format_func=fmt,
                                    key=f"filter_{key}", placeholder="All")  # fmt: skip
    st.query_params[key] = chosen
    if chosen:
        note(f"{label}: {', '.join(str(fmt(c)) for c in chosen)}")
    return tuple(chosen)


def places(engine: sa.Engine, scope: queries.Scope, year: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(states, affiliates) chosen in the sidebar, each kept in the URL (?state=, ?aff=); empty means all.

    Affiliates offered are those in the user's scope, narrowed to the chosen states; given the school year, those
    holding no school in it come last, marked so (a link naming one still opens it, with nothing to show).
    """
    picked_states = _multi("State", data.states(engine), "state", geo.state_name)
    known = data.affiliate_choices(engine, scope)
    if picked_states:
        known = known[known["state"].isin(picked_states)]
    names = dict(zip(known["affiliate_id"], known["name"], strict=True))
    if year is not None:
        names = formatting.without_schools_last(names, data.affiliates_with_schools(engine, year), year)
    picked_affiliates = _multi("Affiliate", list(names), "aff", lambda a: names.get(a, a))
    if not picked_states and not picked_affiliates and scope.affiliates is None:
        note("The whole network")
    return picked_states, picked_affiliates


def school_filters(engine: sa.Engine, scope: queries.Scope, year: str | None = None,
                   tiers: bool = False) -> queries.Filters:  # fmt: skip
    """State, affiliate, school level, Title I, locale (and tier) filters, each kept in the URL; empty means all.

    Affiliates offered are those in the user's scope, narrowed to the chosen states, those with no school in `year`
    marked and last.
    """
    picked_states, picked_affiliates = places(engine, scope, year)
    levels = _multi("School level", list(contract.LEVELS), "level", lambda v: v.replace("_", " ").capitalize())
    locales = _multi("Locale", list(contract.LOCALES), "locale", str.capitalize)
    title_options = {"all": "All schools", "yes": "Title I only", "no": "Not Title I"}
    wanted = st.query_params.get("title_i", "all")
    if wanted not in title_options:
        st.sidebar.info("Ignored an unknown Title I value.")
        wanted = "all"
    title = st.sidebar.radio("Title I", list(title_options), index=list(title_options).index(wanted),
                             format_func=title_options.get, key="filter_title_i", horizontal=True)  # fmt: skip
    st.query_params["title_i"] = title
    if title != "all":
        note(title_options[title])
    picked_tiers: tuple[str, ...] = ()
    if tiers:
        picked_tiers = _multi("Tier", [str(t) for t in TIER_NAMES], "tier", lambda t: TIER_NAMES[int(t)])
    return queries.Filters(
        states=picked_states,
        affiliates=picked_affiliates,
        levels=levels,
        locales=locales,
        title_i=None if title == "all" else title == "yes",
        tiers=tuple(int(t) for t in picked_tiers),
    )


def metric(label: str = "Outcome", key: str = "metric") -> str:
    """One outcome metric, kept in ?metric=; an unknown value falls back to the first with a notice."""
    wanted = st.query_params.get(key)
    if wanted is not None and wanted not in contract.METRICS:
        st.sidebar.info(f"Ignored an unknown outcome {_shown(wanted)}.")
        wanted = None
    index = contract.METRICS.index(wanted) if wanted else 0
    chosen = st.sidebar.selectbox(label, contract.METRICS, index=index, format_func=formatting.LABELS.get,
                                  key=f"filter_{key}")  # fmt: skip
    st.query_params[key] = chosen
    note(f"{label}: {formatting.LABELS[chosen]}")
    return chosen


def trend_years(years: list[str], key: str = "span") -> tuple[str, ...]:
    """The span of school years trend charts cover, kept in ?span=2018-19..2024-25; all years by default."""
    first, last = years[0], years[-1]
    wanted = st.query_params.get(key, "")
    start, _, end = wanted.partition("..")
    if wanted and not (start in years and end in years and start <= end):
        st.sidebar.info(f"Ignored an unknown span of years {_shown(wanted)}; showing every year.")
        start, end = first, last
    elif not wanted:
        start, end = first, last
    if len(years) == 1:
        return (first,)
    start, end = st.sidebar.select_slider("Years in trends", years, value=(start, end), key=f"filter_{key}")
    if (start, end) == (first, last):
        if key in st.query_params:
            del st.query_params[key]
    else:
        st.query_params[key] = f"{start}..{end}"
    note(f"Years in trends: {start} to {end}")
    return tuple(y for y in years if start <= y <= end)
