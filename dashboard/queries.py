"""Questions the pages ask, answered in SQL: frozen Filters and Scope in, tidy DataFrames out.

Aggregation runs in the database (GROUP BY); values are always bound; rates are
sum(met) / sum(eligible) over the rows in view, never an average of rates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import pandas as pd
import sqlalchemy as sa

from dashboard.db import affiliates, finances, outcomes, partners, partnerships, school_years, schools, supports

Level = Literal["national", "state", "affiliate", "school"]
LEVEL_COLUMN: dict[str, sa.ColumnElement | None] = {
    "national": None,
    "state": schools.c.state,
    "affiliate": schools.c.affiliate_id,
    "school": schools.c.school_id,
}


@dataclass(frozen=True)
class Filters:
    """What the user narrowed the view to; empty tuples mean no restriction."""

    school_years: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    affiliates: tuple[str, ...] = ()
    schools: tuple[str, ...] = ()
    tiers: tuple[int, ...] = ()
    levels: tuple[str, ...] = ()
    title_i: bool | None = None
    locales: tuple[str, ...] = ()

    def with_years(self, *years: str) -> Filters:
        """The same filters narrowed to these school years."""
        return replace(self, school_years=tuple(years))


@dataclass(frozen=True)
class Scope:
    """The signed-in user's reach: every school (affiliates=None) or those of some affiliates."""

    affiliates: frozenset[str] | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)


EVERYTHING = Scope.everything()


def school_conditions(filters: Filters, scope: Scope) -> list[sa.ColumnElement[bool]]:
    cond: list[sa.ColumnElement[bool]] = []
    if scope.affiliates is not None:
        cond.append(schools.c.affiliate_id.in_(sorted(scope.affiliates)))
    if filters.states:
        cond.append(schools.c.state.in_(filters.states))
    if filters.affiliates:
        cond.append(schools.c.affiliate_id.in_(filters.affiliates))
    if filters.schools:
        cond.append(schools.c.school_id.in_(filters.schools))
    if filters.levels:
        cond.append(schools.c.level.in_(filters.levels))
    if filters.title_i is not None:
        cond.append(schools.c.title_i.is_(sa.true()) if filters.title_i else schools.c.title_i.is_(sa.false()))
    if filters.locales:
        cond.append(schools.c.locale.in_(filters.locales))
    return cond


def year_condition(column: sa.ColumnElement, filters: Filters) -> list[sa.ColumnElement[bool]]:
    return [column.in_(filters.school_years)] if filters.school_years else []


def level_keys(level: Level) -> list[sa.ColumnElement]:
    column = LEVEL_COLUMN[level]
    return [] if column is None else [column.label(f"{level}_id" if level != "state" else "state")]


def read_frame(engine: sa.Engine, stmt: sa.Select) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(stmt)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def school_years_available(engine: sa.Engine) -> list[str]:
    """Every school year with data, oldest first."""
    stmt = sa.select(school_years.c.school_year).distinct().order_by(school_years.c.school_year)
    return read_frame(engine, stmt)["school_year"].tolist()


def kpi_totals(
    engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING, level: Level = "national"
) -> pd.DataFrame:
    """Per school year (and per place at the level): schools, organisations, states, students, staff, volunteers."""
    keys = level_keys(level)
    sy = school_years.c
    stmt = (
        sa.select(
            *keys,
            sy.school_year,
            sa.func.count(sy.school_id).label("schools"),
            sa.func.count(sa.distinct(sa.case((affiliates.c.kind != "state_office", schools.c.affiliate_id)))).label(
                "organisations"
            ),
            sa.func.count(sa.distinct(schools.c.state)).label("states"),
            sa.func.sum(sy.enrollment).label("enrollment"),
            sa.func.sum(sy.students_served).label("students_served"),
            sa.func.sum(sy.tier1_students).label("tier1_students"),
            sa.func.sum(sy.tier2_students).label("tier2_students"),
            sa.func.sum(sy.tier3_students).label("case_managed"),
            sa.func.sum(sy.site_coordinators).label("staff"),
            sa.func.sum(sy.volunteers).label("volunteers"),
            sa.func.sum(sy.volunteer_hours).label("volunteer_hours"),
        )
        .select_from(school_years.join(schools).join(affiliates))
        .where(*school_conditions(filters, scope), *year_condition(sy.school_year, filters))
        .group_by(*keys, sy.school_year)
        .order_by(*keys, sy.school_year)
    )
    frame = read_frame(engine, stmt)
    for col in ("enrollment", "students_served", "tier1_students", "tier2_students", "case_managed", "volunteers"):
        frame[col] = frame[col].astype("int64")
    frame["staff"] = frame["staff"].astype(float)
    frame["volunteer_hours"] = frame["volunteer_hours"].astype(float)
    return frame


def partners_by_year(
    engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING, level: Level = "national"
) -> pd.DataFrame:
    """Per school year: distinct partners, schools reached, in-kind dollars and partner volunteer hours."""
    keys = level_keys(level)
    p = partnerships.c
    stmt = (
        sa.select(
            *keys,
            p.school_year,
            sa.func.count(sa.distinct(p.partner_id)).label("partners"),
            sa.func.count(sa.distinct(p.school_id)).label("schools_reached"),
            sa.func.sum(p.in_kind_usd).label("in_kind_usd"),
            sa.func.sum(p.volunteer_hours).label("partner_volunteer_hours"),
        )
        .select_from(partnerships.join(schools))
        .where(*school_conditions(filters, scope), *year_condition(p.school_year, filters))
        .group_by(*keys, p.school_year)
        .order_by(*keys, p.school_year)
    )
    frame = read_frame(engine, stmt)
    frame[["in_kind_usd", "partner_volunteer_hours"]] = frame[["in_kind_usd", "partner_volunteer_hours"]].astype(float)
    return frame


