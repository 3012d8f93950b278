"""The Schools page through AppTest: shown figures against a pandas recomputation, URL checks and scope."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import contract, queries
from dashboard.formatting import percent
from dashboard.views import schools as schools_view
from tests import published
from tests.coding import drawn_rate

ROOT = Path(__file__).resolve().parents[2]
METRIC = "promoted"


@pytest.fixture
def app(open_page) -> AppTest:
    return open_page("schools")


@pytest.fixture(scope="module")
def affiliate(raw) -> str:
    return raw["schools"]["affiliate_id"].value_counts().index[0]


@pytest.fixture(scope="module")
def latest(raw) -> str:
    return raw["school_years"]["school_year"].max()


def _open(app: AppTest, schools: list[str], metric: str = METRIC, year: str | None = None, scope=None) -> AppTest:
    app.query_params["school"] = schools
    app.query_params["metric"] = metric
    if year:
        app.query_params["year"] = year
    if scope is not None:
        app.session_state["scope"] = scope
    app.run()
    assert not app.exception
    return app


def _table(app: AppTest, column: str) -> pd.DataFrame:
    """The shown st.dataframe that has `column`."""
    return next(d.value for d in app.dataframe if column in d.value.columns)


def _url_schools(app: AppTest) -> list[str]:
    """?school= as a list (AppTest gives a lone value as a string)."""
    value = app.query_params.get("school", [])
    return [value] if isinstance(value, str) else list(value)


def _sums(raw, metric: str) -> pd.DataFrame:
    """eligible and met per school x year over both tiers, with the school's peer keys and state."""
    o = raw["outcomes"][raw["outcomes"]["metric"] == metric]
    sums = o.groupby(["school_id", "school_year"], as_index=False)[["eligible", "met"]].sum()
    return sums.merge(
        raw["schools"][["school_id", "affiliate_id", "name", "city", "state", "level", "locale", "title_i"]]
    )


def _shown_rate(eligible: int, met: int) -> float:
    """The rate as the page may show it: top/bottom coded below 300 students (tests/coding.py)."""
    return drawn_rate(met, eligible)


def test_lines_match_the_raw_tables(app: AppTest, raw, sqlite_engine, affiliate) -> None:
    own = raw["schools"][raw["schools"]["affiliate_id"] == affiliate]
    picked = own["school_id"].head(4).tolist()
    _open(app, picked)
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    traces = [t for t in spec["data"] if t["name"] != "Nation (all schools)"]
    assert {t["customdata"][0][0] for t in traces} <= set(picked) and len(traces) >= 2
    sums = _sums(raw, METRIC).set_index(["school_id", "school_year"])
    compared = 0
    for trace in traces:
        school = trace["customdata"][0][0]
        # Every school year the school has the outcome in, read one year at a time, and none twice.
        assert sorted(trace["x"]) == sorted(sums.loc[school].index), school
        for year, y, custom in zip(trace["x"], trace["y"], trace["customdata"], strict=True):
            eligible, met = sums.loc[(custom[0], year), ["eligible", "met"]]
            if y is None:  # suppressed: never drawn, labelled
                # '<10' when small; 'hidden' when it has 10 or more and protects another
                assert custom[1] == ("<10" if eligible < 10 else "hidden") and custom[2] == "n suppressed"
                continue
            assert eligible >= 10
            assert y == pytest.approx(_shown_rate(eligible, met)), (custom[0], year)
            compared += 1
    assert compared >= 10
    nation = next(t for t in spec["data"] if t["name"] == "Nation (all schools)")
    all_sums = _sums(raw, METRIC).groupby("school_year")[["eligible", "met"]].sum()
    expected = (all_sums["met"] / all_sums["eligible"]).loc[nation["x"]]
    withheld = 0
    for year, y, label in zip(nation["x"], nation["y"], nation["customdata"], strict=True):
        if published.benchmark_statuses(sqlite_engine, METRIC, year)[("nation", "")] == "shown":
            assert y == pytest.approx(expected[year]) and label == percent(expected[year])
        else:  # the joint pass hid the nation's total that year: a gap, and its label
            assert y is None and label == "hidden"
            withheld += 1
    assert withheld < len(nation["x"])


