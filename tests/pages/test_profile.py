"""The Affiliate profile page through AppTest: figures against a pandas recomputation, the URL, the lead's scope."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import formatting
from dashboard.data import queries
from tests.coding import drawn_rate

ROOT = Path(__file__).resolve().parents[2]
YEAR = "2022-23"


@pytest.fixture
def app(open_page) -> AppTest:
    return open_page("profile")


def _chart(at: AppTest, key: str) -> dict:
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, key
    return json.loads(found[0].proto.spec)


def _values(data: list | dict) -> list:
    """A trace's x or y as a list: plotly writes numeric arrays as base64 typed arrays."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data)


def _affiliate_with_small_cell(raw: dict[str, pd.DataFrame]) -> tuple[str, str]:
    """An affiliate and year where one all-tier outcome rests on fewer than 10 students, found in the data."""
    o = raw["outcomes"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    sums = o.groupby(["affiliate_id", "school_year", "metric"], as_index=False)["eligible"].sum()
    small = sums[(sums["eligible"] > 0) & (sums["eligible"] < 10)].sort_values(["affiliate_id", "school_year"])
    return str(small["affiliate_id"].iloc[0]), str(small["school_year"].iloc[0])


def _biggest(raw: dict[str, pd.DataFrame]) -> str:
    return str(raw["schools"]["affiliate_id"].value_counts().index[0])


def test_cards_table_and_benchmarks_match_the_raw_tables(app: AppTest, raw) -> None:
    affiliate = _biggest(raw)
    app.query_params["affiliate"] = affiliate
    app.query_params["year"] = YEAR
    app.run()
    assert not app.exception
    schools = raw["schools"]
    mine = schools[schools["affiliate_id"] == affiliate]
    sy = raw["school_years"].merge(mine[["school_id", "name"]], on="school_id")
    now, before = sy[sy["school_year"] == YEAR], sy[sy["school_year"] == "2021-22"]

    cards = {m.label: m for m in app.metric}
    assert cards["Students served"].value == formatting.compact(now["students_served"].sum())
    assert cards["Students served"].delta == formatting.compact(
        now["students_served"].sum() - before["students_served"].sum()
    )
    assert cards["Case-managed (tier 3)"].value == formatting.compact(now["tier3_students"].sum())
    assert cards["Schools and sites"].value == str(len(now))
    partners = raw["partnerships"].merge(mine[["school_id"]], on="school_id")
    assert cards["Community partners"].value == formatting.compact(
        partners.loc[partners["school_year"] == YEAR, "partner_id"].nunique()
    )

    shown = app.dataframe[0].value.set_index("School")["Students served"]
    expected = now.set_index("name")["students_served"]
    assert sorted(shown.index) == sorted(expected.index)
    for name, count in expected.items():
        assert shown[name] == (f"{count:,}" if count >= 10 else "<10"), name

    spec = _chart(app, "profile_benchmarks")
    traces = {t["name"]: t for t in spec["data"]}
    affiliates = raw["affiliates"].set_index("affiliate_id")
    o = raw["outcomes"].merge(schools[["school_id", "state", "affiliate_id"]], on="school_id")
    o = o[o["school_year"] == YEAR]
    places = {
        affiliates.loc[affiliate, "name"]: o[o["affiliate_id"] == affiliate],
        "Nation": o,
    }
    state_rows = o[o["state"] == affiliates.loc[affiliate, "state"]]
    state_trace = next(name for name in traces if name not in places)
    places[state_trace] = state_rows
    assert set(traces) == set(places)
    for name, rows in places.items():
        sums = rows.groupby("metric")[["met", "eligible"]].sum()
        trace = traces[name]
        for label, x, (rate_label, n_label) in zip(trace["y"], trace["x"], trace["customdata"], strict=True):
            metric = next(m for m, text in formatting.LABELS.items() if text == label)
            met, eligible = sums.loc[metric, "met"], sums.loc[metric, "eligible"]
            if eligible < 10:
                assert x is None and rate_label == "<10" and n_label == "n suppressed"
                continue
            rate = met / eligible
            if eligible < 40 and rate >= 0.95:
                rate = 0.95
            assert x == pytest.approx(rate), (name, metric)
            assert n_label == f"n = {eligible:,} eligible"


def test_tier_chart_and_trend_match_the_raw_tables(app: AppTest, raw) -> None:
    affiliate = _biggest(raw)
    app.query_params["affiliate"] = affiliate
    app.query_params["year"] = YEAR
    app.run()
    assert not app.exception
    ids = raw["schools"].loc[raw["schools"]["affiliate_id"] == affiliate, ["school_id"]]
    sy = raw["school_years"].merge(ids, on="school_id").groupby("school_year")["tier3_students"].sum()
    tiers = {
        t["name"]: dict(zip(_values(t["x"]), _values(t["y"]), strict=True))
        for t in _chart(app, "profile_tiers")["data"]
    }
    assert tiers["Tier 3 (case-managed)"] == {y: int(v) for y, v in sy.items()}

    o = raw["outcomes"].merge(ids, on="school_id")
    o = o[(o["metric"] == "graduated") & (o["school_year"] <= YEAR)]
    sums = o.groupby("school_year")[["met", "eligible"]].sum()
    trend = next(t for t in _chart(app, "profile_trend")["data"] if t["name"] == formatting.LABELS["graduated"])
    for year, y in zip(trend["x"], trend["y"], strict=True):
        eligible = sums.loc[year, "eligible"]
        if eligible < 10:
            assert y is None
        else:
            assert y is None or y == pytest.approx(drawn_rate(sums.loc[year, "met"], eligible)), year


def test_a_small_cell_is_marked_suppressed_not_drawn_as_zero(app: AppTest, raw) -> None:
    affiliate, year = _affiliate_with_small_cell(raw)
    app.query_params["affiliate"] = affiliate
    app.query_params["year"] = year
    app.run()
    assert not app.exception
    spec = _chart(app, "profile_benchmarks")
    mine = spec["data"][0]
    hidden = [label for label, x in zip(mine["y"], mine["x"], strict=True) if x is None]
    assert hidden and all(x != 0 for x in mine["x"])
    assert len([a for a in spec["layout"]["annotations"] if a["text"] == "<10"]) >= len(hidden)


@pytest.mark.parametrize("bad", ["<script>", "NO-SUCH-AFFILIATE", ""])
def test_a_bad_affiliate_in_the_url_gives_a_notice_not_an_exception(app: AppTest, bad: str) -> None:
    app.query_params["affiliate"] = bad
    app.run()
    assert not app.exception
    assert any("not one you can view" in info.value for info in app.info)
    assert app.query_params["affiliate"] != bad
    assert app.get("plotly_chart")


def test_an_affiliate_lead_picks_only_among_its_affiliates(app: AppTest, raw) -> None:
    counts = raw["schools"]["affiliate_id"].value_counts()
    mine, theirs = frozenset(counts.index[:2]), str(counts.index[2])
    app.session_state["scope"] = queries.Scope(mine)
    app.query_params["affiliate"] = theirs
    app.run()
    assert not app.exception
    names = raw["affiliates"].set_index("affiliate_id")
    expected = {f"{names.loc[a, 'name']} ({names.loc[a, 'state']})" for a in mine}
    picker = app.selectbox(key="profile_affiliate")
    assert set(picker.options) == expected
    assert any("not one you can view" in info.value for info in app.info)
    assert app.query_params["affiliate"] in mine
    assert names.loc[theirs, "name"] not in [s.value for s in app.subheader]
    shown = set(app.dataframe[0].value["School"])
    their_schools = set(raw["schools"].loc[raw["schools"]["affiliate_id"] == theirs, "name"])
    own_schools = set(raw["schools"].loc[raw["schools"]["affiliate_id"].isin(mine), "name"])
    assert shown <= own_schools and not (shown & (their_schools - own_schools))


def test_a_lead_without_affiliates_is_told_why_the_page_is_empty(app: AppTest) -> None:
    app.session_state["scope"] = queries.Scope(frozenset())
    app.run()
    assert not app.exception
    assert any("not linked to any affiliate" in info.value for info in app.info)
    assert not app.get("plotly_chart")


def test_a_year_without_data_is_explained(app: AppTest, raw) -> None:
    sy = raw["school_years"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    first = sy.groupby("affiliate_id")["school_year"].min()
    late = first[first > sy["school_year"].min()]
    affiliate = str(late.index[0])
    app.query_params["affiliate"] = affiliate
    app.query_params["year"] = sy["school_year"].min()
    app.run()
    assert not app.exception
    assert any(f"It has data for {late.iloc[0]}" in info.value for info in app.info)
    assert {m.value for m in app.metric[:5]} == {"–"}


def test_the_picker_opens_on_an_affiliate_with_schools_and_marks_those_without(app: AppTest, raw) -> None:
    year = sorted(raw["school_years"]["school_year"].unique())[-1]
    app.query_params["year"] = year
    app.run()
    assert not app.exception
    picker = app.selectbox(key="profile_affiliate")
    sy = raw["school_years"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    reporting = set(sy.loc[sy["school_year"] == year, "affiliate_id"])
    assert picker.value in reporting
    listed = raw["affiliates"][raw["affiliates"]["kind"] != "state_office"].set_index("affiliate_id")
    silent = sorted(set(listed.index) - reporting)
    assert silent
    marked = [o for o in picker.options if o.endswith(f" · no schools in {year}")]
    assert sorted(marked) == sorted(f"{listed.at[a, 'name']} ({listed.at[a, 'state']}) · no schools in {year}"
                                    for a in silent)  # fmt: skip
    assert picker.options[-len(marked) :] == marked