def outcome_rates(engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING, level: Level = "national",
                  by_tier: bool = True) -> pd.DataFrame:  # fmt: skip
    """Per school year x metric (x tier, x place at the level): eligible, met and rate = met / eligible."""
    keys = level_keys(level)
    o = outcomes.c
    tier = [o.tier] if by_tier else []
    tier_cond = [o.tier.in_(filters.tiers)] if filters.tiers else []
    stmt = (
        sa.select(
            *keys,
            o.school_year,
            *tier,
            o.metric,
            sa.func.sum(o.eligible).label("eligible"),
            sa.func.sum(o.met).label("met"),
        )
        .select_from(outcomes.join(schools))
        .where(*school_conditions(filters, scope), *year_condition(o.school_year, filters), *tier_cond)
        .group_by(*keys, o.school_year, *tier, o.metric)
        .order_by(*keys, o.school_year, *tier, o.metric)
    )
    frame = read_frame(engine, stmt)
    frame[["eligible", "met"]] = frame[["eligible", "met"]].astype("int64")
    frame["rate"] = frame["met"] / frame["eligible"]
    return frame


def students_served_by_tier(engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """Long table: school_year, tier (1-3), students."""
    totals = kpi_totals(engine, filters, scope)
    long = totals.melt(
        id_vars="school_year",
        value_vars=["tier1_students", "tier2_students", "case_managed"],
        var_name="tier",
        value_name="students",
    )
    long["tier"] = long["tier"].map({"tier1_students": 1, "tier2_students": 2, "case_managed": 3})
    if filters.tiers:
        long = long[long["tier"].isin(filters.tiers)]
    return long.sort_values(["school_year", "tier"], ignore_index=True)


def supports_by_category(engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """Per school year x tier x support category: students supported and services given."""
    s = supports.c
    tier_cond = [s.tier.in_(filters.tiers)] if filters.tiers else []
    stmt = (
        sa.select(
            s.school_year,
            s.tier,
            s.category,
            sa.func.sum(s.students).label("students"),
            sa.func.sum(s.services).label("services"),
        )
        .select_from(supports.join(schools))
        .where(*school_conditions(filters, scope), *year_condition(s.school_year, filters), *tier_cond)
        .group_by(s.school_year, s.tier, s.category)
        .order_by(s.school_year, s.tier, s.category)
    )
    frame = read_frame(engine, stmt)
    frame[["students", "services"]] = frame[["students", "services"]].astype("int64")
    return frame


def partners_by_category(engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """Per school year x partner category: partners, schools reached, in-kind dollars, volunteer hours."""
    p = partnerships.c
    stmt = (
        sa.select(
            p.school_year,
            partners.c.category,
            sa.func.count(sa.distinct(p.partner_id)).label("partners"),
            sa.func.count(sa.distinct(p.school_id)).label("schools_reached"),
            sa.func.sum(p.in_kind_usd).label("in_kind_usd"),
            sa.func.sum(p.volunteer_hours).label("volunteer_hours"),
        )
        .select_from(partnerships.join(schools).join(partners))
        .where(*school_conditions(filters, scope), *year_condition(p.school_year, filters))
        .group_by(p.school_year, partners.c.category)
        .order_by(p.school_year, partners.c.category)
    )
    frame = read_frame(engine, stmt)
    frame[["in_kind_usd", "volunteer_hours"]] = frame[["in_kind_usd", "volunteer_hours"]].astype(float)
    return frame


def finances_by_category(engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """Per school year x line (revenue, expense) x category: amount in dollars, for affiliates in view."""
    f = finances.c
    cond: list[sa.ColumnElement[bool]] = []
    if scope.affiliates is not None:
        cond.append(f.affiliate_id.in_(sorted(scope.affiliates)))
    if filters.affiliates:
        cond.append(f.affiliate_id.in_(filters.affiliates))
    if filters.states:
        cond.append(affiliates.c.state.in_(filters.states))
    stmt = (
        sa.select(f.school_year, f.line, f.category, sa.func.sum(f.amount_usd).label("amount_usd"))
        .select_from(finances.join(affiliates))
        .where(*cond, *year_condition(f.school_year, filters))
        .group_by(f.school_year, f.line, f.category)
        .order_by(f.school_year, f.line, f.category)
    )
    frame = read_frame(engine, stmt)
    frame["amount_usd"] = frame["amount_usd"].astype(float)
    return frame


def place_names(engine: sa.Engine, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """Affiliates that hold schools in scope: affiliate_id, name, state."""
    cond = [affiliates.c.affiliate_id.in_(sorted(scope.affiliates))] if scope.affiliates is not None else []
    stmt = (
        sa.select(affiliates.c.affiliate_id, affiliates.c.name, affiliates.c.state)
        .where(*cond, affiliates.c.kind != "state_office")
        .order_by(affiliates.c.state, affiliates.c.name)
    )
    return read_frame(engine, stmt)


def states_with_schools(engine: sa.Engine) -> list[str]:
    """Every state code with at least one school, sorted."""
    return read_frame(engine, sa.select(schools.c.state).distinct().order_by(schools.c.state))["state"].tolist()
