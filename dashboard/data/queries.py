"""Questions the pages ask, answered in SQL: frozen Filters and Scope in, tidy DataFrames out.

Aggregation runs in the database (GROUP BY); values are always bound; rates are
sum(met) / sum(eligible) over the rows in view, never an average of rates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

import pandas as pd
import sqlalchemy as sa

from dashboard.data import db
from dashboard.data.db import (
    affiliates,
    finances,
    loads,
    partner_category_rollup,
    partner_rollup,
    partners,
    partnerships,
    published_cells,
    school_year_rollup,
    school_years,
    schools,
    supports,
)

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


def _place_conditions(table: sa.Table, filters: Filters, scope: Scope) -> list[sa.ColumnElement[bool]]:
    """The user's scope, then the state and affiliate filters, on a table with state and affiliate_id columns."""
    cond: list[sa.ColumnElement[bool]] = []
    if scope.affiliates is not None:
        cond.append(table.c.affiliate_id.in_(sorted(scope.affiliates)))
    if filters.states:
        cond.append(table.c.state.in_(filters.states))
    if filters.affiliates:
        cond.append(table.c.affiliate_id.in_(filters.affiliates))
    return cond


def school_conditions(filters: Filters, scope: Scope) -> list[sa.ColumnElement[bool]]:
    cond = _place_conditions(schools, filters, scope)
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


def _plain(column: sa.ColumnElement) -> bool:
    """Whether the driver's value is the column's value as is: strings and integers, which no backend converts."""
    kind = column.type
    return isinstance(kind, (sa.String, sa.Integer)) and not isinstance(kind, sa.Enum)


def _as_booleans(values: pd.Series) -> pd.Series:
    """A boolean column as SQLAlchemy gives it from the driver's values (SQLite's 0/1, PostgreSQL's booleans)."""
    if values.notna().all():
        return values.astype(bool)
    return values.map(lambda v: None if pd.isna(v) else bool(v)).astype(object)


def read_frame(engine: sa.Engine, stmt: sa.Select) -> pd.DataFrame:
    """The statement's rows as a frame, fetched in one call and handed to pandas as plain tuples.

    When every column is a plain string or integer, or a boolean (made one here), the driver's own tuples are
    taken, without SQLAlchemy building a Row per row (for 300,000 rows: 0.3 s against 1.0 s); pandas is never
    handed Row objects, which it reads one element at a time (2.0 s).
    """
    selected = list(stmt.selected_columns)
    booleans = [isinstance(c.type, sa.Boolean) for c in selected]
    with engine.connect() as conn:
        result = conn.execute(stmt)
        columns = list(result.keys())
        if all(_plain(c) or boolean for c, boolean in zip(selected, booleans, strict=True)):
            frame = pd.DataFrame(result.cursor.fetchall(), columns=columns)
            for name, boolean in zip(columns, booleans, strict=True):
                if boolean:
                    frame[name] = _as_booleans(frame[name])
            return frame
        return pd.DataFrame([tuple(row) for row in result.fetchall()], columns=columns)


def school_years_available(engine: sa.Engine) -> list[str]:
    """Every school year with data, oldest first."""
    stmt = sa.select(school_years.c.school_year).distinct().order_by(school_years.c.school_year)
    return read_frame(engine, stmt)["school_year"].tolist()


def data_version(engine: sa.Engine) -> int:
    """The data version: a number raised by every load, undo and rebuild of the figures (0 before the first)."""
    with engine.connect() as conn:
        version = conn.execute(sa.select(db.data_version.c.version).where(db.data_version.c.id == 1)).scalar()
    return int(version or 0)


