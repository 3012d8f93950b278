"""Load rate: a full year of the demo network through the loader, against a raw bulk insert of the same rows.

The loader reads the CSV files, validates every row, diffs against the database, writes and audits; the raw
insert only writes already-typed rows (executemany on SQLite, COPY on PostgreSQL). Both run on throwaway
databases (a temporary SQLite file, or a new PostgreSQL database on the server of the URL given, dropped
afterwards), so the database named by the URL is never written.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dashboard.data import contract, db, ingest, migrate
from dashboard.tools import demo

YEAR = "2022-23"  # the last year of the published figures: about 3,460 schools at scale 1
LOAD_RUNS = 3


def year_of(network: demo.Network, year: str = YEAR) -> demo.Network:
    """The network's reference tables whole and its yearly tables for one school year (the latest if absent)."""
    years = set(network.school_years["school_year"])
    chosen = year if year in years else max(years)
    return demo.Network(**{
        name: frame[frame["school_year"] == chosen].reset_index(drop=True) if "school_year" in frame else frame
        for name, frame in network.tables().items()
    })  # fmt: skip


@contextlib.contextmanager
def throwaway(engine_url: str, folder: Path, name: str) -> Iterator[sa.Engine]:
    """An empty database with the schema, of the same kind as engine_url, removed afterwards."""
    if sa.make_url(engine_url).get_backend_name() == "sqlite":
        engine = db.create_engine(f"sqlite:///{folder / f'{name}.sqlite3'}")
        migrate.upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with migrate.throwaway_postgres(engine_url, f"dashboard_bench_{name}") as engine:
        yield engine


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    """The frame's rows as tuples of native Python values, missing values as None."""
    return list(frame[columns].astype(object).where(frame[columns].notna(), None).itertuples(index=False, name=None))


def raw_insert(engine: sa.Engine, network: demo.Network) -> int:
    """Insert every table's rows as they are, in one transaction: executemany, or COPY on PostgreSQL."""
    total = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name in contract.TABLES:
            frame = network.tables()[name]
            columns = [c for c in contract.columns(name) if c in frame.columns]
            rows = _rows(frame, columns)
            total += len(rows)
            if engine.dialect.name == "postgresql":
                with cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in columns)
                cur.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", rows)
        raw.commit()
    finally:
        raw.close()
    return total


def load_rate(engine_url: str, scale: float, runs: int = LOAD_RUNS) -> dict[str, Any]:
    """Rows per second of a one-year load through the loader (validation included) and of a raw bulk insert.

    Each is run `runs` times, alternating, each into a new empty database, and the medians are reported: on a
    shared two-core machine one run of either swings by a third. Returns dialect, scale, school_year, rows,
    load_s, load_rows_per_s, raw_s, raw_rows_per_s, ratio (loader rate / raw rate) and runs.
    """
    network = year_of(demo.generate(scale=scale))
    rows = sum(len(f) for f in network.tables().values())
    load_times, raw_times = [], []
    with tempfile.TemporaryDirectory(prefix="dashboard_bench_load_") as tmp:
        folder = Path(tmp)
        demo.write_csv(network, folder / "csv")
        for run in range(runs):
            with throwaway(engine_url, folder, f"loader{run}") as engine:
                started = time.perf_counter()
                report = ingest.load_tables(engine, [folder / "csv"], loaded_by="bench")
                load_times.append(time.perf_counter() - started)
                dialect = engine.dialect.name
            if not report.ok:
                raise RuntimeError(f"the demo year did not load: {report.problems[:3]}")
            with throwaway(engine_url, folder, f"raw{run}") as engine:
                started = time.perf_counter()
                raw_rows = raw_insert(engine, network)
                raw_times.append(time.perf_counter() - started)
    load_s, raw_s = statistics.median(load_times), statistics.median(raw_times)
    assert raw_rows == rows
    return {
        "dialect": dialect,
        "scale": scale,
        "school_year": network.school_years["school_year"].iloc[0],
        "rows": rows,
        "load_s": round(load_s, 3),
        "load_rows_per_s": round(rows / load_s),
        "raw_s": round(raw_s, 3),
        "raw_rows_per_s": round(rows / raw_s),
        "ratio": round(raw_s / load_s, 3),
        "runs": runs,
    }
