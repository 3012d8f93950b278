"""The Partners page's queries and figures, against pandas recomputations from the demo CSV files."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.data import contract, queries
from dashboard.views import partners as partners_view

YEAR = "2022-23"


def _partnerships(raw, year: str | None = YEAR, affiliates: set[str] | None = None, states: set[str] | None = None):
    """Partnership rows joined to their school and partner, narrowed like the queries narrow them."""
    rows = raw["partnerships"].merge(
        raw["schools"][["school_id", "affiliate_id", "state"]], on="school_id", validate="many_to_one"
    )
    rows = rows.merge(
        raw["partners"][["partner_id", "name", "category"]].rename(columns={"category": "partner_category"}),
        on="partner_id",
        validate="many_to_one",
    )
    if year is not None:
        rows = rows[rows["school_year"] == year]
    if affiliates is not None:
        rows = rows[rows["affiliate_id"].isin(affiliates)]
    if states is not None:
        rows = rows[rows["state"].isin(states)]
    return rows


def _expected_reach(rows: pd.DataFrame) -> dict[int, int]:
    return rows.groupby("partner_id")["school_id"].nunique().value_counts().sort_index().to_dict()


def _lead_affiliate(raw) -> str:
    """An affiliate with partnerships in YEAR, but not the largest (so scope visibly narrows things)."""
    counts = _partnerships(raw)["affiliate_id"].value_counts()
    return counts.index[len(counts) // 2]


def test_partner_reach_counts_partners_per_number_of_schools(engine, raw) -> None:
    got = partners_view.partner_reach(engine, queries.Filters(school_years=(YEAR,)))
    assert dict(zip(got["schools_reached"], got["partners"], strict=True)) == _expected_reach(_partnerships(raw))
    assert got["partners"].sum() == _partnerships(raw)["partner_id"].nunique()


def test_partner_reach_follows_the_state_filter(engine, raw) -> None:
    state = _partnerships(raw)["state"].value_counts().index[1]
    got = partners_view.partner_reach(engine, queries.Filters(school_years=(YEAR,), states=(state,)))
    expected = _expected_reach(_partnerships(raw, states={state}))
    assert dict(zip(got["schools_reached"], got["partners"], strict=True)) == expected
    assert expected != _expected_reach(_partnerships(raw))


def test_support_matrix_matches_the_raw_tables(engine, raw) -> None:
    got = partners_view.partner_support_matrix(engine, queries.Filters(school_years=(YEAR,)))
    expected = (
        _partnerships(raw)
        .groupby(["partner_category", "category"])
        .agg(
            partners=("partner_id", "nunique"),
            schools_reached=("school_id", "nunique"),
            in_kind_usd=("in_kind_usd", "sum"),
            volunteer_hours=("volunteer_hours", "sum"),
        )
    )
    got = got.set_index(["partner_category", "support_category"])
    assert len(got) == len(expected)
    for key, row in expected.iterrows():
        shown = got.loc[key]
        assert shown["partners"] == row["partners"], key
        assert shown["schools_reached"] == row["schools_reached"], key
        assert shown["in_kind_usd"] == pytest.approx(row["in_kind_usd"]), key
        assert shown["volunteer_hours"] == pytest.approx(row["volunteer_hours"]), key


def _expected_top(rows: pd.DataFrame) -> pd.DataFrame:
    per = rows.groupby(["partner_id", "name", "partner_category"], as_index=False).agg(
        schools_reached=("school_id", "nunique"),
        in_kind_usd=("in_kind_usd", "sum"),
        volunteer_hours=("volunteer_hours", "sum"),
    )
    per["rounded"] = per["in_kind_usd"].round(2)  # ties decided by id, as in the query
    return per.sort_values(["rounded", "partner_id"], ascending=[False, True], ignore_index=True)


def test_top_partners_are_the_largest_by_in_kind_value(engine, raw) -> None:
    expected = _expected_top(_partnerships(raw))
    got = partners_view.top_partners(engine, queries.Filters(school_years=(YEAR,)))
    assert len(got) == partners_view.TOP_N
    assert got["partner_id"].tolist() == expected["partner_id"].head(partners_view.TOP_N).tolist()
    assert got["name"].tolist() == expected["name"].head(partners_view.TOP_N).tolist()
    assert got["category"].tolist() == expected["partner_category"].head(partners_view.TOP_N).tolist()
    assert got["schools_reached"].tolist() == expected["schools_reached"].head(partners_view.TOP_N).tolist()
    assert got["in_kind_usd"].tolist() == pytest.approx(expected["in_kind_usd"].head(partners_view.TOP_N).tolist())
    assert got["volunteer_hours"].tolist() == pytest.approx(
        expected["volunteer_hours"].head(partners_view.TOP_N).tolist()
    )
    everyone = partners_view.top_partners(engine, queries.Filters(school_years=(YEAR,)), limit=None)
    assert len(everyone) == len(expected) > partners_view.TOP_N
    assert everyone["in_kind_usd"].sum() == pytest.approx(_partnerships(raw)["in_kind_usd"].sum())


def test_an_affiliate_lead_sees_only_partnerships_at_its_own_schools(engine, raw) -> None:
    affiliate = _lead_affiliate(raw)
    scope = queries.Scope(frozenset({affiliate}))
    mine = _partnerships(raw, affiliates={affiliate})
    everything = _partnerships(raw)
    assert 0 < len(mine) < len(everything)
    filters = queries.Filters(school_years=(YEAR,))

    reach = partners_view.partner_reach(engine, filters, scope)
    assert dict(zip(reach["schools_reached"], reach["partners"], strict=True)) == _expected_reach(mine)

    top = partners_view.top_partners(engine, filters, scope, limit=None)
    assert set(top["partner_id"]) == set(mine["partner_id"])
    # a partner that also works elsewhere shows only what it gives at this affiliate's schools
    assert top.set_index("partner_id")["in_kind_usd"].to_dict() == pytest.approx(
        mine.groupby("partner_id")["in_kind_usd"].sum().to_dict()
    )
    assert top["schools_reached"].max() <= mine["school_id"].nunique()

    matrix = partners_view.partner_support_matrix(engine, filters, scope)
    assert matrix["in_kind_usd"].sum() == pytest.approx(mine["in_kind_usd"].sum())
    assert matrix["schools_reached"].max() <= mine["school_id"].nunique()


def test_a_crafted_id_outside_the_scope_returns_nothing(engine, raw) -> None:
    affiliate = _lead_affiliate(raw)
    scope = queries.Scope(frozenset({affiliate}))
    others = _partnerships(raw)
    others = others[others["affiliate_id"] != affiliate]
    crafted = [
        queries.Filters(school_years=(YEAR,), schools=(others["school_id"].iloc[0],)),
        queries.Filters(school_years=(YEAR,), affiliates=(others["affiliate_id"].iloc[0],)),
    ]
    for filters in crafted:
        assert partners_view.partner_reach(engine, filters, scope).empty
        assert partners_view.partner_support_matrix(engine, filters, scope).empty
        assert partners_view.top_partners(engine, filters, scope, limit=None).empty
        assert queries.partners_by_category(engine, filters, scope).empty
        assert queries.partners_by_year(engine, filters, scope).empty


def test_the_trend_figure_shows_yearly_in_kind_value_and_hours(engine, raw) -> None:
    by_year = queries.partners_by_year(engine, queries.Filters())
    fig = partners_view.value_trend(by_year, YEAR)
    expected = _partnerships(raw, year=None).groupby("school_year")[["in_kind_usd", "volunteer_hours"]].sum()
    in_kind, hours = fig.data
    assert list(in_kind.x) == expected.index.tolist() == list(hours.x)
    assert list(in_kind.y) == pytest.approx(expected["in_kind_usd"].tolist())
    assert list(hours.y) == pytest.approx(expected["volunteer_hours"].tolist())
    highlighted = [
        y for y, c in zip(in_kind.x, in_kind.marker.color, strict=True) if c == partners_view.HIGHLIGHT_COLOUR
    ]
    assert highlighted == [YEAR]
    titles = [a.text for a in fig.layout.annotations]
    assert any("USD" in t for t in titles) and any("hours" in t for t in titles)


def test_the_category_bars_count_distinct_partners(engine, raw) -> None:
    by_category = queries.partners_by_category(engine, queries.Filters(school_years=(YEAR,)))
    bar = partners_view.category_bars(by_category).data[0]
    expected = _partnerships(raw).groupby("partner_category")["partner_id"].nunique()
    shown = dict(zip(bar.y, bar.x, strict=True))
    assert shown == {partners_view.category_label(c): n for c, n in expected.items()}
    assert list(bar.x) == sorted(bar.x)  # largest at the top of a horizontal bar chart


def test_the_reach_histogram_and_its_median(engine, raw) -> None:
    reach = partners_view.partner_reach(engine, queries.Filters(school_years=(YEAR,)))
    per_partner = _partnerships(raw).groupby("partner_id")["school_id"].nunique()
    median = partners_view.reach_median(reach)
    assert median == per_partner.median()
    bins = partners_view.reach_bins(reach)
    bar = partners_view.reach_histogram(bins, median).data[0]
    assert sum(bar.y) == len(per_partner)
    assert dict(zip(bar.x, bar.y, strict=True)) == {str(n): c for n, c in per_partner.value_counts().items()}
    fig = partners_view.reach_histogram(bins, median)
    assert f"Median: {median:g} school" in fig.layout.title.text


@pytest.mark.parametrize(
    ("values", "counts"),
    [([1, 2, 3, 4], [1, 1, 1, 1]), ([1, 2], [3, 3]), ([1, 7, 40], [5, 1, 1]), ([2, 120], [1, 2])],
)
def test_reach_median_is_the_median_over_partners(values, counts) -> None:
    reach = pd.DataFrame({"schools_reached": values, "partners": counts})
    per_partner = pd.Series([v for v, c in zip(values, counts, strict=True) for _ in range(c)])
    assert partners_view.reach_median(reach) == per_partner.median()


def test_reach_bins_group_long_tails_and_keep_every_partner() -> None:
    reach = pd.DataFrame({"schools_reached": [1, 2, 6, 10, 11, 60, 300], "partners": [50, 20, 5, 4, 3, 2, 1]})
    bins = partners_view.reach_bins(reach)
    assert bins["schools"].tolist() == ["1", "2", "3", "4", "5", "6-10", "11-20", "21-50", "51-100", "101+"]
    assert bins.set_index("schools")["partners"].to_dict() == {
        "1": 50, "2": 20, "3": 0, "4": 0, "5": 0, "6-10": 9, "11-20": 3, "21-50": 0, "51-100": 2, "101+": 1,
    }  # fmt: skip
    assert bins["share"].sum() == pytest.approx(1.0)
    short = partners_view.reach_bins(pd.DataFrame({"schools_reached": [1, 4], "partners": [3, 1]}))
    assert short["schools"].tolist() == ["1", "2", "3", "4"]  # small counts: one bar each, gaps shown as 0
    assert partners_view.reach_median(reach.iloc[0:0]) is None
    assert partners_view.reach_bins(reach.iloc[0:0]).empty


def test_the_support_heatmap_is_the_partner_by_support_grid(engine, raw) -> None:
    matrix = partners_view.partner_support_matrix(engine, queries.Filters(school_years=(YEAR,)))
    heat = partners_view.support_heatmap(matrix).data[0]
    expected = _partnerships(raw).pivot_table(
        index="partner_category", columns="category", values="partner_id", aggfunc="nunique", fill_value=0
    )
    for i, partner_category in enumerate(c for c in contract.PARTNER_CATEGORIES if c in expected.index):
        assert heat.y[i] == partners_view.category_label(partner_category)
        for j, support in enumerate(contract.SUPPORT_CATEGORIES):
            assert heat.x[j] == partners_view.support_label(support)
            assert heat.z[i][j] == expected.loc[partner_category].get(support, 0), (partner_category, support)


def test_the_support_caption_names_gaps_in_coverage() -> None:
    matrix = pd.DataFrame(
        {
            "partner_category": ["business", "business", "civic"],
            "support_category": ["basic_needs", "mental_health", "basic_needs"],
            "partners": [5, 2, 1],
            "schools_reached": [4, 2, 1],
            "in_kind_usd": [100.0, 50.0, 10.0],
            "volunteer_hours": [3.0, 1.0, 1.0],
        }
    )
    caption = partners_view.support_caption(matrix, YEAR)
    assert "2 of 10 support categories" in caption
    assert "most often Basic needs" in caption and "least often Mental health" in caption
    assert "No partner gave: Academic assistance" in caption
    grid = partners_view.support_grid(matrix)
    assert grid.loc["business", "academic_assistance"] == 0 and grid.loc["civic", "basic_needs"] == 1


def test_text_from_the_database_is_escaped_in_figures() -> None:
    evil = "<img src=x onerror=alert(1)>"
    by_category = pd.DataFrame(
        {"category": [evil], "partners": [1], "schools_reached": [1], "in_kind_usd": [10.0], "volunteer_hours": [1.0]}
    )
    assert "<img" not in partners_view.category_bars(by_category).data[0].y[0]
    matrix = pd.DataFrame(
        {
            "partner_category": [evil],
            "support_category": [evil],
            "partners": [1],
            "schools_reached": [1],
            "in_kind_usd": [1.0],
            "volunteer_hours": [1.0],
        }
    )
    heat = partners_view.support_heatmap(matrix).data[0]
    assert all("<img" not in str(v) for v in (*heat.x, *heat.y))
    assert "&lt;img" in heat.y[0]


def test_the_top_table_keeps_numbers_sortable_and_names_as_text(engine, raw) -> None:
    top = partners_view.top_partners(engine, queries.Filters(school_years=(YEAR,)))
    table = partners_view.top_table(top)
    assert list(table.columns) == list(partners_view.TOP_TABLE_COLUMNS.values())
    assert table["Partner"].tolist() == _expected_top(_partnerships(raw))["name"].head(partners_view.TOP_N).tolist()
    for column in ("Schools reached", "In-kind value (USD)", "Volunteer hours"):
        assert pd.api.types.is_numeric_dtype(table[column]), column
    reach = partners_view.partner_reach(engine, queries.Filters(school_years=(YEAR,)))
    total = _partnerships(raw)["partner_id"].nunique()
    assert partners_view.top_caption(top, reach, YEAR).startswith("The 25 partners with the largest in-kind value")
    assert f"of {total:,} in view" in partners_view.top_caption(top, reach, YEAR)
    assert partners_view.top_caption(top.head(3), reach.head(1).assign(partners=3), YEAR).startswith("All 3 partners")