def data_as_of(engine: sa.Engine) -> tuple[int, dt.datetime] | None:
    """The newest load still in place: (its id, when it was loaded, in UTC), or None when none is recorded."""
    stmt = (
        sa.select(loads.c.load_id, loads.c.loaded_at)
        .where(loads.c.status == "loaded")
        .order_by(loads.c.load_id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        return None
    when = row.loaded_at if row.loaded_at.tzinfo else row.loaded_at.replace(tzinfo=dt.UTC)  # SQLite keeps no zone
    return int(row.load_id), when.astimezone(dt.UTC)


def uses_rollup(filters: Filters, level: Level) -> bool:
    """Whether the rollups answer this view: no filter on school attributes, no school-level grouping."""
    return level != "school" and not (
        filters.schools or filters.levels or filters.locales or filters.title_i is not None
    )


def rollup_conditions(table: sa.Table, filters: Filters, scope: Scope) -> list[sa.ColumnElement[bool]]:
    """Scope, state, affiliate and year filters on a rollup table (which has state and affiliate_id columns)."""
    return _place_conditions(table, filters, scope) + year_condition(table.c.school_year, filters)


def _rollup_keys(table: sa.Table, level: Level) -> list[sa.ColumnElement]:
    return {"national": [], "state": [table.c.state.label("state")],
            "affiliate": [table.c.affiliate_id.label("affiliate_id")]}[level]  # fmt: skip


def kpi_totals(
    engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING, level: Level = "national"
) -> pd.DataFrame:
    """Per school year (and per place at the level): schools, organisations, states, students, staff, volunteers."""
    if uses_rollup(filters, level):
        r = school_year_rollup.c
        keys = _rollup_keys(school_year_rollup, level)
        source, year, place_state, place_affiliate = school_year_rollup, r.school_year, r.state, r.affiliate_id
        schools_count = sa.func.sum(r.schools)
        sums = {name: r[name] for name in _KPI_SUMS}
        where = rollup_conditions(school_year_rollup, filters, scope)
    else:
        sy = school_years.c
        keys = level_keys(level)
        source, year, place_state, place_affiliate = (
            school_years.join(schools),
            sy.school_year,
            schools.c.state,
            schools.c.affiliate_id,
        )
        schools_count = sa.func.count(sy.school_id)
        sums = {name: sy[name] for name in _KPI_SUMS}
        where = school_conditions(filters, scope) + year_condition(sy.school_year, filters)
    organisation = sa.case((affiliates.c.kind != "state_office", place_affiliate))
    stmt = (
        sa.select(
            *keys,
            year.label("school_year"),
            schools_count.label("schools"),
            sa.func.count(sa.distinct(organisation)).label("organisations"),
            sa.func.count(sa.distinct(place_state)).label("states"),
            *(sa.func.sum(column).label(_KPI_SUMS[name]) for name, column in sums.items()),
        )
        .select_from(source.join(affiliates, place_affiliate == affiliates.c.affiliate_id))
        .where(*where)
        .group_by(*keys, year)
        .order_by(*keys, year)
    )
    frame = read_frame(engine, stmt)
    for col in ("schools", "enrollment", "students_served", "tier1_students", "tier2_students", "case_managed",
                "volunteers"):  # fmt: skip
        frame[col] = frame[col].astype("int64")
    frame["staff"] = frame["staff"].astype(float)
    frame["volunteer_hours"] = frame["volunteer_hours"].astype(float)
    return with_count_status(frame, count_status(engine, filters, scope, level))


# The count columns of kpi_totals-shaped frames and the published cells that hold them: (measure, tier).
COUNT_CELLS = {
    "students_served": ("students", 0),
    "tier1_students": ("students", 1),
    "tier2_students": ("students", 2),
    "case_managed": ("students", 3),
    "enrollment": ("enrollment", 0),
}


def count_status(engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING, level: Level = "national"
                 ) -> pd.DataFrame:  # fmt: skip
    """Per school year (x place at the level): the stored status of each student count in view, as columns
    '<count>_status' for every count of COUNT_CELLS (shown, small or hidden).

    A count the published cells hold is one cell, and has that cell's status; a view they do not hold (several
    filters at once, a lead's scope) sums cells (`view_cells`) and is 'shown' only when every part is shown,
    else 'hidden'. The tier filter does not narrow counts: they cover every tier.
    """
    c = published_cells.c
    source, where, keys = _cells_in_view(replace(filters, tiers=()), scope, level)
    where.append(c.measure.in_(sorted({m for m, _ in COUNT_CELLS.values()})))
    stmt = (
        sa.select(
            *keys,
            c.school_year,
            c.measure,
            c.tier,
            sa.func.count().label("parts"),
            sa.func.sum(sa.case((c.status == "shown", 0), else_=1)).label("unsafe"),
            sa.func.min(c.status).label("one_status"),
        )
        .select_from(source)
        .where(*where)
        .group_by(*keys, c.school_year, c.measure, c.tier)
        .order_by(*keys, c.school_year, c.measure, c.tier)
    )
    frame = read_frame(engine, stmt)
    place = [k.name for k in keys]
    frame["status"] = _sum_status(frame)
    column = {cell: name for name, cell in COUNT_CELLS.items()}
    frame["count"] = [column.get((m, int(t))) for m, t in zip(frame["measure"], frame["tier"], strict=True)]
    frame = frame.dropna(subset=["count"])
    wide = frame.pivot(index=[*place, "school_year"], columns="count", values="status")
    wide = wide.reindex(columns=list(COUNT_CELLS)).add_suffix("_status")
    wide.columns.name = None
    return wide.reset_index()


def with_count_status(frame: pd.DataFrame, statuses: pd.DataFrame) -> pd.DataFrame:
    """The frame with count_status' columns joined on its place and school year; a count without a stored cell
    reads 'hidden' (nothing unpublished is shown)."""
    on = [c for c in statuses.columns if not c.endswith("_status") and c in frame.columns]
    out = frame.merge(statuses, on=on, how="left") if len(frame) else frame.assign(
        **{c: pd.Series(dtype=object) for c in statuses.columns if c.endswith("_status")})  # fmt: skip
    for column in (c for c in out.columns if c.endswith("_status")):
        out[column] = out[column].fillna("hidden").astype(object)
    return out


# Fact column -> the name kpi_totals gives its sum.
_KPI_SUMS = {
    "enrollment": "enrollment",
    "students_served": "students_served",
    "tier1_students": "tier1_students",
    "tier2_students": "tier2_students",
    "tier3_students": "case_managed",
    "site_coordinators": "staff",
    "volunteers": "volunteers",
    "volunteer_hours": "volunteer_hours",
}


def _partner_rollup_rows(filters: Filters, scope: Scope, level: Level) -> tuple[str, tuple[str, ...] | None] | None:
    """(grain, places or None for all) when partner_rollup holds exactly this view, else None.

    Distinct counts do not add up, so only a view that is one whole grain, or some of its places, qualifies.
    """
    if not uses_rollup(filters, level):
        return None
    affiliates = set(filters.affiliates) if filters.affiliates else None
    if scope.affiliates is not None:
        affiliates = set(scope.affiliates) & affiliates if affiliates is not None else set(scope.affiliates)
    if level == "national":
        if affiliates is None and not filters.states:
            return "national", ("",)
        if affiliates is None and len(filters.states) == 1:
            return "state", tuple(filters.states)
        if affiliates is not None and len(affiliates) == 1 and not filters.states:
            return "affiliate", tuple(affiliates)
        return None
    if affiliates is None and level == "state":
        return "state", tuple(filters.states) or None
    if level == "affiliate" and not filters.states:
        return "affiliate", tuple(sorted(affiliates)) if affiliates is not None else None
    return None


def _partners_from_rollup(
    engine: sa.Engine, filters: Filters, level: Level, grain: str, places: tuple[str, ...] | None
) -> pd.DataFrame:
    r = partner_rollup.c
    keys = [] if level == "national" else [r.place.label("state" if level == "state" else "affiliate_id")]
    stmt = (
        sa.select(
            *keys,
            r.school_year,
            r.partners,
            r.schools_reached,
            r.in_kind_usd,
            r.volunteer_hours.label("partner_volunteer_hours"),
        )
        .where(r.grain == grain, *([r.place.in_(places)] if places is not None else []))
        .where(*year_condition(r.school_year, filters))
        .order_by(*keys, r.school_year)
    )
    frame = read_frame(engine, stmt)
    frame[["partners", "schools_reached"]] = frame[["partners", "schools_reached"]].astype("int64")
    frame[["in_kind_usd", "partner_volunteer_hours"]] = frame[["in_kind_usd", "partner_volunteer_hours"]].astype(float)
    return frame


def partners_by_year(
    engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING, level: Level = "national"
) -> pd.DataFrame:
    """Per school year: distinct partners, schools reached, in-kind dollars and partner volunteer hours."""
    rolled = _partner_rollup_rows(filters, scope, level)
    if rolled is not None:
        return _partners_from_rollup(engine, filters, level, *rolled)
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
        # Without a condition on schools, the national count reads the partnerships index alone.
        .select_from(partnerships.join(schools) if keys or school_conditions(filters, scope) else partnerships)
        .where(*school_conditions(filters, scope), *year_condition(p.school_year, filters))
        .group_by(*keys, p.school_year)
        .order_by(*keys, p.school_year)
    )
    frame = read_frame(engine, stmt)
    frame[["in_kind_usd", "partner_volunteer_hours"]] = frame[["in_kind_usd", "partner_volunteer_hours"]].astype(float)
    return frame


_FINER = {"nation": 0, "national": 0, "state": 1, "affiliate": 2, "school": 3}
UNIT_OF_LEVEL = {"national": "nation", "state": "state", "affiliate": "affiliate", "school": "school"}


def _attribute_slices(filters: Filters) -> dict[str, list[str]]:
    """The school-attribute filters as published slice names, per attribute that is filtered."""
    from dashboard.disclosure import slice_name

    out = {}
    if filters.levels:
        out["level"] = [slice_name("level", v) for v in filters.levels]
    if filters.locales:
        out["locale"] = [slice_name("locale", v) for v in filters.locales]
    if filters.title_i is not None:
        out["title_i"] = [slice_name("title_i", filters.title_i)]
    return out


def view_cells(filters: Filters, scope: Scope, level: Level) -> tuple[str, list[str]]:
    """(unit, slices): the published cells whose sums make up this view, the coarsest that do.

    A view is a sum of published cells of one unit and one or more slices (a place filter narrower than the
    level sums that place's cells; a filter on two values of one attribute sums the two slices). Only the nation
    publishes level x locale x Title I together (peer groups): any other view filtered on two school attributes
    sums school cells.
    """
    from dashboard.disclosure import peer_name

    finest = _FINER[level]
    if scope.affiliates is not None or filters.affiliates:
        finest = max(finest, _FINER["affiliate"])
    elif filters.states:
        finest = max(finest, _FINER["state"])
    if filters.schools:
        finest = _FINER["school"]
    slices = _attribute_slices(filters)
    if slices and finest < _FINER["school"]:
        if len(slices) == 1:
            return ("nation", "state", "affiliate")[finest], next(iter(slices.values()))
        if finest == 0 and len(slices) == 3 and all(len(v) == 1 for v in slices.values()):
            return "nation", [peer_name(filters.levels[0], filters.locales[0], filters.title_i)]
    if slices:
        finest = _FINER["school"]
    return ("nation", "state", "affiliate", "school")[finest], [""]


def _cells_in_view(filters: Filters, scope: Scope, level: Level
                   ) -> tuple[sa.FromClause, list[sa.ColumnElement[bool]], list[sa.ColumnElement]]:  # fmt: skip
    """(source, conditions, place keys at the level) selecting the published cells that make up this view
    (`view_cells`), of every measure and tier: the caller narrows those."""
    unit, slices = view_cells(filters, scope, level)
    c = published_cells.c
    # The cells' key leads with the school year: every year named keeps a read of all years (the Overview's trend)
    # a search of the key rather than a scan of a million cells (48 ms to 0.1 ms at 1x on SQLite).
    years = year_condition(c.school_year, filters) or [
        c.school_year.in_(sa.select(school_year_rollup.c.school_year).distinct().scalar_subquery())
    ]
    where = [c.unit == unit, c.slice.in_(slices), *years]
    source: sa.FromClause = published_cells
    if unit != "nation":
        where += _place_conditions(published_cells, filters, scope) if unit != "state" else [
            c.state.in_(filters.states)] if filters.states else []  # fmt: skip
    if unit == "school":
        source = published_cells.join(schools, schools.c.school_id == c.unit_id)
        where += school_conditions(filters, scope)
    keys = {
        "national": [],
        "state": [c.state.label("state")],
        "affiliate": [c.affiliate_id.label("affiliate_id")],
        "school": [c.unit_id.label("school_id")],
    }[level]
    return source, where, keys


def _sum_status(frame: pd.DataFrame) -> pd.Series:
    """Per row of summed cells (parts, unsafe, one_status): a single cell's stored status, else 'shown' when every
    part is shown and 'hidden' when any is not (a sum of shown cells reveals nothing; one with a hidden part would)."""
    summed = frame["unsafe"].astype("int64").map(lambda u: "shown" if u == 0 else "hidden")
    return frame["one_status"].where(frame["parts"].astype("int64") == 1, summed)


def outcome_rates(engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING, level: Level = "national",
                  by_tier: bool = True) -> pd.DataFrame:  # fmt: skip
    """Per school year x metric (x tier, x place at the level): eligible, met, rate = met / eligible, and status.

    Read from the published cells: each row sums the cells that make up its place in view (`view_cells`), and
    carries their stored suppression decision: a single cell's own, else 'shown' when every part is shown and
    'hidden' when any is not (a sum of shown cells reveals nothing; one with a hidden part would).
    """
    from dashboard.data.contract import METRICS

    c = published_cells.c
    if by_tier:
        tiers = [t for t in (2, 3) if not filters.tiers or t in filters.tiers]
    else:
        chosen = [t for t in (2, 3) if not filters.tiers or t in filters.tiers]
        tiers = [0] if len(chosen) == 2 else chosen
    source, where, keys = _cells_in_view(filters, scope, level)
    where += [c.measure.in_(METRICS), c.tier.in_(tiers)]
    tier = [c.tier.label("tier")] if by_tier else []
    stmt = (
        sa.select(
            *keys,
            c.school_year,
            *tier,
            c.measure.label("metric"),
            sa.func.sum(c.size).label("eligible"),
            sa.func.sum(c.met).label("met"),
            sa.func.count().label("parts"),
            sa.func.sum(sa.case((c.status == "shown", 0), else_=1)).label("unsafe"),
            sa.func.min(c.status).label("one_status"),
        )
        .select_from(source)
        .where(*where)
        .group_by(*keys, c.school_year, *tier, c.measure)
        .order_by(*keys, c.school_year, *tier, c.measure)
    )
    frame = read_frame(engine, stmt)
    frame[["eligible", "met", "parts", "unsafe"]] = frame[["eligible", "met", "parts", "unsafe"]].astype("int64")
    frame["rate"] = frame["met"] / frame["eligible"]
    frame["status"] = _sum_status(frame)
    return frame.drop(columns=["parts", "unsafe", "one_status"])


def students_served_by_tier(engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """Long table: school_year, tier (1-3), students, students_status (the count's stored status)."""
    totals = kpi_totals(engine, filters, scope)
    tiers = {"tier1_students": 1, "tier2_students": 2, "case_managed": 3}
    long = totals.melt(id_vars="school_year", value_vars=list(tiers), var_name="tier", value_name="students")
    status = totals.melt(id_vars="school_year", value_vars=[f"{c}_status" for c in tiers], value_name="status")
    long["students_status"] = status["status"].to_numpy()
    long["tier"] = long["tier"].map(tiers)
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


def every_school(filters: Filters, scope: Scope) -> bool:
    """Whether the view is every school (any school years): what the national partner rollups hold."""
    return (
        uses_rollup(filters, "national") and scope.affiliates is None and not filters.states and not filters.affiliates
    )


def national_partner_year(filters: Filters, scope: Scope) -> str | None:
    """The school year when the view is every school in exactly one school year, else None.

    Distinct partners and schools do not add up over years, so a rollup row per year answers one year only.
    """
    return filters.school_years[0] if every_school(filters, scope) and len(filters.school_years) == 1 else None


def partners_by_category(engine: sa.Engine, filters: Filters, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """Per school year x partner category: partners, schools reached, in-kind dollars, volunteer hours."""
    p = partnerships.c
    if every_school(filters, scope):  # grouped by year, so any years
        r = partner_category_rollup.c
        rolled = (
            sa.select(
                r.school_year,
                r.partner_category.label("category"),
                r.partners,
                r.schools_reached,
                r.in_kind_usd,
                r.volunteer_hours,
            )
            .where(r.support_category == "", *year_condition(r.school_year, filters))
            .order_by(r.school_year, r.partner_category)
        )
        frame = read_frame(engine, rolled)
        frame[["partners", "schools_reached"]] = frame[["partners", "schools_reached"]].astype("int64")
        frame[["in_kind_usd", "volunteer_hours"]] = frame[["in_kind_usd", "volunteer_hours"]].astype(float)
        return frame
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


def affiliates_with_schools(engine: sa.Engine, school_year: str) -> frozenset[str]:
    """The affiliates holding at least one school in `school_year` (from the school-year rollup)."""
    r = school_year_rollup.c
    stmt = sa.select(r.affiliate_id).where(r.school_year == school_year, r.schools > 0).distinct()
    return frozenset(read_frame(engine, stmt)["affiliate_id"])


def states_with_schools(engine: sa.Engine) -> list[str]:
    """Every state code with at least one school, sorted."""
    return read_frame(engine, sa.select(schools.c.state).distinct().order_by(schools.c.state))["state"].tolist()


def affiliate_details(engine: sa.Engine, affiliate_id: str, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """One row (affiliate_id, name, kind, state, city) for an affiliate in scope; no rows otherwise."""
    a = affiliates.c
    cond = [a.affiliate_id == affiliate_id]
    if scope.affiliates is not None:
        cond.append(a.affiliate_id.in_(sorted(scope.affiliates)))
    return read_frame(engine, sa.select(a.affiliate_id, a.name, a.kind, a.state, a.city).where(*cond))


def school_details(engine: sa.Engine, school_id: str, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """One row (school_id, name, state, affiliate_id, affiliate_name) for a school in scope; no rows otherwise."""
    s, a = schools.c, affiliates.c
    stmt = (
        sa.select(s.school_id, s.name, s.state, s.affiliate_id, a.name.label("affiliate_name"))
        .select_from(schools.join(affiliates, a.affiliate_id == s.affiliate_id))
        .where(s.school_id == school_id, *school_conditions(Filters(), scope))
    )
    return read_frame(engine, stmt)


def affiliate_school_list(engine: sa.Engine, affiliate_id: str, school_year: str, scope: Scope = EVERYTHING
                          ) -> pd.DataFrame:  # fmt: skip
    """Every school of one affiliate in scope with its students served in `school_year` (NULL when no row)."""
    s = schools.c
    sy = school_years.c
    joined = schools.outerjoin(school_years, sa.and_(sy.school_id == s.school_id, sy.school_year == school_year))
    stmt = (
        sa.select(s.school_id, s.name, s.city, s.level, s.locale, s.title_i, sy.students_served)
        .select_from(joined)
        .where(s.affiliate_id == affiliate_id, *school_conditions(Filters(), scope))
        .order_by(s.name, s.school_id)
    )
    frame = read_frame(engine, stmt)
    frame["students_served"] = frame["students_served"].astype("Int64")
    frame["title_i"] = frame["title_i"].astype(bool)
    statuses = count_status(engine, Filters(school_years=(school_year,), affiliates=(affiliate_id,)), scope, "school")
    return with_count_status(frame, statuses[["school_id", "students_served_status"]])


def affiliate_outcome_benchmarks(engine: sa.Engine, affiliate_id: str, school_years: tuple[str, ...],
                                 scope: Scope = EVERYTHING) -> pd.DataFrame:  # fmt: skip
    """Tier 2 and 3 outcome rates of one affiliate in scope, its state and the nation, per school year x metric.

    Columns: benchmark ('affiliate', 'state', 'nation'), school_year, metric, eligible, met, rate. The state
    and national rows are computed over every school, whatever the scope, and name no school; an affiliate
    outside the scope (or unknown) gives no rows at all.
    """
    details = affiliate_details(engine, affiliate_id, scope)
    if details.empty:
        return pd.DataFrame(columns=["benchmark", "school_year", "metric", "eligible", "met", "rate"])
    years = Filters(school_years=school_years)
    parts = {
        "affiliate": outcome_rates(engine, replace(years, affiliates=(affiliate_id,)), scope, by_tier=False),
        "state": outcome_rates(engine, replace(years, states=(details["state"].iloc[0],)), EVERYTHING, by_tier=False),
        "nation": outcome_rates(engine, years, EVERYTHING, by_tier=False),
    }
    frame = pd.concat([part.assign(benchmark=name) for name, part in parts.items()], ignore_index=True)
    return frame[["benchmark", "school_year", "metric", "eligible", "met", "rate"]]


def _partner_counts(school_year: str) -> sa.Subquery:
    """Distinct partners per school in one school year."""
    p = partnerships.c
    return (
        sa.select(p.school_id, sa.func.count(sa.distinct(p.partner_id)).label("partners"))
        .where(p.school_year == school_year)
        .group_by(p.school_id)
        .subquery("partner_counts")
    )


def map_schools(engine: sa.Engine, filters: Filters, scope: Scope, school_year: str) -> pd.DataFrame:
    """Schools in scope with a row in `school_year`: place, coordinates (and whether approximate), students
    served, case-managed (tier 3) students and distinct partners that year. One row per school."""
    s, sy, pc = schools.c, school_years.c, _partner_counts(school_year)
    stmt = (
        sa.select(
            s.school_id,
            s.name,
            s.affiliate_id,
            affiliates.c.name.label("affiliate_name"),
            s.state,
            s.city,
            s.latitude,
            s.longitude,
            s.approximate_location,
            s.level,
            s.locale,
            s.title_i,
            sy.students_served,
            sy.tier3_students.label("case_managed"),
            sa.func.coalesce(pc.c.partners, 0).label("partners"),
        )
        .select_from(school_years.join(schools).join(affiliates).outerjoin(pc, pc.c.school_id == s.school_id))
        .where(sy.school_year == school_year, *school_conditions(filters, scope))
        .order_by(s.school_id)
    )
    frame = read_frame(engine, stmt)
    for col in ("students_served", "case_managed", "partners"):
        frame[col] = frame[col].astype("int64")
    for col in ("approximate_location", "title_i"):
        frame[col] = frame[col].astype(bool)
    return _with_map_status(engine, frame, filters, scope, school_year, "school")


def _with_map_status(engine: sa.Engine, frame: pd.DataFrame, filters: Filters, scope: Scope, school_year: str,
                     level: Level) -> pd.DataFrame:  # fmt: skip
    """A map frame with the stored status of its students served and case-managed counts in `school_year`."""
    statuses = count_status(engine, filters.with_years(school_year), scope, level)
    key = "school_id" if level == "school" else "affiliate_id"
    return with_count_status(frame, statuses[[key, "students_served_status", "case_managed_status"]])


def map_affiliates(engine: sa.Engine, filters: Filters, scope: Scope, school_year: str) -> pd.DataFrame:
    """Affiliates holding schools in view in `school_year`: place, coordinates, schools, students served and
    case-managed students summed over those schools."""
    a, sy = affiliates.c, school_years.c
    cols = (a.affiliate_id, a.name, a.kind, a.state, a.city, a.latitude, a.longitude, a.approximate_location)
    stmt = (
        sa.select(
            *cols,
            sa.func.count(sy.school_id).label("schools"),
            sa.func.sum(sy.students_served).label("students_served"),
            sa.func.sum(sy.tier3_students).label("case_managed"),
        )
        .select_from(school_years.join(schools).join(affiliates))
        .where(sy.school_year == school_year, *school_conditions(filters, scope))
        .group_by(*cols)
        .order_by(a.affiliate_id)
    )
    frame = read_frame(engine, stmt)
    for col in ("schools", "students_served", "case_managed"):
        frame[col] = frame[col].astype("int64")
    frame["approximate_location"] = frame["approximate_location"].astype(bool)
    return _with_map_status(engine, frame, filters, scope, school_year, "affiliate")


def map_partner_count(engine: sa.Engine, filters: Filters, scope: Scope, school_year: str) -> int:
    """How many partners map_partners would return: distinct partners at schools in view in `school_year`."""
    p = partnerships.c
    stmt = (
        sa.select(sa.func.count(sa.distinct(p.partner_id)))
        .select_from(partnerships.join(schools))
        .where(p.school_year == school_year, *school_conditions(filters, scope))
    )
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def map_partners(engine: sa.Engine, filters: Filters, scope: Scope, school_year: str) -> pd.DataFrame:
    """Partners with a partnership in `school_year` at schools in view: their own place and coordinates, the
    schools they serve in view, in-kind dollars and volunteer hours there, and the first of those schools (by id,
    with its coordinates), where the map places a partner whose own location is missing or approximate."""
    p, s = partnerships.c, schools.c
    served = (
        sa.select(
            p.partner_id,
            sa.func.count(sa.distinct(p.school_id)).label("schools_served"),
            sa.func.sum(p.in_kind_usd).label("in_kind_usd"),
            sa.func.sum(p.volunteer_hours).label("volunteer_hours"),
            sa.func.min(p.school_id).label("school_id"),
        )
        .select_from(partnerships.join(schools))
        .where(p.school_year == school_year, *school_conditions(filters, scope))
        .group_by(p.partner_id)
        .subquery("served")
    )
    pt = partners.c
    stmt = (
        sa.select(
            pt.partner_id,
            pt.name,
            pt.category,
            pt.state,
            pt.city,
            pt.latitude,
            pt.longitude,
            pt.approximate_location,
            served.c.schools_served,
            served.c.in_kind_usd,
            served.c.volunteer_hours,
            served.c.school_id,
            s.name.label("school_name"),
            s.affiliate_id,
            s.state.label("school_state"),
            s.latitude.label("school_latitude"),
            s.longitude.label("school_longitude"),
            s.approximate_location.label("school_approximate_location"),
        )
        .select_from(
            served.join(partners, pt.partner_id == served.c.partner_id).join(schools, s.school_id == served.c.school_id)
        )
        .order_by(pt.partner_id)
    )
    frame = read_frame(engine, stmt)
    frame["schools_served"] = frame["schools_served"].astype("int64")
    frame[["in_kind_usd", "volunteer_hours"]] = frame[["in_kind_usd", "volunteer_hours"]].astype(float)
    for col in ("approximate_location", "school_approximate_location"):
        frame[col] = frame[col].astype(bool)
    return frame
