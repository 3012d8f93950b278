"""The Outcomes page through AppTest: bars against a pandas recomputation, drilling by URL and by click."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import formatting
from dashboard.data import queries
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
    for toggle in app.toggle:
        if toggle.key == "outcome_show_all":
            toggle.set_value(True).run()
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


def _school_rates(raw, schools: pd.DataFrame, year: str, metric: str) -> pd.DataFrame:
    """met and eligible per school_id x tier from the raw tables."""
    o = raw["outcomes"]
    o = o[(o["school_year"] == year) & (o["metric"] == metric) & o["school_id"].isin(schools["school_id"])]
    return o.groupby(["school_id", "tier"])[["met", "eligible"]].sum()


def _biggest_affiliate(raw, year: str) -> str:
    o = raw["outcomes"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    return o[o["school_year"] == year].groupby("affiliate_id")["school_id"].nunique().idxmax()


def test_many_schools_show_the_highest_and_lowest_in_order_and_the_rest_on_demand(app: AppTest, raw) -> None:
    year = raw["outcomes"]["school_year"].max()
    affiliate = _biggest_affiliate(raw, year)
    app.query_params.update({"affiliate": affiliate, "year": year})
    app.run()
    assert not app.exception
    traces, _ = _bars(app)
    t2, t3 = traces["Tier 2 (targeted groups)"], traces["Tier 3 (case-managed)"]
    drawn = [c[0] for c in t2["customdata"]]
    members = raw["schools"].loc[raw["schools"]["affiliate_id"] == affiliate]
    rates = _school_rates(raw, members, year, "remained_in_school")
    with_data = rates.index.get_level_values("school_id").unique()
    assert len(with_data) > 24, "the small network's biggest affiliate should need trimming"
    assert len(drawn) == 20
    # Highest first: the mean of the rates drawn, recomputed from what the chart itself shows.
    means = [pd.Series([y for y in (a, b) if y is not None]).mean() for a, b in zip(t2["y"], t3["y"], strict=True)]
    assert all(pd.notna(m) for m in means)
    assert means == sorted(means, reverse=True)
    app.toggle(key="outcome_show_all").set_value(True).run()
    traces, _ = _bars(app)
    assert {c[0] for c in traces["Tier 2 (targeted groups)"]["customdata"]} == set(with_data)


def test_a_lead_sees_its_own_schools_named_as_its_own_beside_state_and_nation(app: AppTest, raw) -> None:
    year = raw["outcomes"]["school_year"].max()
    affiliate = _biggest_affiliate(raw, year)
    state = raw["affiliates"].set_index("affiliate_id").loc[affiliate, "state"]
    app.session_state["scope"] = queries.Scope(frozenset({affiliate}))
    app.query_params.update({"year": year, "state": state})  # a link to the state: the lead's top is its affiliate
    app.run()
    assert not app.exception
    assert app.query_params["affiliate"] == affiliate
    assert "by school" in app.subheader[0].value
    crumbs = [b.label for b in app.button if b.key.startswith("crumb_")]
    assert "Nation" not in crumbs and len(crumbs) == 1
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    bench = {(t["name"], c[0]): (y, c[1]) for t in spec["data"] if t.get("meta") == "benchmark"
             for c, y in zip(t["customdata"], t["y"], strict=True)}  # fmt: skip
    o = raw["outcomes"].merge(raw["schools"][["school_id", "affiliate_id", "state"]], on="school_id")
    o = o[(o["school_year"] == year) & (o["metric"] == "remained_in_school")]
    expected = {
        "benchmark:affiliate": o[o["affiliate_id"] == affiliate],
        "benchmark:state": o[o["state"] == state],  # every school of the state, not only the lead's
        "benchmark:nation": o,
    }
    compared = 0
    for key, rows in expected.items():
        for tier, name in ((2, "Tier 2 (targeted groups), benchmark"), (3, "Tier 3 (case-managed), benchmark")):
            part = rows[rows["tier"] == tier]
            y, label = bench[(name, key)]
            if y is None:
                assert label in ("<10", "hidden")
                continue
            assert y == pytest.approx(drawn_rate(part["met"].sum(), part["eligible"].sum())), (key, tier)
            compared += 1
    assert compared >= 4
    assert expected["benchmark:state"]["eligible"].sum() > expected["benchmark:affiliate"]["eligible"].sum()
    names = raw["affiliates"].set_index("affiliate_id")["name"]
    assert f"for {names[affiliate]}" in app.caption[-1].value
    # The schools drawn are the lead's own.
    drawn = {c[0] for t in spec["data"] if t.get("meta") == "place" for c in t["customdata"]}
    assert drawn <= set(raw["schools"].loc[raw["schools"]["affiliate_id"] == affiliate, "school_id"])


def test_a_lead_of_two_affiliates_in_two_states_sees_its_state_bars_marked_as_its_part(app: AppTest, raw) -> None:
    firsts = raw["affiliates"].drop_duplicates("state").head(2)
    app.session_state["scope"] = queries.Scope(frozenset(firsts["affiliate_id"]))
    app.run()
    assert not app.exception
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    places = [x for t in spec["data"] if t.get("meta") == "place" for x in t["x"]]
    assert places and all(p.endswith("(yours)") for p in places)
    assert "your affiliates" in app.caption[-1].value


def test_picking_a_school_from_the_list_opens_it_on_the_schools_page(app: AppTest, raw, monkeypatch) -> None:
    import streamlit

    opened: list[tuple[str, dict]] = []
    monkeypatch.setattr(streamlit, "switch_page", lambda page, query_params=None: opened.append((page, query_params)))
    year = raw["outcomes"]["school_year"].max()
    affiliate = _biggest_affiliate(raw, year)
    app.query_params.update({"affiliate": affiliate, "year": year})
    app.run()
    picker = next(s for s in app.selectbox if s.key.startswith("drill_pick_school"))
    school = picker.options[0]
    picker.set_value(school).run()
    assert not app.exception
    assert opened and opened[-1][0] == "app_pages/schools.py"
    assert opened[-1][1]["year"] == year and opened[-1][1]["metric"] == "remained_in_school"
    assert opened[-1][1]["school"] in set(raw["schools"].loc[raw["schools"]["affiliate_id"] == affiliate, "school_id"])
    assert school  # the option shows a name, not an empty label


def test_picking_a_state_from_the_list_drills_as_a_click_would(app: AppTest) -> None:
    app.run()
    picker = next(s for s in app.selectbox if s.key.startswith("drill_pick_state"))
    picker.set_value("NC").run()
    assert not app.exception
    assert app.query_params["state"] == "NC"
    assert "by affiliate" in app.subheader[0].value