def test_benchmarks_shown_match_pandas(app: AppTest, raw, sqlite_engine, affiliate, latest) -> None:
    statuses = published.benchmark_statuses(sqlite_engine, METRIC, latest)
    sums = _sums(raw, METRIC)
    sums["status"] = [statuses.get(("school", s)) for s in sums["school_id"]]
    year = sums[sums["school_year"] == latest]
    own = year[year["affiliate_id"] == affiliate].sort_values("eligible", ascending=False)
    picked = own["school_id"].head(5).tolist()
    _open(app, picked, scope=queries.Scope(frozenset({affiliate})))
    shown = _table(app, "Peer group rate").set_index("School")
    checked = 0
    for school in own.head(5).itertuples():
        row = shown.loc[f"{school.name} ({school.city}, {school.state})"]
        group = year[(year["level"] == school.level) & (year["locale"] == school.locale)
                     & (year["title_i"] == school.title_i) & (year["eligible"] > 0)]  # fmt: skip
        if row["Peer group rate"] == schools_view.TOO_FEW:
            assert (group["affiliate_id"] != affiliate).sum() < 3
            continue
        if statuses[published.peer(school.level, school.locale, school.title_i)] == "shown":
            assert row["Peer group rate"] == percent(group["met"].sum() / group["eligible"].sum())
        state = year[year["state"] == school.state]
        if statuses[("state", school.state)] == "shown":
            assert row["State rate"] == percent(state["met"].sum() / state["eligible"].sum())
        assert row["National rate"] == percent(year["met"].sum() / year["eligible"].sum())
        if "percentile of" in row["Percentile among peers"]:
            ranked = group[group["status"] == "shown"]  # only rates published exactly rank
            rates = ranked["met"] / ranked["eligible"]
            mine = school.met / school.eligible
            pct = 100 * ((rates < mine - 1e-12).sum() + 0.5 * ((rates - mine).abs() <= 1e-12).sum()) / len(rates)
            assert row["Percentile among peers"].startswith(f"{round(pct)}")
            assert row["Percentile among peers"].endswith(f"percentile of {len(rates)} {schools_view.RANKED_PEERS}")
            checked += 1
    assert checked >= 2


def test_lead_sees_only_own_schools_and_a_crafted_id_is_dropped(app: AppTest, raw, affiliate, latest) -> None:
    schools = raw["schools"]
    own = schools[schools["affiliate_id"] == affiliate]
    other = schools[schools["affiliate_id"] != affiliate].iloc[0]
    _open(app, [own["school_id"].iloc[0], other["school_id"]], scope=queries.Scope(frozenset({affiliate})))
    assert any("not in your schools" in i.value for i in app.info)
    picker = app.multiselect(key="schools_pick")
    assert len(picker.options) == len(own)
    assert all(o.split(" (")[0] in set(own["name"]) for o in picker.options)
    assert picker.value == [own["school_id"].iloc[0]]
    assert _url_schools(app) == [own["school_id"].iloc[0]]
    table = _table(app, "Trend")
    served = raw["school_years"]
    expected = set(
        served.loc[(served["school_year"] == latest) & served["school_id"].isin(own["school_id"]), "school_id"]
    )
    assert len(table) == len(expected)
    assert set(table["School"]) <= set(own["name"])
    assert other["name"] not in set(table["School"]) or other["name"] in set(own["name"])
    everything = json.dumps([json.loads(c.proto.spec) for c in app.get("plotly_chart")])
    assert other["school_id"] not in everything


def test_school_table_matches_pandas_and_hides_small_cells(app: AppTest, raw, affiliate, latest) -> None:
    _open(app, [], scope=queries.Scope(frozenset({affiliate})))
    assert any("Pick up to 10 schools" in i.value for i in app.info)  # explained empty state
    table = _table(app, "Trend")
    sums = _sums(raw, METRIC)
    sums = sums[(sums["school_year"] == latest) & (sums["affiliate_id"] == affiliate)].set_index("name")
    served = raw["school_years"].merge(raw["schools"][["school_id", "name", "affiliate_id"]])
    served = served[(served["school_year"] == latest) & (served["affiliate_id"] == affiliate)].set_index("name")
    compared = hidden = 0
    for row in table.itertuples():
        students = row[table.columns.get_loc("Students served") + 1]
        assert students == served.loc[row.School, "students_served"] or students == schools_view.HIDDEN_VALUE
        rate = row.Rate
        if row.School not in sums.index:
            assert rate == schools_view.NO_DATA_VALUE
            continue
        eligible, met = sums.loc[row.School, ["eligible", "met"]]
        if eligible < 10:
            assert rate == schools_view.HIDDEN_VALUE  # a stand-in, never the rate: the page writes '<10' over it
            hidden += 1
        elif rate != schools_view.COMPLEMENT_VALUE:  # complementary suppression hides some larger cells, as 'hidden'
            assert rate == pytest.approx(_shown_rate(eligible, met))
            compared += 1
    assert compared >= len(table) // 2
    trends = table["Trend"].str.split(" ").str[0]
    assert set(trends) <= {"▲", "▼", "▬", "–"}
    assert table["Trend"].str.contains("up|down|steady|no comparison").all()


