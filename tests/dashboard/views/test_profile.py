"""The Affiliate profile's queries and view logic against independent pandas recomputations, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import privacy
from dashboard.data import queries
from dashboard.data.queries import Filters, Scope
from dashboard.views import profile as profile_view


def _biggest_affiliate(raw: dict[str, pd.DataFrame], state: str) -> str:
    """The affiliate with most schools in `state`: picked from the data, never typed in."""
    s = raw["schools"]
    return str(s.loc[s["state"] == state, "affiliate_id"].value_counts().index[0])


def _other_affiliate(raw: dict[str, pd.DataFrame], than: str) -> str:
    counts = raw["schools"]["affiliate_id"].value_counts()
    return str(next(a for a in counts.index if a != than))


def _rates(o: pd.DataFrame) -> pd.DataFrame:
    out = o.groupby(["school_year", "metric"], as_index=False)[["eligible", "met"]].sum()
    return out.assign(rate=out["met"] / out["eligible"])


def test_a_lead_asking_for_another_affiliate_gets_nothing(engine, raw) -> None:
    mine = _biggest_affiliate(raw, "NC")
    theirs = _other_affiliate(raw, mine)
    lead = Scope(frozenset({mine}))
    year = raw["school_years"]["school_year"].max()
    assert queries.affiliate_details(engine, theirs, lead).empty
    assert queries.affiliate_school_list(engine, theirs, year, lead).empty
    assert queries.affiliate_outcome_benchmarks(engine, theirs, (year,), lead).empty
    asked = Filters(affiliates=(theirs,))
    assert queries.kpi_totals(engine, asked, lead).empty
    assert queries.partners_by_year(engine, asked, lead).empty
    assert queries.students_served_by_tier(engine, asked, lead).empty
    assert queries.supports_by_category(engine, asked, lead).empty
    assert queries.partners_by_category(engine, asked, lead).empty
    assert queries.finances_by_category(engine, asked, lead).empty
    assert profile_view.load(engine, theirs, year, (year,), lead) is None
    # the same lead does see its own affiliate, so the empty answers above are the scope at work
    assert not queries.affiliate_details(engine, mine, lead).empty
    assert profile_view.load(engine, mine, year, (year,), lead) is not None


def test_an_unknown_affiliate_gets_nothing(engine) -> None:
    assert queries.affiliate_details(engine, "NO-SUCH-PLACE").empty
    assert queries.affiliate_outcome_benchmarks(engine, "NO-SUCH-PLACE", ()).empty
    assert profile_view.load(engine, "'; DROP TABLE schools; --", "2021-22", (), queries.EVERYTHING) is None


@pytest.mark.parametrize("as_lead", [False, True], ids=["everything", "affiliate-lead"])
def test_benchmarks_match_a_pandas_recomputation(engine, raw, as_lead) -> None:
    affiliate = _biggest_affiliate(raw, "NC")
    scope = Scope(frozenset({affiliate})) if as_lead else queries.EVERYTHING
    years = ("2020-21", "2021-22", "2022-23")
    got = queries.affiliate_outcome_benchmarks(engine, affiliate, years, scope)
    o = raw["outcomes"].merge(raw["schools"][["school_id", "state", "affiliate_id"]], on="school_id")
    o = o[o["school_year"].isin(years)]
    state = raw["affiliates"].set_index("affiliate_id").loc[affiliate, "state"]
    expected = {
        "affiliate": _rates(o[o["affiliate_id"] == affiliate]),
        "state": _rates(o[o["state"] == state]),
        "nation": _rates(o),
    }
    # benchmarks are whole-network figures: the lead's scope must not shrink the state or the nation
    assert set(got["benchmark"]) == set(expected)
    for name, want in expected.items():
        part = got[got["benchmark"] == name].merge(want, on=["school_year", "metric"], suffixes=("", "_want"))
        assert len(part) == len(want) == (got["benchmark"] == name).sum() > 0, name
        assert (part["eligible"] == part["eligible_want"]).all(), name
        assert (part["met"] == part["met_want"]).all(), name
        np.testing.assert_allclose(part["rate"], part["rate_want"], err_msg=name)
    # no school is named anywhere in the benchmark answer
    assert list(got.columns) == ["benchmark", "school_year", "metric", "eligible", "met", "rate"]


def test_school_list_matches_the_raw_tables(engine, raw) -> None:
    affiliate = _biggest_affiliate(raw, "TX")
    year = "2021-22"
    got = queries.affiliate_school_list(engine, affiliate, year, Scope(frozenset({affiliate})))
    s = raw["schools"][raw["schools"]["affiliate_id"] == affiliate]
    sy = raw["school_years"][raw["school_years"]["school_year"] == year]
    expected = s.merge(sy[["school_id", "students_served"]], on="school_id", how="left").set_index("school_id")
    assert sorted(got["school_id"]) == sorted(expected.index)
    for row in got.itertuples():
        want = expected.loc[row.school_id]
        assert row.name == want["name"] and row.city == want["city"] and row.level == want["level"]
        assert bool(row.title_i) == bool(want["title_i"])
        if pd.isna(want["students_served"]):
            assert pd.isna(row.students_served)
        else:
            assert row.students_served == want["students_served"]


def test_load_gives_the_affiliates_totals_by_year(engine, raw) -> None:
    affiliate = _biggest_affiliate(raw, "GA")
    data = profile_view.load(engine, affiliate, "2022-23", ("2021-22", "2022-23"), queries.EVERYTHING)
    assert data is not None and data.affiliate["affiliate_id"] == affiliate
    s = raw["schools"].loc[raw["schools"]["affiliate_id"] == affiliate, ["school_id"]]
    sy = raw["school_years"].merge(s, on="school_id")
    expected = sy.groupby("school_year").agg(
        schools=("school_id", "count"), students_served=("students_served", "sum"), volunteers=("volunteers", "sum")
    )
    p = raw["partnerships"].merge(s, on="school_id").groupby("school_year")["partner_id"].nunique()
    totals = data.totals.set_index("school_year")
    for column in expected:
        np.testing.assert_array_equal(totals.loc[expected.index, column].to_numpy(), expected[column].to_numpy())
    np.testing.assert_array_equal(totals.loc[p.index, "partners"].to_numpy(), p.to_numpy())
    f = raw["finances"]
    f = f[(f["affiliate_id"] == affiliate) & (f["school_year"] == "2022-23")].groupby("line")["amount_usd"].sum()
    got = profile_view.finance_totals(data.finances)
    assert got["revenue"] == pytest.approx(f.get("revenue", 0.0))
    assert got["expense"] == pytest.approx(f.get("expense", 0.0))


def test_choose_sets_aside_unknown_and_out_of_scope_ids_with_one_notice() -> None:
    ids = ["A", "B"]
    assert profile_view.choose(None, ids) == ("A", None)
    assert profile_view.choose("B", ids) == ("B", None)
    chosen, notice = profile_view.choose("<script>", ids)
    assert chosen == "A" and notice and "not one you can view" in notice
    assert profile_view.choose("C", ids)[1] == notice.replace("'\\<script\\>'", "'C'")  # the id is Markdown-escaped


def test_trend_years_end_at_the_chosen_year() -> None:
    years = [f"{y}-{(y + 1) % 100:02d}" for y in range(2010, 2025)]
    assert profile_view.trend_years(years, "2022-23") == tuple(years[3:13])
    assert profile_view.trend_years(years, "2011-12") == ("2010-11", "2011-12")


def test_kpi_cards_suppress_small_student_counts_and_their_change() -> None:
    base = {"schools": 2, "partners": 3, "volunteers": 4}
    shown = {"students_served_status": "shown"}
    totals = pd.DataFrame([
        {"school_year": "2021-22", "students_served": 120, "case_managed": 7, "case_managed_status": "small",
         **shown, **base},
        {"school_year": "2022-23", "students_served": 150, "case_managed": 12, "case_managed_status": "shown",
         **shown, **base},
        {"school_year": "2023-24", "students_served": 160, "case_managed": 15, "case_managed_status": "hidden",
         **shown, **base},
    ])  # fmt: skip
    cards = {c.label: c for c in profile_view.kpi_cards(totals, "2022-23", "2021-22")}
    assert cards["Students served"].value == "150" and cards["Students served"].delta == "30"
    # 12 is shown, but its change would reveal last year's 7
    assert cards["Case-managed (tier 3)"].value == "12" and cards["Case-managed (tier 3)"].delta is None
    cards = {c.label: c for c in profile_view.kpi_cards(totals, "2021-22", None)}
    assert cards["Case-managed (tier 3)"].value == privacy.SUPPRESSED
    assert cards["Volunteers"].value == "4"  # not a count of students
    # Hidden to protect another count: 'hidden', not '<10', and no change either way.
    cards = {c.label: c for c in profile_view.kpi_cards(totals, "2023-24", "2022-23")}
    assert cards["Case-managed (tier 3)"].value == privacy.HIDDEN_LABEL
    assert cards["Case-managed (tier 3)"].delta is None
    # Without a stored status a student count is not shown.
    cards = {c.label: c for c in profile_view.kpi_cards(totals.drop(columns="case_managed_status"), "2022-23", None)}
    assert cards["Case-managed (tier 3)"].value == privacy.HIDDEN_LABEL


def test_kpi_cards_for_a_year_without_data_show_dashes() -> None:
    totals = pd.DataFrame([{"school_year": "2021-22", "students_served": 120, "case_managed": 12, "schools": 2,
                            "partners": 3, "volunteers": 4}])  # fmt: skip
    cards = profile_view.kpi_cards(totals, "2022-23", "2021-22")
    assert {c.value for c in cards} == {profile_view.MISSING} and all(c.delta is None for c in cards)


def test_schools_table_hides_a_small_school_and_one_more() -> None:
    schools = pd.DataFrame({
        "school_id": ["a", "b", "c", "d"],
        "name": ["A", "B", "C", "D"],
        "city": "X",
        "level": "high",
        "locale": "city",
        "title_i": True,
        "students_served": pd.array([5, 40, 300, None], dtype="Int64"),
        "students_served_status": ["small", "hidden", "shown", "hidden"],
    })  # fmt: skip
    table, silent = profile_view.schools_table(schools)
    assert silent == 1 and list(table["School"]) == ["A", "B", "C"]
    # B is hidden only to protect A: it reads 'hidden', never '<10'.
    assert list(table["Students served"]) == [privacy.SUPPRESSED, privacy.HIDDEN_LABEL, "300"]


def test_benchmark_bars_show_a_small_cell_as_suppressed_never_zero() -> None:
    bench = pd.DataFrame({
        "benchmark": ["affiliate", "state", "nation", "affiliate"],
        "school_year": "2022-23",
        "metric": ["graduated", "graduated", "graduated", "promoted"],
        "eligible": [6, 500, 5000, 200],
        "met": [6, 450, 4700, 190],
    })  # fmt: skip
    bench["rate"] = bench["met"] / bench["eligible"]
    names = {"affiliate": "Here", "state": "Texas", "nation": "Nation"}
    bars = profile_view.benchmark_bars(bench, "2022-23", names)
    small = bars[(bars["benchmark"] == "affiliate") & (bars["metric"] == "graduated")].iloc[0]
    assert small["suppressed"] and small["rate_label"] == privacy.SUPPRESSED and pd.isna(small["rate"])
    assert small["n_label"] == "n suppressed"
    fig = profile_view.benchmark_figure(bars)
    here = next(t for t in fig.data if t.name == "Here")
    graduated = list(here.y).index("Graduated (seniors)")
    assert here.x[graduated] is None  # no bar, and certainly not a bar at 0
    assert [a.text for a in fig.layout.annotations] == [privacy.SUPPRESSED]
    texas = next(t for t in fig.data if t.name == "Texas")
    assert texas.x[list(texas.y).index("Graduated (seniors)")] == pytest.approx(0.9)
    assert "n = 500 eligible" in texas.customdata[list(texas.y).index("Graduated (seniors)")][1]


def test_places_without_outcomes_are_named_for_the_caption() -> None:
    bench = pd.DataFrame({"benchmark": ["nation"], "school_year": "2015-16", "metric": "promoted", "eligible": [900],
                          "met": [870]})  # fmt: skip
    bench["rate"] = bench["met"] / bench["eligible"]
    names = {"affiliate": "Here", "state": "Colorado", "nation": "Nation"}
    bars = profile_view.benchmark_bars(bench, "2015-16", names)
    assert profile_view.places_without_outcomes(bars, names) == ["Here", "Colorado"]
    assert [t.name for t in profile_view.benchmark_figure(bars).data] == ["Nation"]
