"""The rollup tables: fact tables summed by school year and by state and affiliate (or school), rebuilt from them.

`refresh` runs inside the transaction that changed the facts (a load, an undo, the demo build), so a
reader sees the facts and their rollups change together or not at all; it raises the data version in the same
transaction, so every replica's cached reads (keyed on it) follow.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from dashboard import config, disclosure
from dashboard.data import db
from dashboard.data.db import (
    outcome_rollup,
    outcomes,
    partner_category_rollup,
    partner_rollup,
    partner_year_rollup,
    partners,
    partnerships,
    published_cells,
    school_outcome_rollup,
    school_year_rollup,
    school_years,
    schools,
)

ROLLUPS = (
    published_cells,
    outcome_rollup,
    school_year_rollup,
    partner_rollup,
    school_outcome_rollup,
    partner_year_rollup,
    partner_category_rollup,
)


def refresh(conn: sa.Connection, years: Iterable[str] | None = None) -> None:
    """Rebuild the rollups from the fact tables on the caller's open transaction: every school year, or only `years`.

    Every rollup row is keyed by school year and sums facts of that year only, so rebuilding the years whose
    facts changed leaves the rollups equal to a full rebuild.
    """
    bump_version(conn)  # even with no year to rebuild: a load of unchanged rows is still a new load to show
    chosen = None if years is None else sorted(set(years))
    if chosen == []:
        return
    refresh_sums(conn, chosen)
    refresh_published_cells(conn, chosen)


def bump_version(conn: sa.Connection) -> None:
    """Raise the data version by one on the caller's transaction (creating its row if it is missing)."""
    dv = db.data_version
    now = datetime.now(UTC)
    raised = conn.execute(dv.update().where(dv.c.id == 1).values(version=dv.c.version + 1, changed_at=now))
    if raised.rowcount == 0:
        conn.execute(dv.insert().values(id=1, version=1, changed_at=now))


