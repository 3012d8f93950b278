"""The Map page's map, drawn once per view and sent again from the cache on every rerun.

`st_folium` rebuilds its browser arguments from the folium map on every call: for the network's 12,000 places
that was about 0.5 s of rendering (Jinja re-reads every rendered script, data included) before anything was sent.
Here the arguments are captured once per view, cached with the view's places, and handed to streamlit-folium's
component as they are; the browser gets exactly what `st_folium` would have sent (tests/components/test_folium_map.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from unittest import mock

import folium
import pandas as pd
import sqlalchemy as sa
import streamlit as st
import streamlit_folium

from components import data
from dashboard.data import queries
from dashboard.views import map as map_view

HEIGHT = 620
RETURNED = ["last_object_clicked_tooltip"]
_CAPTURE = threading.Lock()  # the capture swaps a module attribute: one session at a time


@dataclass(frozen=True)
class DrawnMap:
    """One view's map: the places and state totals it was drawn from, and what the browser is sent."""

    places: pd.DataFrame
    totals: pd.DataFrame
    args: dict[str, Any]
    schools_in_view: int
    partners_in_view: int

    @property
    def draws_points(self) -> bool:
        return map_view.draws_points(self.schools_in_view, self.partners_in_view)


def component_args(fmap: folium.Map, **options: Any) -> dict[str, Any]:
    """What `st_folium(fmap, **options)` sends the browser, without sending it (its on_change aside), with the
    place layers' rows put into the script (see map_view._Places)."""
    captured: dict[str, Any] = {}
    with _CAPTURE, mock.patch.object(streamlit_folium, "_component_func", lambda **kw: captured.update(kw)):
        # One render is enough: st_folium renders the map itself whatever `render` says (the same arguments result).
        streamlit_folium.st_folium(fmap, render=False, **options)
    captured.pop("on_change", None)
    captured["script"] = map_view.with_places(captured["script"], fmap)
    return captured


@data.cached(max_entries=16, show_spinner="Drawing the map…")
def drawn(engine: sa.Engine, view: queries.Filters, scope: queries.Scope, year: str,
          settings: map_view.MapSettings) -> DrawnMap:  # fmt: skip
    """The view's places (schools and partners only when few enough to draw), state totals and map, cached."""
    affiliates = queries.map_affiliates(engine, view, scope, year)
    schools_in_view = int(affiliates["schools"].sum())
    partners_in_view = queries.map_partner_count(engine, view, scope, year)
    points = map_view.draws_points(schools_in_view, partners_in_view)
    places = map_view.places(
        queries.map_schools(engine, view, scope, year) if points else None,
        affiliates,
        queries.map_partners(engine, view, scope, year) if points else None,
    )
    # State totals count every school (a benchmark that names none), whatever the user's scope; for a lead only
    # the state and year narrow them, so a school-attribute filter cannot single out another affiliate's school.
    by_state = queries.kpi_totals(engine, map_view.benchmark_filters(view, scope, year), queries.EVERYTHING, "state")
    totals = map_view.state_totals(by_state)
    fmap = map_view.build_map(places, totals, year, settings)
    args = component_args(fmap, height=HEIGHT, use_container_width=True, returned_objects=RETURNED)
    return DrawnMap(places, totals, args, schools_in_view, partners_in_view)


def show(drawn_map: DrawnMap, key: str) -> dict[str, Any] | None:
    """Send the drawn map to the browser; returns the last click as st_folium would."""

    def remember() -> None:  # what st_folium's own on_change does with a key
        st.session_state[key] = st.session_state.get(drawn_map.args["key"], {})

    return streamlit_folium._component_func(**drawn_map.args, on_change=remember)
