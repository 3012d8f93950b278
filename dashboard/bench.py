"""Benchmark: our SQL aggregates against the naive read-everything baseline and DuckDB, and page run times.

Prints one markdown table per scale and writes them to docs/benchmarks.md. Figures, not pass/fail:
these machines are shared and noisy, so the medians of several runs are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from dashboard import config, db, demo, queries
from dashboard.queries import Filters

ROOT = config.ROOT
PAGES = ("pages/overview.py", "pages/roi.py")


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _ours(engine: sa.Engine, year: str) -> dict[str, Callable[[], object]]:
    return {
        "overview": lambda: (
            queries.kpi_totals(engine, Filters()),
            queries.partners_by_year(engine, Filters()),
            queries.kpi_totals(engine, Filters(school_years=(year,)), level="state"),
            queries.outcome_rates(engine, Filters(school_years=(year,)), by_tier=False),
        ),
        "outcomes (state drill)": lambda: queries.outcome_rates(
            engine, Filters(school_years=(year,), states=("TX",)), level="affiliate"
        ),
    }


def _naive(engine: sa.Engine, year: str) -> dict[str, Callable[[], object]]:
    """What many dashboards do: read whole tables, then filter and group in pandas."""

    def overview() -> object:
        with engine.connect() as conn:
            sy = pd.read_sql(sa.select(db.school_years), conn)
            sch = pd.read_sql(sa.select(db.schools), conn)
            ps = pd.read_sql(sa.select(db.partnerships), conn)
            out = pd.read_sql(sa.select(db.outcomes), conn)
        m = sy.merge(sch, on="school_id")
        return (
            m.groupby("school_year")[["students_served", "tier3_students", "volunteers"]].sum(),
            ps.groupby("school_year")["partner_id"].nunique(),
            m[m["school_year"] == year].groupby("state")["students_served"].sum(),
            out[out["school_year"] == year].groupby("metric")[["met", "eligible"]].sum(),
        )

    def outcomes() -> object:
        with engine.connect() as conn:
            out = pd.read_sql(sa.select(db.outcomes), conn)
            sch = pd.read_sql(sa.select(db.schools), conn)
        m = out.merge(sch, on="school_id")
        m = m[(m["school_year"] == year) & (m["state"] == "TX")]
        return m.groupby(["affiliate_id", "school_year", "tier", "metric"])[["eligible", "met"]].sum()

    return {"overview": overview, "outcomes (state drill)": outcomes}


def _duckdb(network: demo.Network, year: str) -> dict[str, Callable[[], object]]:
    import duckdb

    con = duckdb.connect()
    for name, frame in network.tables().items():
        con.register(name, frame)

    def overview() -> object:
        return (
            con.execute(
                "SELECT school_year, sum(students_served), sum(tier3_students), sum(volunteers) FROM school_years"
                " GROUP BY 1"
            ).fetchall(),
            con.execute("SELECT school_year, count(DISTINCT partner_id) FROM partnerships GROUP BY 1").fetchall(),
            con.execute(
                "SELECT s.state, sum(y.students_served) FROM school_years y JOIN schools s USING (school_id)"
                " WHERE y.school_year = ? GROUP BY 1",
                [year],
            ).fetchall(),
            con.execute(
                "SELECT metric, sum(met), sum(eligible) FROM outcomes WHERE school_year = ? GROUP BY 1", [year]
            ).fetchall(),
        )

    def outcomes() -> object:
        return con.execute(
            "SELECT s.affiliate_id, o.tier, o.metric, sum(o.eligible), sum(o.met) FROM outcomes o"
            " JOIN schools s USING (school_id) WHERE o.school_year = ? AND s.state = 'TX' GROUP BY 1, 2, 3",
            [year],
        ).fetchall()

    return {"overview": overview, "outcomes (state drill)": outcomes}


def _page_runs(url: str, runs: int) -> dict[str, tuple[float, float]]:
    """Cold (caches cleared) and warm median run time of each page through AppTest, in ms (in a subprocess)."""
    done = subprocess.run(
        [sys.executable, "-m", "tools.page_timing", url, str(runs), *PAGES],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_scale(scale: float, runs: int, database_url: str | None) -> str:
    """Build the network at one scale, measure, and return the markdown section."""
    network = demo.generate(scale=scale)
    year = demo.YEARS[-1]
    rows = sum(len(f) for f in network.tables().values())
    lines = [f"## Scale {scale:g}: {len(network.schools):,} schools, {rows:,} rows", ""]
    backends: list[tuple[str, sa.Engine]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_"))
    sqlite = db.create_engine(f"sqlite:///{tmp / 'bench.sqlite3'}")
    db.upgrade(sqlite)
    started = time.perf_counter()
    with sqlite.begin() as conn:
        demo.insert_network(conn, network, None)
    lines.append(f"SQLite build: {time.perf_counter() - started:.1f} s for {rows:,} rows (executemany).")
    backends.append(("SQLite", sqlite))
    if database_url:
        pg = db.create_engine(database_url)
        db.upgrade(pg)
        with pg.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                if table.name in {t.name for t in db.CONTRACT_TABLES}:
                    conn.execute(table.delete())
            demo.insert_network(conn, network, None)
        backends.append(("PostgreSQL", pg))
    lines += [
        "",
        "| backend | query set | ours (ms) | naive read + pandas (ms) | naive / ours | DuckDB (ms) | ours / DuckDB |",
    ]
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    duck = _duckdb(network, year)
    for name, engine in backends:
        ours, naive = _ours(engine, year), _naive(engine, year)
        for key in ours:
            t_ours = median_ms(ours[key], runs)
            t_naive = median_ms(naive[key], max(1, runs // 2))
            t_duck = median_ms(duck[key], runs)
            lines.append(
                f"| {name} | {key} | {t_ours:.1f} | {t_naive:.1f} | {t_naive / t_ours:.1f}x | {t_duck:.1f} |"
                f" {t_ours / t_duck:.1f}x |"
            )
    lines += ["", "| page (AppTest, SQLite) | cold median (ms) | warm median (ms) |", "| --- | ---: | ---: |"]
    for page, (cold, warm) in _page_runs(str(sqlite.url), runs).items():
        lines.append(f"| {page} | {cold:.0f} | {warm:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry for `python -m dashboard bench`."""
    parser = argparse.ArgumentParser(prog="python -m dashboard bench")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench command's options."""
    parser.add_argument("--scale", type=float, nargs="+", default=[1.0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions; medians are reported")
    parser.add_argument(
        "--database-url", default=None, help="also measure on this PostgreSQL (its tables are replaced)"
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))


def run(args: argparse.Namespace) -> int:
    """Measure each scale, print the tables and write them to --out."""
    header = (
        f"# Benchmarks\n\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}."
        f" Command: `python -m dashboard bench --scale {' '.join(f'{s:g}' for s in args.scale)}`.\n\n"
    )
    sections = []
    for scale in args.scale:
        section = run_scale(scale, args.runs, args.database_url)
        print(section)
        sections.append(section)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(header + "\n".join(sections))
    return 0
