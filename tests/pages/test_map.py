"""The Map page through AppTest: the data behind the map against pandas, scope, and bad URL values.

The folium map itself is a custom component, which AppTest does not render; clicks and the drawn map are tested
in tests/e2e/test_map_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import queries
from dashboard.views import map as map_view

ROOT = Path(__file__).resolve().parents[2]
YEAR = "2022-23"


@pytest.fixture
def app(open_page) -> AppTest:
    return open_page("map")


def _tables(at: AppTest) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The places on the map and the students served by state, as the page's data expanders hold them."""
    places, states = (df.value for df in at.dataframe)
    return places, states


def _served(raw) -> pd.DataFrame:
    sy = raw["school_years"]
    return sy[sy["school_year"] == YEAR].merge(raw["schools"], on="school_id")


def test_the_data_behind_the_map_matches_the_raw_tables(app: AppTest, raw) -> None:
    app.query_params["year"] = YEAR
    app.run()
    assert not app.exception
    places, states = _tables(app)
    served = _served(raw)

    schools = places[places["layer_kind"] == "school"].set_index("place_id")
    assert set(schools.index) == set(served["school_id"])
    raw_served = served.set_index("school_id").loc[schools.index]
    for column, raw_column in (("students_served", "students_served"), ("case_managed", "tier3_students")):
        values = schools[column].astype(str)
        labelled = values.isin(["<10", "hidden"])
        shown = schools.loc[~labelled, column].astype(int)
        assert (shown == raw_served.loc[shown.index, raw_column]).all()
        small = raw_served[raw_column].between(1, 9)
        assert (values[small] == "<10").all()  # every small count reads '<10', never its number
        assert (values[~small & labelled] == "hidden").all()  # a complement is not fewer than 10: 'hidden'
        assert schools.loc[labelled, "suppressed"].all()
    assert (schools["case_managed"].astype(str) == "<10").any()  # the network has small counts to hide

    affiliates = places[places["layer_kind"] == "affiliate"].set_index("place_id")
    expected = served.groupby("affiliate_id")["students_served"].sum()
    assert set(affiliates.index) == set(expected.index)
    shown = affiliates.loc[~affiliates["students_served"].astype(str).isin(["<10", "hidden"]), "students_served"]
    assert len(shown) and (shown.astype(int) == expected.loc[shown.index]).all()

    ps = raw["partnerships"]
    partners = places[places["layer_kind"] == "partner"].set_index("place_id")
    by_partner = ps[ps["school_year"] == YEAR].groupby("partner_id")
    assert set(partners.index) == set(by_partner.groups)
    assert (partners["schools"] == by_partner["school_id"].nunique().loc[partners.index]).all()

    by_state = served.groupby("state")["students_served"].sum()
    states = states.set_index("state")
    assert set(states.index) == set(by_state.index)
    assert (states["students_served"].dropna() == by_state.loc[states["students_served"].dropna().index]).all()


def test_an_affiliate_lead_sees_its_own_places_and_every_state_total(app: AppTest, raw) -> None:
    served = _served(raw)
    mine = served["affiliate_id"].value_counts().index[0]
    app.session_state["scope"] = queries.Scope(frozenset({mine}))
    app.query_params["year"] = YEAR
    app.run()
    assert not app.exception
    places, states = _tables(app)
    assert set(places["affiliate_id"]) == {mine}
    assert set(places.loc[places["layer_kind"] == "school", "place_id"]) == set(
        served.loc[served["affiliate_id"] == mine, "school_id"]
    )
    # the choropleth is a benchmark over every school, naming none
    assert set(states["state"]) == set(served["state"])
    assert states["students_served"].sum() == served.loc[served["state"].isin(states["state"]), "students_served"].sum()
    assert any("state totals" in c.value for c in app.caption)


def test_sidebar_filters_narrow_the_places(app: AppTest, raw) -> None:
    app.query_params["year"] = YEAR
    app.query_params["state"] = "NC"
    app.query_params["title_i"] = "yes"
    app.run()
    assert not app.exception
    places, states = _tables(app)
    served = _served(raw)
    nc = served[(served["state"] == "NC") & served["title_i"].astype(bool)]
    assert set(places.loc[places["layer_kind"] == "school", "place_id"]) == set(nc["school_id"])
    assert list(states["state"]) == ["NC"]


@pytest.mark.parametrize(
    "params",
    [
        {"year": "1999-00"},
        {"year": "<script>"},
        {"state": "ZZ"},
        {"level": "<img src=x onerror=alert(1)>"},
        {"locale": "javascript:alert(1)"},
        {"title_i": "maybe"},
        {"state": "NC' OR 1=1 --"},
    ],
)
def test_bad_url_values_give_a_notice_not_an_exception(app: AppTest, params: dict[str, str]) -> None:
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception
    assert len(app.dataframe) == 2
    assert app.sidebar.info, "an ignored value is said so"


def test_past_the_place_limit_only_states_and_affiliates_are_drawn_until_the_view_narrows(
    open_page, raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = _served(raw)
    ps = raw["partnerships"]
    year_ps = ps[ps["school_year"] == YEAR].merge(raw["schools"][["school_id", "state"]], on="school_id")
    nc_places = (served["state"] == "NC").sum() + year_ps.loc[year_ps["state"] == "NC", "partner_id"].nunique()
    monkeypatch.setattr(map_view, "MAX_PLACES", int(nc_places))  # the nation is over it, North Carolina just fits

    app = open_page("map")
    app.query_params["year"] = YEAR
    app.run()
    assert not app.exception
    places, states = _tables(app)
    assert set(places["layer_kind"]) == {"affiliate"}
    assert set(places["place_id"]) == set(served["affiliate_id"])
    notice = " ".join(i.value for i in app.info)
    assert f"{len(served):,} schools and {year_ps['partner_id'].nunique():,} community partners" in notice
    assert "choose a state or an affiliate" in notice
    assert set(states["state"]) == set(served["state"]), "the state totals stay"

    app = open_page("map")
    app.query_params.update(year=YEAR, state="NC")
    app.run()
    assert not app.exception
    places, _ = _tables(app)
    assert set(places.loc[places["layer_kind"] == "school", "place_id"]) == set(
        served.loc[served["state"] == "NC", "school_id"]
    )
    assert (places["layer_kind"] == "partner").sum() == year_ps.loc[year_ps["state"] == "NC", "partner_id"].nunique()
    assert not any("more than the" in i.value for i in app.info)