@pytest.mark.parametrize(
    "params",
    [
        {"school": ["BOGUS", "'; DROP TABLE schools; --"], "metric": "nope", "year": "1999-00"},
        {"metric": "", "year": ""},
    ],
)
def test_bad_url_values_give_a_notice_not_an_exception(app: AppTest, params) -> None:
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception
    notices = " ".join(i.value for i in [*app.info, *app.sidebar.info])
    assert "not" in notices
    assert app.query_params["metric"] == "remained_in_school"
    assert app.dataframe  # the table of all schools still shows


def test_more_than_ten_schools_are_trimmed_with_a_notice(app: AppTest, raw) -> None:
    ids = raw["schools"]["school_id"].head(13).tolist()
    _open(app, ids)
    assert any("Up to 10 schools" in i.value for i in app.info)
    assert app.multiselect(key="schools_pick").value == ids[:10]
    assert _url_schools(app) == ids[:10]


def test_schools_without_the_outcome_get_an_explained_empty_state(app: AppTest, raw, affiliate, latest) -> None:
    schools = raw["schools"]
    seniors = set(raw["outcomes"].loc[raw["outcomes"]["metric"] == "graduated", "school_id"])
    without = schools[(schools["affiliate_id"] == affiliate) & ~schools["school_id"].isin(seniors)]
    assert len(without) >= 2
    _open(app, without["school_id"].head(3).tolist(), metric="graduated", scope=queries.Scope(frozenset({affiliate})))
    infos = [i.value for i in app.info]
    assert any("no graduated (seniors) data in any year" in i for i in infos)
    assert any(f"has graduated (seniors) data in {latest}" in i for i in infos)
    assert not app.get("plotly_chart")  # no empty chart, the notices say why
    assert _table(app, "Trend") is not None  # the table of every school still shows


def test_the_table_ranks_each_school_against_its_peers_as_pandas_does(app: AppTest, raw, sqlite_engine, affiliate,
                                                                     latest) -> None:  # fmt: skip
    _open(app, [], scope=queries.Scope(frozenset({affiliate})))
    table = _table(app, "Percentile").set_index("School")
    statuses = published.benchmark_statuses(sqlite_engine, METRIC, latest)
    sums = _sums(raw, METRIC)
    sums["status"] = [statuses.get(("school", s)) for s in sums["school_id"]]
    year = sums[(sums["school_year"] == latest) & (sums["eligible"] > 0)]
    mine = year[year["affiliate_id"] == affiliate]
    ranked_checked = gaps = 0
    for school in mine.itertuples():
        row = table.loc[school.name] if school.name in table.index else None
        if row is None or isinstance(row, pd.DataFrame):  # two schools of one name: skip the ambiguous row
            continue
        group = year[(year["level"] == school.level) & (year["locale"] == school.locale)
                     & (year["title_i"] == school.title_i)]  # fmt: skip
        outside = (group["affiliate_id"] != affiliate).sum()
        if outside < schools_view.MIN_OTHER_SCHOOLS:
            assert row["Peer rate"] == schools_view.NOT_RANKED_VALUE
            continue
        peer = group["met"].sum() / group["eligible"].sum()
        if statuses[published.peer(school.level, school.locale, school.title_i)] != "shown":
            assert row["Peer rate"] == schools_view.NOT_RANKED_VALUE  # drawn as the cell's label, no number sent
            continue
        assert row["Peer rate"] == pytest.approx(peer)
        if row["Rate"] >= 0 and row["Gap to peers (pts)"] != schools_view.NO_CHANGE_VALUE:
            assert row["Gap to peers (pts)"] == pytest.approx(round((row["Rate"] - peer) * 100, 1), abs=0.051)
            gaps += 1
        if row["Percentile"] != schools_view.NOT_RANKED_VALUE:
            ranks = group[group["status"] == "shown"]
            rates = ranks["met"] / ranks["eligible"]
            me = school.met / school.eligible
            pct = 100 * ((rates < me - 1e-12).sum() + 0.5 * ((rates - me).abs() <= 1e-12).sum()) / len(rates)
            assert row["Percentile"] == round(pct)
            ranked_checked += 1
    assert ranked_checked >= 3 and gaps >= 3
    numbers = ["Students served", "Eligible students", "Rate", "Peer rate", "Gap to peers (pts)", "Percentile"]
    assert all(pd.api.types.is_float_dtype(table[c]) for c in numbers)  # they sort as numbers


