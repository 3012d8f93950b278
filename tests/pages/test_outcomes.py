"""The Outcomes page through AppTest: bars against a pandas recomputation, drilling by URL and by click."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import formatting
from tests.coding import drawn_rate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(open_page) -> AppTest:
    return open_page("outcomes")


def _bars(at: AppTest) -> tuple[dict[str, dict], dict]:
    """Trace name -> trace of the drill chart, and its layout."""
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return {t["name"]: t for t in spec["data"]}, spec["layout"]


def _tier3(at: AppTest) -> dict[str, float | None]:
    traces, _ = _bars(at)
    t3 = traces["Tier 3 (case-managed)"]
    return {c[0]: y for c, y in zip(t3["customdata"], t3["y"], strict=True)}


def test_national_bars_match_the_raw_tables(app: AppTest, raw) -> None:
    app.query_params["year"] = "2022-23"
    app.run()
    app.selectbox(key="filter_metric").set_value("graduated").run()
    assert not app.exception
    o = raw["outcomes"].merge(raw["schools"][["school_id", "state"]], on="school_id")
    o = o[(o["school_year"] == "2022-23") & (o["tier"] == 3) & (o["metric"] == "graduated")]
    expected = o.groupby("state")[["met", "eligible"]].sum()
    shown = _tier3(app)
    assert set(shown) == set(expected.index)
    compared = 0
    traces, _ = _bars(app)
    label = {c[0]: c[1] for c in traces["Tier 3 (case-managed)"]["customdata"]}
    for state, y in shown.items():
        met, eligible = expected.loc[state, "met"], expected.loc[state, "eligible"]
        if y is None:  # suppressed, never drawn as a number: '<10' when small, 'hidden' when protecting another
            assert label[state] == ("<10" if eligible < 10 else "hidden"), state
            continue
        assert eligible >= 10
        assert y == pytest.approx(drawn_rate(met, eligible)), state
        compared += 1
    assert compared > 0
    assert all("n " in c[2] for t in traces.values() for c in t["customdata"])
    assert all("%{customdata[2]}" in t["hovertemplate"] for t in traces.values())


def test_state_in_the_url_drills_to_its_affiliates(app: AppTest, raw) -> None:
    app.query_params["state"] = "NC"
    app.run()
    assert not app.exception
    nc = set(raw["schools"].loc[raw["schools"]["state"] == "NC", "affiliate_id"])
    assert set(_tier3(app)) <= nc and len(_tier3(app)) >= 2
    assert [b.label for b in app.button if b.key.startswith("crumb_")] == ["Nation", "North Carolina"]


def test_a_click_on_a_bar_drills_down_and_the_breadcrumb_climbs_back(app: AppTest, raw) -> None:
    app.run()
    app.session_state["outcome_bars"] = {
        "selection": {"points": [{"customdata": ["NC"]}], "point_indices": [0], "box": [], "lasso": []}
    }
    app.run()
    assert not app.exception
    assert app.query_params["state"] == "NC"
    assert set(_tier3(app)) <= set(raw["schools"].loc[raw["schools"]["state"] == "NC", "affiliate_id"])
    assert not app.info  # the old click is not read as an affiliate id on the next run
    app.button(key="crumb_0").click().run()
    assert not app.exception
    assert "state" not in app.query_params
    assert "NC" in _tier3(app)


def test_affiliate_in_the_url_shows_its_schools(app: AppTest, raw) -> None:
    affiliate = raw["schools"].loc[raw["schools"]["state"] == "NC", "affiliate_id"].value_counts().index[0]
    app.query_params["affiliate"] = affiliate
    app.run()
    assert not app.exception
    schools = set(raw["schools"].loc[raw["schools"]["affiliate_id"] == affiliate, "school_id"])
    assert set(_tier3(app)) <= schools
    crumbs = [b.label for b in app.button if b.key.startswith("crumb_")]
    assert crumbs[:2] == ["Nation", "North Carolina"] and len(crumbs) == 3


@pytest.mark.parametrize("params", [{"state": "ZZ"}, {"state": "NC", "affiliate": "<script>"}])
def test_unknown_place_in_the_url_shows_a_notice_not_an_exception(app: AppTest, params) -> None:
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception
    assert any("not in the data" in info.value for info in app.info)
    assert app.get("plotly_chart")


def test_suppressed_cells_are_labelled_in_chart_and_table(app: AppTest, raw) -> None:
    o = raw["outcomes"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    latest = o["school_year"].max()
    small = o[(o["school_year"] == latest) & (o["metric"] == "remained_in_school") & (o["eligible"] < 10)]
    app.query_params["affiliate"] = small["affiliate_id"].value_counts().index[0]
    app.run()
    assert not app.exception
    traces, layout = _bars(app)
    hidden = [c for t in traces.values() for c, y in zip(t["customdata"], t["y"], strict=True) if y is None]
    assert hidden and all(c[2] == "n suppressed" for c in hidden)
    annotations = layout.get("annotations", [])
    # one mark per hidden bar, or one per place where both tiers are hidden
    places = {c[0] for c in hidden}
    assert len(places) <= len(annotations) <= len(hidden)
    assert all(a["text"] in ("<10", "hidden") for a in annotations)
    table = app.dataframe[0].value
    assert isinstance(table, pd.DataFrame)
    assert table.loc[table["suppressed"], "eligible"].isna().all()
    # Fewer than 10 reads '<10'; a cell hidden only to protect another reads 'hidden'.
    assert table.loc[table["suppressed"], "rate_label"].isin(["<10", "hidden"]).all()


def test_the_metric_lives_in_the_url_and_an_unknown_one_is_dropped_with_a_notice(app: AppTest) -> None:
    app.query_params["metric"] = "graduated"
    app.run()
    assert not app.exception
    assert app.selectbox(key="filter_metric").value == "graduated"
    assert "Graduated" in app.subheader[0].value
    app.query_params["metric"] = "drop table outcomes"
    app.run()
    assert not app.exception
    assert any("unknown outcome" in i.value for i in app.sidebar.info)


def test_a_link_in_a_url_value_is_shown_as_text_not_as_a_link(app: AppTest) -> None:
    app.query_params["metric"] = "[Sign in again](https://evil.example)"
    app.run()
    assert not app.exception
    notice = next(i.value for i in app.sidebar.info if "unknown outcome" in i.value)
    # Escaped, and the scheme broken by a word joiner: Markdown draws the literal text, and no bare URL autolinks.
    assert formatting.markdown_text("[Sign in again](https://evil.example)") in notice
    assert "https://" not in notice
