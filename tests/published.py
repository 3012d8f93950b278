"""The stored disclosure decision of the cells the Schools page's benchmarks and ranks stand on, read straight from
`published_cells` for tests to check pages against (as the decision, never as a figure)."""

from __future__ import annotations

import sqlalchemy as sa


def benchmark_statuses(engine: sa.Engine, metric: str, year: str) -> dict[tuple[str, str], str]:
    """Tiers together: ('peer', 'level/locale/true'), ('state', 'NC'), ('nation', '') and ('school', id) -> status."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT unit, unit_id, state, slice, status FROM published_cells WHERE measure = :m AND school_year = :y "
                "AND tier = 0 AND (slice = '' OR (unit = 'nation' AND slice LIKE 'peer:%'))"
            ),
            {"m": metric, "y": year},
        )
        out = {}
        for unit, unit_id, state, slice_, status in rows:
            if unit == "nation":
                out[("peer", slice_.removeprefix("peer:")) if slice_ else ("nation", "")] = status
            elif unit in ("state", "school"):
                out[(unit, state if unit == "state" else unit_id)] = status
    return out


def peer(level: str, locale: str, title_i: object) -> tuple[str, str]:
    """The key of a peer group in benchmark_statuses."""
    return ("peer", f"{level}/{locale}/{'true' if bool(title_i) else 'false'}")