def refresh_sums(conn: sa.Connection, years: list[str] | None) -> None:
    """Rebuild the summed rollups (every one but published_cells) of `years` (None: every year)."""

    def of_years(column: sa.ColumnElement) -> list[sa.ColumnElement]:
        return [] if years is None else [column.in_(years)]

    for t in ROLLUPS:
        if t is not published_cells:
            conn.execute(t.delete().where(*of_years(t.c.school_year)))
    o = outcomes.c
    conn.execute(
        outcome_rollup.insert().from_select(
            ["school_year", "state", "affiliate_id", "tier", "metric", "eligible", "met"],
            sa.select(
                o.school_year,
                schools.c.state,
                schools.c.affiliate_id,
                o.tier,
                o.metric,
                sa.func.sum(o.eligible),
                sa.func.sum(o.met),
            )
            .select_from(outcomes.join(schools))
            .where(*of_years(o.school_year))
            .group_by(o.school_year, schools.c.state, schools.c.affiliate_id, o.tier, o.metric),
        )
    )
    conn.execute(
        school_outcome_rollup.insert().from_select(
            ["metric", "school_year", "school_id", "eligible", "met"],
            sa.select(o.metric, o.school_year, o.school_id, sa.func.sum(o.eligible), sa.func.sum(o.met))
            .where(*of_years(o.school_year))
            .group_by(o.metric, o.school_year, o.school_id),
        )
    )
    sy = school_years.c
    sums = ["enrollment", "students_served", "tier1_students", "tier2_students", "tier3_students",
            "site_coordinators", "volunteers", "volunteer_hours"]  # fmt: skip
    conn.execute(
        school_year_rollup.insert().from_select(
            ["school_year", "state", "affiliate_id", "schools", *sums],
            sa.select(
                sy.school_year,
                schools.c.state,
                schools.c.affiliate_id,
                sa.func.count(),
                *(sa.func.sum(sy[name]) for name in sums),
            )
            .select_from(school_years.join(schools))
            .where(*of_years(sy.school_year))
            .group_by(sy.school_year, schools.c.state, schools.c.affiliate_id),
        )
    )
    p = partnerships.c
    for grain, place in (
        ("national", sa.literal("")),
        ("state", schools.c.state),
        ("affiliate", schools.c.affiliate_id),
    ):
        keys = [p.school_year] if grain == "national" else [p.school_year, place]
        conn.execute(
            partner_rollup.insert().from_select(
                ["school_year", "grain", "place", "partners", "schools_reached", "in_kind_usd", "volunteer_hours"],
                sa.select(
                    p.school_year,
                    sa.literal(grain),
                    place,
                    sa.func.count(sa.distinct(p.partner_id)),
                    sa.func.count(sa.distinct(p.school_id)),
                    sa.func.sum(p.in_kind_usd),
                    sa.func.sum(p.volunteer_hours),
                )
                .select_from(partnerships.join(schools))
                .where(*of_years(p.school_year))
                .group_by(*keys),
            )
        )
    conn.execute(
        partner_year_rollup.insert().from_select(
            ["school_year", "partner_id", "schools_reached", "in_kind_usd", "volunteer_hours"],
            sa.select(
                p.school_year,
                p.partner_id,
                sa.func.count(sa.distinct(p.school_id)),
                sa.func.sum(p.in_kind_usd),
                sa.func.sum(p.volunteer_hours),
            )
            .where(*of_years(p.school_year))
            .group_by(p.school_year, p.partner_id),
        )
    )
    # Partner categories come from the partners table, not the facts: a load or undo that changes a partner's
    # category must refresh every year, as one that moves a school to another state or affiliate does.
    for support in (sa.literal(""), p.category):
        keys = [p.school_year, partners.c.category, *([p.category] if support is p.category else [])]
        conn.execute(
            partner_category_rollup.insert().from_select(
                [
                    "school_year",
                    "partner_category",
                    "support_category",
                    "partners",
                    "schools_reached",
                    "in_kind_usd",
                    "volunteer_hours",
                ],
                sa.select(
                    p.school_year,
                    partners.c.category,
                    support,
                    sa.func.count(sa.distinct(p.partner_id)),
                    sa.func.count(sa.distinct(p.school_id)),
                    sa.func.sum(p.in_kind_usd),
                    sa.func.sum(p.volunteer_hours),
                )
                .select_from(partnerships.join(partners))
                .where(*of_years(p.school_year))
                .group_by(*keys),
            )
        )


def refresh_published_cells(conn: sa.Connection, years: list[str] | None) -> None:
    """Rebuild published_cells for `years` (None: every year) with the suppression decided jointly over them.

    Every relation among cells stays inside one school year, so deciding the years a load touched gives the same
    pattern as deciding all of them.
    """
    stale = published_cells.delete()
    conn.execute(stale if years is None else stale.where(published_cells.c.school_year.in_(years)))

    def read(stmt: sa.Select) -> pd.DataFrame:
        result = conn.execute(stmt)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def of_years(table: sa.Table) -> sa.Select:
        stmt = sa.select(*table.c)
        return stmt if years is None else stmt.where(table.c.school_year.in_(years))

    o = read(of_years(outcomes))
    sy = read(of_years(school_years))
    s = read(sa.select(schools.c.school_id, schools.c.state, schools.c.affiliate_id, schools.c.level,
                       schools.c.locale, schools.c.title_i))  # fmt: skip
    if s.empty or sy.empty:
        return
    s["title_i"] = s["title_i"].astype(bool)
    table = disclosure.cells(disclosure.leaves(o, sy, s))
    threshold = int(config.get("suppression_threshold"))
    table["status"] = disclosure.decide(table, s, threshold, audit_rounds=0)
    _bulk_insert(conn, published_cells, table[[c.name for c in published_cells.c]])


def _bulk_insert(conn: sa.Connection, t: sa.Table, frame: pd.DataFrame) -> None:
    """Insert a frame of plain strings and integers (db.bulk_insert)."""
    columns = list(frame.columns)
    db.bulk_insert(conn, t, columns, list(zip(*(frame[c].astype(object).tolist() for c in columns), strict=True)))
