"""The Partners page through AppTest: its figures against a pandas recomputation, a lead's scope, empty views."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import contract, queries

ROOT = Path(__file__).resolve().parents[2]
YEAR = "2021-22"
LABELS = {
    "business": "Business",
    "nonprofit": "Nonprofit",
    "faith_based": "Faith-based",
    "government": "Government",
    "higher_education": "Higher education",
    "healthcare": "Healthcare",
    "philanthropy": "Philanthropy",
    "civic": "Civic",
}


@pytest.fixture
def app(open_page) -> AppTest:
    return open_page("partners")


def _decoded(value: object) -> object:
    """Plotly's JSON as plain lists: numeric arrays arrive base64-encoded ({'dtype', 'bdata', 'shape'})."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return array.tolist()
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _charts(at: AppTest) -> list[dict]:
    """The page's plotly figures in page order: trend, categories, reach, supports."""
    return [_decoded(json.loads(chart.proto.spec)) for chart in at.get("plotly_chart")]


def _rows(raw, year: str | None = YEAR, affiliate: str | None = None) -> pd.DataFrame:
    rows = raw["partnerships"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    rows = rows.merge(raw["partners"][["partner_id", "name", "category"]], on="partner_id", suffixes=("", "_p"))
    if year:
        rows = rows[rows["school_year"] == year]
    if affiliate:
        rows = rows[rows["affiliate_id"] == affiliate]
    return rows


def _top_table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[-1].value  # the data expanders come first; the top-partners table closes the page


def test_figures_match_the_raw_tables(app: AppTest, raw) -> None:
    app.query_params["year"] = YEAR
    app.run()
    assert not app.exception
    trend, categories, reach, supports = _charts(app)
    rows = _rows(raw)

    by_year = _rows(raw, year=None).groupby("school_year")[["in_kind_usd", "volunteer_hours"]].sum()
    in_kind, hours = trend["data"]
    assert in_kind["x"] == by_year.index.tolist()
    assert in_kind["y"] == pytest.approx(by_year["in_kind_usd"].tolist())
    assert hours["y"] == pytest.approx(by_year["volunteer_hours"].tolist())

    per_category = rows.groupby("category_p")["partner_id"].nunique()
    bars = categories["data"][0]
    assert dict(zip(bars["y"], bars["x"], strict=True)) == {LABELS[c]: n for c, n in per_category.items()}

    per_partner = rows.groupby("partner_id")["school_id"].nunique()
    hist = reach["data"][0]
    assert dict(zip(hist["x"], hist["y"], strict=True)) == {str(n): c for n, c in per_partner.value_counts().items()}
    assert f"Median: {per_partner.median():g} school" in reach["layout"]["title"]["text"]

    heat = supports["data"][0]
    pairs = rows.groupby(["category_p", "category"])["partner_id"].nunique()
    order = [c for c in contract.PARTNER_CATEGORIES if c in set(rows["category_p"])]
    for i, partner_category in enumerate(order):
        for j, support in enumerate(contract.SUPPORT_CATEGORIES):
            assert heat["z"][i][j] == pairs.get((partner_category, support), 0)

    per = rows.groupby(["partner_id", "name"], as_index=False)["in_kind_usd"].sum()
    per = per.sort_values(["in_kind_usd", "partner_id"], ascending=[False, True]).head(25)
    table = _top_table(app)
    assert table["Partner"].tolist() == per["name"].tolist()
    assert table["In-kind value (USD)"].tolist() == pytest.approx(per["in_kind_usd"].round(0).tolist())
    assert any(f"of {rows['partner_id'].nunique():,} in view" in c.value for c in app.caption)


def test_show_every_partner_lists_them_all(app: AppTest, raw) -> None:
    app.query_params["year"] = YEAR
    app.run()
    app.toggle(key="partners_show_all").set_value(True).run()
    assert not app.exception
    assert len(_top_table(app)) == _rows(raw)["partner_id"].nunique()


def test_an_affiliate_lead_sees_only_its_schools_partnerships(app: AppTest, raw) -> None:
    counts = _rows(raw)["affiliate_id"].value_counts()
    affiliate = counts.index[len(counts) // 2]
    app.session_state["scope"] = queries.Scope(frozenset({affiliate}))
    app.query_params["year"] = YEAR
    app.run()
    assert not app.exception
    mine = _rows(raw, affiliate=affiliate)
    trend = _charts(app)[0]["data"][0]
    by_year = _rows(raw, year=None, affiliate=affiliate).groupby("school_year")["in_kind_usd"].sum()
    assert dict(zip(trend["x"], trend["y"], strict=True)) == pytest.approx(by_year.to_dict())
    app.toggle(key="partners_show_all").set_value(True).run()
    table = _top_table(app)
    assert set(table["Partner"]) == set(mine["name"])
    assert table["In-kind value (USD)"].sum() == pytest.approx(mine["in_kind_usd"].sum(), abs=len(table))


def test_filters_that_match_nothing_explain_the_empty_view(app: AppTest, raw) -> None:
    schools = raw["schools"]
    have = set(zip(schools["state"], schools["level"], strict=True))
    state, level = next((s, lv) for s in sorted(set(schools["state"])) for lv in contract.LEVELS if (s, lv) not in have)
    app.query_params["state"] = state
    app.query_params["level"] = level
    app.run()
    assert not app.exception
    assert any("No partnerships" in info.value for info in app.info)
    assert not app.get("plotly_chart")


def test_an_unknown_year_in_the_url_falls_back_with_a_notice(app: AppTest) -> None:
    app.query_params["year"] = "<script>"
    app.run()
    assert not app.exception
    assert any("not in the data" in info.value for info in app.sidebar.info)
    assert len(app.get("plotly_chart")) == 4
