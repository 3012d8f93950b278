"""The rollups answer exactly what the fact tables answer, and follow the facts when they change."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from dashboard.data import contract, db, migrate, queries, rollup
from dashboard.data.queries import Filters, Scope
from dashboard.views import partners as partners_view

# Naming every level keeps the same rows but sends the query to the fact tables instead of the rollups.
EVERY_LEVEL = tuple(contract.LEVELS)


def _views(raw) -> list[tuple[Filters, Scope, str]]:
    schools = raw["schools"]
    state = schools["state"].value_counts().index[0]
    affiliates = tuple(sorted(schools.loc[schools["state"] == state, "affiliate_id"].unique())[:2])
    year = sorted(raw["school_years"]["school_year"].unique())[-1]
    return [
        (Filters(), queries.EVERYTHING, "national"),
        (Filters(school_years=(year,)), queries.EVERYTHING, "state"),
        (Filters(school_years=(year,), states=(state,)), queries.EVERYTHING, "affiliate"),
        (Filters(tiers=(3,)), Scope(frozenset(affiliates)), "national"),
        (Filters(affiliates=affiliates[:1]), queries.EVERYTHING, "affiliate"),
    ]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_rollups_are_used_only_where_they_can_answer() -> None:
    assert queries.uses_rollup(Filters(states=("TX",)), "affiliate")
    assert not queries.uses_rollup(Filters(), "school")
    assert not queries.uses_rollup(Filters(levels=("high",)), "national")
    assert not queries.uses_rollup(Filters(title_i=False), "state")
    assert not queries.uses_rollup(Filters(schools=("x",)), "national")


def test_rollup_answers_equal_the_fact_tables(engine: sa.Engine, raw) -> None:
    for filters, scope, level in _views(raw):
        assert queries.uses_rollup(filters, level)
        facts = Filters(**{**filters.__dict__, "levels": EVERY_LEVEL})
        for by_tier in (True, False):
            fast = queries.outcome_rates(engine, filters, scope, level, by_tier)
            slow = queries.outcome_rates(engine, facts, scope, level, by_tier)
            assert not fast.empty
            # The figures agree; the status may not: a filter naming every level is a sum of six slices, shown
            # only where all six are (queries.view_cells).
            pd.testing.assert_frame_equal(_sorted(fast.drop(columns="status")), _sorted(slow.drop(columns="status")),
                                          check_dtype=False)  # fmt: skip
        # So do the counts' statuses, for the same reason.
        fast = queries.kpi_totals(engine, filters, scope, level)
        slow = queries.kpi_totals(engine, facts, scope, level)
        statuses = [c for c in fast.columns if c.endswith("_status")]
        assert statuses
        pd.testing.assert_frame_equal(_sorted(fast.drop(columns=statuses)), _sorted(slow.drop(columns=statuses)),
                                      check_dtype=False)  # fmt: skip


def test_partner_rollup_answers_equal_the_fact_tables(engine: sa.Engine, raw) -> None:
    schools = raw["schools"]
    state = schools["state"].value_counts().index[0]
    lead = Scope(frozenset({schools.loc[schools["state"] == state, "affiliate_id"].iloc[0]}))
    views = [
        (Filters(), queries.EVERYTHING, "national"),
        (Filters(states=(state,)), queries.EVERYTHING, "national"),
        (Filters(), lead, "national"),
        (Filters(), queries.EVERYTHING, "state"),
        (Filters(states=(state,)), queries.EVERYTHING, "state"),
        (Filters(), queries.EVERYTHING, "affiliate"),
        (Filters(), lead, "affiliate"),
    ]
    for filters, scope, level in views:
        assert queries._partner_rollup_rows(filters, scope, level) is not None, (filters, level)
        facts = Filters(**{**filters.__dict__, "levels": EVERY_LEVEL})
        assert queries._partner_rollup_rows(facts, scope, level) is None
        fast = queries.partners_by_year(engine, filters, scope, level)
        slow = queries.partners_by_year(engine, facts, scope, level)
        assert not fast.empty
        pd.testing.assert_frame_equal(_sorted(fast), _sorted(slow), check_dtype=False, check_exact=False)
    # Two states at once cannot be summed from per-state distinct counts: the facts answer it.
    two = Filters(states=tuple(schools["state"].value_counts().index[:2]))
    assert queries._partner_rollup_rows(two, queries.EVERYTHING, "national") is None


def test_national_partner_counts_match_pandas(engine: sa.Engine, raw) -> None:
    expected = raw["partnerships"].groupby("school_year")["partner_id"].nunique()
    shown = queries.partners_by_year(engine, Filters()).set_index("school_year")["partners"]
    assert (shown == expected).all() and len(shown) == len(expected)


def test_national_rollup_matches_pandas_on_the_raw_tables(engine: sa.Engine, raw) -> None:
    o = raw["outcomes"].groupby(["school_year", "metric"])[["eligible", "met"]].sum().reset_index()
    shown = queries.outcome_rates(engine, Filters(), by_tier=False)
    merged = shown.merge(o, on=["school_year", "metric"], suffixes=("", "_raw"))
    assert len(merged) == len(o) == len(shown)
    assert (merged["eligible"] == merged["eligible_raw"]).all()
    assert (merged["met"] == merged["met_raw"]).all()
    sy = raw["school_years"].groupby("school_year")[["students_served", "tier3_students"]].sum()
    kpis = queries.kpi_totals(engine, Filters()).set_index("school_year")
    assert (kpis["students_served"] == sy["students_served"]).all()
    assert (kpis["case_managed"] == sy["tier3_students"]).all()
    assert (kpis["schools"] == raw["school_years"].groupby("school_year").size()).all()


def test_a_refresh_inside_a_transaction_follows_the_facts_and_a_rollback_leaves_both(engine: sa.Engine) -> None:
    national = queries.outcome_rates(engine, Filters(), by_tier=False)
    with engine.connect() as conn:
        trans = conn.begin()
        school = conn.execute(sa.select(db.outcomes.c.school_id).limit(1)).scalar_one()
        removed = conn.execute(
            sa.select(sa.func.sum(db.outcomes.c.eligible)).where(db.outcomes.c.school_id == school)
        ).scalar_one()
        conn.execute(db.outcomes.delete().where(db.outcomes.c.school_id == school))
        rollup.refresh(conn)
        total = conn.execute(sa.select(sa.func.sum(db.outcome_rollup.c.eligible))).scalar_one()
        assert int(total) == int(national["eligible"].sum()) - int(removed)
        trans.rollback()
    pd.testing.assert_frame_equal(queries.outcome_rates(engine, Filters(), by_tier=False), national)


def test_one_rollup_row_per_year_state_affiliate_tier_and_metric(engine: sa.Engine, raw) -> None:
    o = raw["outcomes"].merge(raw["schools"][["school_id", "state", "affiliate_id"]], on="school_id")
    expected = o.groupby(["school_year", "state", "affiliate_id", "tier", "metric"]).ngroups
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(db.outcome_rollup)).scalar_one()
        year_rows = conn.execute(sa.select(sa.func.count()).select_from(db.school_year_rollup)).scalar_one()
    assert rows == expected
    sy = raw["school_years"].merge(raw["schools"][["school_id", "state", "affiliate_id"]], on="school_id")
    assert year_rows == sy.groupby(["school_year", "state", "affiliate_id"]).ngroups


def _school_rollup(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.school_outcome_rollup)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in db.school_outcome_rollup.c])
    return _sorted(frame.astype({"eligible": "int64", "met": "int64"}))


def _school_sums(raw) -> pd.DataFrame:
    sums = raw["outcomes"].groupby(["metric", "school_year", "school_id"], as_index=False)[["eligible", "met"]].sum()
    return _sorted(
        sums[["metric", "school_year", "school_id", "eligible", "met"]].astype({"eligible": "int64", "met": "int64"})
    )


def test_the_school_rollup_is_each_schools_tiers_summed(engine: sa.Engine, raw) -> None:
    pd.testing.assert_frame_equal(_school_rollup(engine), _school_sums(raw))


def test_a_database_from_before_the_school_rollup_gets_it_filled_on_upgrade(sqlite_engine, raw, tmp_path) -> None:
    copy = db.create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with sqlite_engine.connect() as src, copy.connect() as dst:
        src.connection.dbapi_connection.backup(dst.connection.dbapi_connection)
    with copy.begin() as conn:  # as revision 0004 left it
        for table in (
            "school_outcome_rollup",
            "partner_year_rollup",
            "partner_category_rollup",
            "unknown_sign_ins",
            "published_cells",
            "data_version",
            "brief_subscriptions",
        ):
            conn.execute(sa.text(f"DROP TABLE {table}"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0004'"))
    migrate.upgrade(copy)
    pd.testing.assert_frame_equal(_school_rollup(copy), _school_sums(raw))
    copy.dispose()


def _table(engine: sa.Engine, table: sa.Table) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in table.c])


def _partner_year_sums(raw) -> pd.DataFrame:
    """Per school year and partner, from the raw partnerships: distinct schools, in-kind value, hours."""
    return (
        raw["partnerships"]
        .groupby(["school_year", "partner_id"], as_index=False)
        .agg(
            schools_reached=("school_id", "nunique"),
            in_kind_usd=("in_kind_usd", "sum"),
            volunteer_hours=("volunteer_hours", "sum"),
        )
    )


def _partner_category_sums(raw) -> pd.DataFrame:
    """Per school year x partner category x support category, and x every support category together ('')."""
    rows = raw["partnerships"].merge(
        raw["partners"][["partner_id", "category"]].rename(columns={"category": "partner_category"}), on="partner_id"
    )
    rows = pd.concat([rows.assign(support_category=rows["category"]), rows.assign(support_category="")])
    return rows.groupby(["school_year", "partner_category", "support_category"], as_index=False).agg(
        partners=("partner_id", "nunique"),
        schools_reached=("school_id", "nunique"),
        in_kind_usd=("in_kind_usd", "sum"),
        volunteer_hours=("volunteer_hours", "sum"),
    )


def _assert_partner_view_rollups_match(engine: sa.Engine, raw) -> None:
    for table, expected in (
        (db.partner_year_rollup, _partner_year_sums(raw)),
        (db.partner_category_rollup, _partner_category_sums(raw)),
    ):
        got = _table(engine, table)[list(expected.columns)]
        pd.testing.assert_frame_equal(_sorted(got), _sorted(expected), check_dtype=False, check_exact=False)


def test_the_partner_view_rollups_equal_pandas_on_the_raw_tables(engine: sa.Engine, raw) -> None:
    _assert_partner_view_rollups_match(engine, raw)


def test_the_partner_view_rollups_answer_only_every_school_in_one_year() -> None:
    year = ("2022-23",)
    assert queries.national_partner_year(Filters(school_years=year), queries.EVERYTHING) == "2022-23"
    assert queries.national_partner_year(Filters(school_years=year, tiers=(3,)), queries.EVERYTHING) == "2022-23"
    for filters, scope in (
        (Filters(), queries.EVERYTHING),
        (Filters(school_years=("2021-22", "2022-23")), queries.EVERYTHING),
        (Filters(school_years=year, states=("TX",)), queries.EVERYTHING),
        (Filters(school_years=year, affiliates=("a",)), queries.EVERYTHING),
        (Filters(school_years=year, levels=("high",)), queries.EVERYTHING),
        (Filters(school_years=year, title_i=True), queries.EVERYTHING),
        (Filters(school_years=year), Scope(frozenset({"a"}))),
    ):
        assert queries.national_partner_year(filters, scope) is None, (filters, scope)
    assert queries.every_school(Filters(), queries.EVERYTHING)
    assert not queries.every_school(Filters(), Scope(frozenset({"a"})))


def test_the_partners_page_reads_the_same_from_the_rollups_as_from_the_facts(engine: sa.Engine, raw) -> None:
    for year in sorted(raw["partnerships"]["school_year"].unique())[-2:]:
        fast = Filters(school_years=(year,))
        slow = Filters(school_years=(year,), levels=EVERY_LEVEL)  # same schools, read from the fact tables
        assert queries.national_partner_year(fast, queries.EVERYTHING) == year
        assert queries.national_partner_year(slow, queries.EVERYTHING) is None
        for read in (
            queries.partners_by_category,
            partners_view.partner_reach,
            partners_view.partner_support_matrix,
            partners_view.top_partners,
            lambda e, f: partners_view.top_partners(e, f, limit=None),
        ):
            got, expected = read(engine, fast), read(engine, slow)
            assert not got.empty
            pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_exact=False)
    every_year = queries.partners_by_category(engine, Filters())  # by year, so the rollup answers any years
    facts = queries.partners_by_category(engine, Filters(levels=EVERY_LEVEL))
    pd.testing.assert_frame_equal(every_year, facts, check_dtype=False, check_exact=False)


def test_a_refresh_of_one_year_follows_a_partners_changed_facts(engine: sa.Engine, raw) -> None:
    year = sorted(raw["partnerships"]["school_year"].unique())[-1]
    filters = Filters(school_years=(year,))
    before = partners_view.top_partners(engine, filters)
    gone = before["partner_id"].iloc[0]
    with engine.connect() as conn:
        trans = conn.begin()
        p = db.partnerships.c
        conn.execute(db.partnerships.delete().where(p.partner_id == gone, p.school_year == year))
        rollup.refresh(conn, [year])
        r = db.partner_year_rollup.c
        left = conn.execute(sa.select(sa.func.count()).where(r.partner_id == gone, r.school_year == year)).scalar()
        assert left == 0
        c = db.partner_category_rollup.c
        partners = conn.execute(
            sa.select(sa.func.sum(c.partners)).where(c.school_year == year, c.support_category == "")
        ).scalar_one()
        assert (
            partners == raw["partnerships"].loc[raw["partnerships"]["school_year"] == year, "partner_id"].nunique() - 1
        )
        trans.rollback()
    pd.testing.assert_frame_equal(partners_view.top_partners(engine, filters), before)


def test_a_database_from_before_the_partner_view_rollups_gets_them_filled_on_upgrade(
    sqlite_engine, raw, tmp_path
) -> None:
    copy = db.create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with sqlite_engine.connect() as src, copy.connect() as dst:
        src.connection.dbapi_connection.backup(dst.connection.dbapi_connection)
    with copy.begin() as conn:  # as revision 0005 left it
        conn.execute(sa.text("DROP TABLE partner_year_rollup"))
        conn.execute(sa.text("DROP TABLE partner_category_rollup"))
        conn.execute(sa.text("DROP TABLE unknown_sign_ins"))
        conn.execute(sa.text("DROP TABLE published_cells"))
        conn.execute(sa.text("DROP TABLE data_version"))
        conn.execute(sa.text("DROP TABLE brief_subscriptions"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0005'"))
    migrate.upgrade(copy)
    _assert_partner_view_rollups_match(copy, raw)
    copy.dispose()