def test_the_board_narrows_the_table_by_state_and_affiliate(app: AppTest, raw, latest) -> None:
    app.query_params["state"] = "NC"
    _open(app, [])
    assert not any("your" in s.value.lower() for s in app.subheader)
    table = _table(app, "Percentile")
    served = raw["school_years"].merge(raw["schools"][["school_id", "state", "affiliate_id", "name"]])
    nc = served[(served["school_year"] == latest) & (served["state"] == "NC")]
    assert len(table) == len(nc) and "State" not in table.columns  # one state: no column saying so
    one = nc["affiliate_id"].value_counts().index[0]
    app.multiselect(key="filter_aff").set_value([one]).run()
    assert not app.exception
    assert len(_table(app, "Percentile")) == (nc["affiliate_id"] == one).sum()
    assert app.query_params["aff"] in (one, [one])


def test_a_view_of_more_schools_than_a_table_shows_asks_for_a_state(app: AppTest, raw, monkeypatch) -> None:
    monkeypatch.setattr(schools_view, "MAX_TABLE_ROWS", 50)
    _open(app, [])
    assert any("Pick a state or an affiliate" in i.value for i in app.info)
    assert not any("Percentile" in d.value.columns for d in app.dataframe)
    assert app.get("download_button")  # the CSV still holds every school


def test_the_board_reads_no_withheld_benchmark_off_the_schools_page(open_page, raw, sqlite_engine, latest) -> None:
    """An attack: every peer-group and state total the published cells withhold (coded, hidden or small), looked up
    on the Schools page beside one of its schools; the page's comparison table, its chart and its table of every
    school must not give the total's exact rate, which pandas recomputes from the raw tables."""
    attacked, leaks = 0, []
    for metric in contract.METRICS:
        statuses = published.benchmark_statuses(sqlite_engine, metric, latest)
        sums = _sums(raw, metric)
        year = sums[(sums["school_year"] == latest) & (sums["eligible"] > 0)]
        targets = {}  # school_id -> [(what, column, exact rate)]
        group_rows = {}  # peer keys -> (name, city) of its schools, as the table of every school names them
        for keys, group in year.groupby(["level", "locale", "title_i"]):
            group_rows[keys] = list(zip(group["name"], group["city"], strict=True))
            if statuses[published.peer(*keys)] != "shown" and len(group) > schools_view.MIN_OTHER_SCHOOLS:
                rate = group["met"].sum() / group["eligible"].sum()
                targets.setdefault(group["school_id"].iloc[0], []).append((keys, "Peer group rate", rate))
        for state, group in year.groupby("state"):
            if statuses[("state", state)] != "shown" and len(group) > schools_view.MIN_OTHER_SCHOOLS:
                rate = group["met"].sum() / group["eligible"].sum()
                targets.setdefault(group["school_id"].iloc[0], []).append((state, "State rate", rate))
        for batch in range(0, min(len(targets), 20), schools_view.MAX_SCHOOLS):
            picked = list(targets)[batch : batch + schools_view.MAX_SCHOOLS]
            page = _open(open_page("schools"), picked, metric=metric, year=latest)
            shown = _table(page, "Peer group rate")
            spec = json.loads(page.get("plotly_chart")[1].proto.spec)
            drawn = [x for t in spec["data"] if t["name"] in ("Peer group", "State") for x in t["x"] if x is not None]
            every = _table(page, "Percentile").set_index(["School", "City"])["Peer rate"]
            for school_id in picked:
                row = shown[
                    shown["School"].str.startswith(raw["schools"].set_index("school_id").loc[school_id, "name"])
                ]
                for what, column, rate in targets[school_id]:
                    attacked += 1
                    if percent(rate) in set(row[column]) or any(abs(x - rate) < 1e-9 for x in drawn):
                        leaks.append((metric, what, column, percent(rate)))
                    # the table's rows of that group's schools only: another group may be shown at that rate
                    members = group_rows[what] if column == "Peer group rate" else []
                    mine = every[every.index.isin(members)]
                    if column == "Peer group rate" and ((mine - rate).abs() < 1e-9).any():
                        leaks.append((metric, what, "table's Peer rate", percent(rate)))
    assert attacked >= 5, attacked  # the 0.2x network withholds totals of both kinds for the attack to try
    assert leaks == []
