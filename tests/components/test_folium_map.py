"""The cached map sends the browser exactly what st_folium would have sent, and leaves streamlit-folium as it was."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pandas as pd
import pytest
import streamlit_folium

from components import folium_map
from dashboard.data import queries
from dashboard.views import map as map_view

YEAR = "2022-23"
OPTIONS = {"height": folium_map.HEIGHT, "use_container_width": True, "returned_objects": folium_map.RETURNED}
ELEMENT_ID = re.compile(r"_[0-9a-f]{32}")  # folium names every element with a random hex id


@pytest.fixture(scope="module")
def inputs(sqlite_engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    view, scope = queries.Filters(states=("NC", "TX")), queries.EVERYTHING
    places = map_view.places(
        queries.map_schools(sqlite_engine, view, scope, YEAR),
        queries.map_affiliates(sqlite_engine, view, scope, YEAR),
        queries.map_partners(sqlite_engine, view, scope, YEAR),
    )
    totals = map_view.state_totals(queries.kpi_totals(sqlite_engine, view.with_years(YEAR), scope, "state"))
    return places, totals


def _build(inputs) -> Any:
    return map_view.build_map(*inputs, YEAR, map_view.MapSettings())


def _what_st_folium_sends(fmap: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    sent: dict[str, Any] = {}
    monkeypatch.setattr(streamlit_folium, "_component_func", lambda **kw: sent.update(kw))
    streamlit_folium.st_folium(fmap, **OPTIONS)  # render=True, as the page used to call it
    monkeypatch.undo()
    sent.pop("on_change")
    return sent


def _comparable(args: dict[str, Any]) -> dict[str, Any]:
    return {k: ELEMENT_ID.sub("_ID", v) if isinstance(v, str) else v for k, v in args.items()}


def test_the_captured_arguments_are_what_st_folium_sends(inputs, monkeypatch: pytest.MonkeyPatch) -> None:
    original = streamlit_folium._component_func
    captured = folium_map.component_args(_build(inputs), **OPTIONS)
    assert streamlit_folium._component_func is original, "the capture puts the component back"
    fmap = _build(inputs)
    expected = _what_st_folium_sends(fmap, monkeypatch)
    assert "PLACES" in expected["script"] and f'"{inputs[0]["place_id"].iloc[-1]}"' not in expected["script"]
    expected["script"] = map_view.with_places(expected["script"], fmap)  # the rows, put where st_folium left tokens
    assert set(captured) == set(expected)
    assert _comparable(captured) == _comparable(expected)
    assert captured["key"] == expected["key"], "the browser keeps the same component (its hash ignores element ids)"
    assert "PLACES" not in captured["script"]
    school = inputs[0][inputs[0]["layer"] == "school"].iloc[0]
    assert json.dumps(str(school["name"]).split(" ")[-1]) in captured["script"], "the places travel in the script"


def test_captures_from_several_sessions_at_once_do_not_mix(inputs) -> None:
    original = streamlit_folium._component_func
    places, totals = inputs
    states = ["NC", "TX", "NC", "TX"]
    maps = [map_view.build_map(places[places["state"] == s], totals, YEAR, map_view.MapSettings()) for s in states]
    results: list[dict[str, Any]] = [{} for _ in maps]

    def capture(i: int) -> None:
        results[i] = folium_map.component_args(maps[i], **OPTIONS)

    threads = [threading.Thread(target=capture, args=(i,)) for i in range(len(maps))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert streamlit_folium._component_func is original
    for state, args in zip(states, results, strict=True):
        # Affiliate ids travel in the packed places (the states' outlines name states, not affiliates).
        other = places[(places["layer"] == "school") & (places["state"] != state)]["affiliate_id"].iloc[0]
        mine = places[(places["layer"] == "school") & (places["state"] == state)]["affiliate_id"].iloc[0]
        assert f'"{mine}"' in args["script"] and f'"{other}"' not in args["script"]
    assert results[0]["key"] == results[2]["key"] != results[1]["key"], "same view, same component"
