"""Every query against an independent pandas recomputation from the CSV files, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard.data import db, queries
from dashboard.data.queries import Filters, Scope


def _schools_in_view(raw: dict[str, pd.DataFrame], f: Filters, scope: Scope) -> pd.DataFrame:
    s = raw["schools"]
    keep = pd.Series(True, index=s.index)
    if scope.affiliates is not None:
        keep &= s["affiliate_id"].isin(scope.affiliates)
    if f.states:
        keep &= s["state"].isin(f.states)
    if f.affiliates:
        keep &= s["affiliate_id"].isin(f.affiliates)
    if f.levels:
        keep &= s["level"].isin(f.levels)
    if f.title_i is not None:
        keep &= s["title_i"] == f.title_i
    if f.locales:
        keep &= s["locale"].isin(f.locales)
    return s[keep]


def _years(frame: pd.DataFrame, f: Filters) -> pd.DataFrame:
    return frame[frame["school_year"].isin(f.school_years)] if f.school_years else frame


CASES = [
    (Filters(), Scope.everything()),
    (Filters(states=("TX", "GA"), school_years=("2019-20", "2021-22")), Scope.everything()),
    (Filters(levels=("high",), title_i=True, locales=("city", "rural")), Scope.everything()),
    (Filters(), Scope(frozenset({"CA-LOS-ANGELES", "TX-HOUSTON"}))),
]
IDS = ["nation", "two-states-two-years", "high-title-i", "affiliate-scope"]


@pytest.mark.parametrize(("filters", "scope"), CASES, ids=IDS)
def test_kpi_totals(engine, raw, filters, scope) -> None:
    got = queries.kpi_totals(engine, filters, scope).set_index("school_year")
    s = _schools_in_view(raw, filters, scope)
    sy = _years(raw["school_years"], filters).merge(s[["school_id", "affiliate_id", "state"]], on="school_id")
    expected = sy.groupby("school_year").agg(
        schools=("school_id", "count"),
        organisations=("affiliate_id", "nunique"),
        states=("state", "nunique"),
        students_served=("students_served", "sum"),
        case_managed=("tier3_students", "sum"),
        staff=("site_coordinators", "sum"),
        volunteers=("volunteers", "sum"),
    )
    assert len(got) == len(expected) > 0
    for column in expected:
        np.testing.assert_allclose(got[column].to_numpy(float), expected[column].to_numpy(float), err_msg=column)


@pytest.mark.parametrize("level", ["national", "state", "affiliate", "school"])
def test_outcome_rates_at_each_level(engine, raw, level) -> None:
    f = Filters(school_years=("2021-22",), tiers=(3,), states=("NC",))
    got = queries.outcome_rates(engine, f, Scope.everything(), level=level)
    s = _schools_in_view(raw, f, Scope.everything())
    o = raw["outcomes"]
    o = o[(o["school_year"] == "2021-22") & (o["tier"] == 3)].merge(
        s[["school_id", "state", "affiliate_id"]], on="school_id"
    )
    key = {"national": [], "state": ["state"], "affiliate": ["affiliate_id"], "school": ["school_id"]}[level]
    expected = o.groupby([*key, "metric"], as_index=False)[["eligible", "met"]].sum()
    got_key = {"affiliate": ["affiliate_id"], "school": ["school_id"], "state": ["state"], "national": []}[level]
    merged = expected.merge(got, left_on=[*key, "metric"], right_on=[*got_key, "metric"], suffixes=("", "_got"))
    assert len(merged) == len(expected) == len(got) > 0
    assert (merged["eligible"] == merged["eligible_got"]).all()
    assert (merged["met"] == merged["met_got"]).all()
    np.testing.assert_allclose(merged["rate"], merged["met"] / merged["eligible"])


def test_outcome_rates_tiers_together_are_sum_over_sum_not_mean_of_rates(engine, raw) -> None:
    got = queries.outcome_rates(engine, Filters(school_years=("2019-20",)), by_tier=False).set_index("metric")
    o = raw["outcomes"][raw["outcomes"]["school_year"] == "2019-20"].groupby("metric")[["met", "eligible"]].sum()
    np.testing.assert_allclose(got.loc[o.index, "rate"], o["met"] / o["eligible"])


def test_students_served_by_tier(engine, raw) -> None:
    got = queries.students_served_by_tier(engine, Filters(tiers=(1, 3)))
    sy = raw["school_years"].groupby("school_year")[["tier1_students", "tier3_students"]].sum()
    assert set(got["tier"]) == {1, 3}
    for tier, column in ((1, "tier1_students"), (3, "tier3_students")):
        part = got[got["tier"] == tier].set_index("school_year")["students"]
        assert (part == sy[column].loc[part.index]).all()


def test_supports_by_category(engine, raw) -> None:
    f = Filters(states=("FL",))
    got = queries.supports_by_category(engine, f)
    s = _schools_in_view(raw, f, Scope.everything())
    exp = raw["supports"][raw["supports"]["school_id"].isin(s["school_id"])]
    exp = exp.groupby(["school_year", "tier", "category"], as_index=False)[["students", "services"]].sum()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), exp.reset_index(drop=True), check_dtype=False)


def test_partners_by_year_and_category(engine, raw) -> None:
    f = Filters(states=("TX",))
    s = _schools_in_view(raw, f, Scope.everything())
    p = raw["partnerships"][raw["partnerships"]["school_id"].isin(s["school_id"])]
    by_year = queries.partners_by_year(engine, f).set_index("school_year")
    exp = p.groupby("school_year").agg(partners=("partner_id", "nunique"), schools_reached=("school_id", "nunique"),
                                       in_kind_usd=("in_kind_usd", "sum"))  # fmt: skip
    assert (by_year["partners"] == exp["partners"]).all()
    assert (by_year["schools_reached"] == exp["schools_reached"]).all()
    np.testing.assert_allclose(by_year["in_kind_usd"], exp["in_kind_usd"])

    by_cat = queries.partners_by_category(engine, f)
    pc = p.merge(raw["partners"][["partner_id", "category"]].rename(columns={"category": "pcat"}), on="partner_id")
    exp2 = pc.groupby(["school_year", "pcat"]).agg(partners=("partner_id", "nunique"), hours=("volunteer_hours", "sum"))
    got2 = by_cat.set_index(["school_year", "category"])
    assert len(got2) == len(exp2)
    assert (got2["partners"].to_numpy() == exp2["partners"].to_numpy()).all()
    np.testing.assert_allclose(got2["volunteer_hours"].to_numpy(), exp2["hours"].to_numpy())


def test_finances(engine, raw) -> None:
    f = Filters(states=("GA",), school_years=("2022-23",))
    got = queries.finances_by_category(engine, f)
    aff = raw["affiliates"][raw["affiliates"]["state"] == "GA"]["affiliate_id"]
    fin = raw["finances"]
    exp = fin[fin["affiliate_id"].isin(aff) & (fin["school_year"] == "2022-23")]
    exp = exp.groupby(["school_year", "line", "category"], as_index=False)["amount_usd"].sum()
    assert len(got) == len(exp) == 9
    np.testing.assert_allclose(got["amount_usd"], exp["amount_usd"])


def test_scope_hides_schools_outside_it(engine, raw) -> None:
    scope = Scope(frozenset({"TX-HOUSTON"}))
    outsider = raw["schools"][raw["schools"]["affiliate_id"] == "CA-LOS-ANGELES"]["school_id"].iloc[0]
    assert queries.kpi_totals(engine, Filters(schools=(outsider,)), scope).empty
    assert queries.outcome_rates(engine, Filters(schools=(outsider,)), scope, level="school").empty
    rows = queries.outcome_rates(engine, Filters(), scope, level="school")
    houston = set(raw["schools"][raw["schools"]["affiliate_id"] == "TX-HOUSTON"]["school_id"])
    assert set(rows["school_id"]) <= houston and rows["school_id"].nunique() > 0


def test_sql_text_in_a_filter_value_is_just_a_value(engine) -> None:
    hostile = Filters(states=("TX' OR '1'='1",), schools=("1; DROP TABLE schools; --",))
    assert queries.kpi_totals(engine, hostile).empty
    assert not queries.kpi_totals(engine, Filters()).empty


def test_school_years_available(engine, raw) -> None:
    assert queries.school_years_available(engine) == sorted(raw["school_years"]["school_year"].unique())


def test_read_frame_gives_what_sqlalchemy_rows_give_on_either_path(engine) -> None:
    s, o = db.schools.c, db.outcomes.c
    plain = (
        sa.select(o.school_id, o.school_year, o.tier, o.eligible)
        .order_by(o.school_id, o.school_year, o.tier)
        .limit(500)
    )
    typed = sa.select(s.school_id, s.title_i, s.latitude).order_by(s.school_id)
    flags = sa.select(s.school_id, s.title_i).order_by(s.school_id)  # booleans take the driver's rows too
    for stmt in (plain, typed, flags):
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        expected = pd.DataFrame([tuple(r) for r in rows], columns=list(stmt.selected_columns.keys()))
        got = queries.read_frame(engine, stmt)
        pd.testing.assert_frame_equal(got, expected)
        assert len(got) > 0
    assert {type(v) for v in queries.read_frame(engine, typed)["title_i"]} == {bool}, "booleans stay booleans"


def test_driver_booleans_read_as_sqlalchemy_reads_them() -> None:
    assert queries._as_booleans(pd.Series([1, 0, 1])).tolist() == [True, False, True]
    assert queries._as_booleans(pd.Series([True, False])).dtype == bool
    assert queries._as_booleans(pd.Series([1, None, 0])).tolist() == [True, None, False]  # a left join's missing row


def test_count_status_marks_every_small_count_and_sums_cells_only_when_all_are_shown(engine, raw) -> None:
    """Student counts' stored status: a count of 1-9 students is small wherever one cell holds it; a view of
    several cells (two levels) is shown only when every part is, else hidden (never small: it is a sum)."""
    year = "2022-23"
    sy = raw["school_years"].merge(raw["schools"], on="school_id")
    sy = sy[sy["school_year"] == year].rename(columns={"tier3_students": "case_managed"})
    columns = ["students_served", "tier1_students", "tier2_students", "case_managed", "enrollment"]
    keys = ["affiliate_id", "school_year"]
    for level in ("high", "middle"):
        status = queries.count_status(engine, Filters(school_years=(year,), levels=(level,)), level="affiliate")
        truth = sy[sy["level"] == level].groupby("affiliate_id")[columns].sum()
        status = status.set_index("affiliate_id")
        assert set(status.index) == set(truth.index)
        for column in columns:
            small = truth[column].between(1, 9)
            assert (status.loc[small[small].index, f"{column}_status"] == "small").all(), column
            assert (status.loc[small[~small].index, f"{column}_status"] != "small").all(), column
    parts = [queries.count_status(engine, Filters(school_years=(year,), levels=(v,)), level="affiliate")
             .set_index(keys) for v in ("high", "middle")]  # fmt: skip
    both = queries.count_status(engine, Filters(school_years=(year,), levels=("high", "middle")), level="affiliate")
    both = both.set_index(keys)
    common = parts[0].index.intersection(parts[1].index)
    assert len(common)
    for column in (f"{c}_status" for c in columns):
        shown = (parts[0].loc[common, column] == "shown") & (parts[1].loc[common, column] == "shown")
        assert (both.loc[common, column] == np.where(shown, "shown", "hidden")).all(), column
    # The counts cover every tier: a tier filter does not change them.
    assert queries.count_status(engine, Filters(school_years=(year,), tiers=(3,))).equals(
        queries.count_status(engine, Filters(school_years=(year,))))  # fmt: skip
    totals = queries.kpi_totals(engine, Filters(school_years=(year,), levels=("high", "middle")), level="affiliate")
    assert (totals.set_index(keys)[[f"{c}_status" for c in columns]].sort_index() == both.sort_index()).all().all()
