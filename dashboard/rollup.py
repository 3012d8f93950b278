"""The rollup tables: fact tables summed by school year, state and affiliate, rebuilt from them.

`refresh` runs inside the transaction that changed the facts (a load, an undo, the demo build), so a
reader sees the facts and their rollups change together or not at all.
"""

from __future__ import annotations

import sqlalchemy as sa

from dashboard.db import (
    outcome_rollup,
    outcomes,
    partner_rollup,
    partnerships,
    school_year_rollup,
    school_years,
    schools,
)


def refresh(conn: sa.Connection) -> None:
    """Rebuild the rollups from the fact tables on the caller's open transaction."""
    conn.execute(outcome_rollup.delete())
    conn.execute(school_year_rollup.delete())
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
            .group_by(o.school_year, schools.c.state, schools.c.affiliate_id, o.tier, o.metric),
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
            .group_by(sy.school_year, schools.c.state, schools.c.affiliate_id),
        )
    )
    conn.execute(partner_rollup.delete())
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
                .group_by(*keys),
            )
        )
