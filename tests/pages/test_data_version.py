"""A load made elsewhere (another replica, the command line) reaches a page that is already open, at its next rerun.

The other writer here is a separate process running `python -m dashboard load`: it cannot clear this process's
caches, so the open page can only see the load through the data version in the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.data import contract, db, ingest, migrate, queries
from dashboard.tools import demo
from tests.conftest import POSTGRES_URL, postgres_or_skip

ROOT = Path(__file__).resolve().parents[2]
EXTRA_VOLUNTEERS = 500_000


def _filled(engine: sa.Engine, small_csv: Path) -> sa.Engine:
    migrate.upgrade(engine)
    network = demo.Network(**{
        name: pd.read_csv(small_csv / f"{name}.csv", dtype={"school_id": str, "school_year": str})
        for name in contract.TABLES
    })  # fmt: skip
    with engine.begin() as conn:
        demo.insert_network(conn, network, load_id=None)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, small_csv: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database of its own holding the small network (the tests load into it)."""
    if request.param == "sqlite":
        engine = _filled(db.create_engine(f"sqlite:///{tmp_path / 'version.sqlite3'}"), small_csv)
        yield engine
        engine.dispose()
        return
    postgres_or_skip()
    with migrate.throwaway_postgres(POSTGRES_URL, "dashboard_version") as engine:
        yield _filled(engine, small_csv)


def _corrected_school_years(small_csv: Path, out: Path) -> tuple[Path, pd.DataFrame]:
    """school_years.csv with one school's volunteers in the newest year raised; returns the file and the table."""
    table = pd.read_csv(small_csv / "school_years.csv", dtype={"school_id": str, "school_year": str})
    newest = table["school_year"].max()
    first = table.index[table["school_year"] == newest][0]
    table.loc[first, "volunteers"] += EXTRA_VOLUNTEERS
    path = out / "school_years.csv"
    table.to_csv(path, index=False)
    return path, table


def _load_in_another_process(path: Path, engine: sa.Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "dashboard", "load", str(path), "--database-url", url],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "DASHBOARD_DATABASE_URL": url},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _volunteers_card(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Volunteers")


def _card(total: float) -> str:
    """How the Overview writes a count of that size: three significant figures, K or M."""
    for unit, size in (("M", 1e6), ("K", 1e3)):
        if total >= size:
            return f"{float(f'{total / size:.3g}'):g}{unit}"
    return f"{total:,.0f}"


def test_a_load_from_another_process_reaches_an_open_page_at_its_next_rerun(
    fresh_engine: sa.Engine, small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", fresh_engine.url.render_as_string(hide_password=False))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app_pages" / "overview.py"), default_timeout=120).run()
    assert not at.exception
    before_table = pd.read_csv(small_csv / "school_years.csv", dtype={"school_id": str, "school_year": str})
    newest = before_table["school_year"] == before_table["school_year"].max()
    assert _volunteers_card(at) == _card(before_table.loc[newest, "volunteers"].sum())
    version = queries.data_version(fresh_engine)

    path, after_table = _corrected_school_years(small_csv, tmp_path)
    _load_in_another_process(path, fresh_engine)
    assert queries.data_version(fresh_engine) > version

    at.run()  # nothing cleared in this process: the page reads the new version and, with it, the new figures
    assert not at.exception
    expected = after_table.loc[newest, "volunteers"].sum()
    assert _volunteers_card(at) == _card(expected)
    assert _card(expected) != _card(before_table.loc[newest, "volunteers"].sum())
    captions = " ".join(c.value for c in at.caption)
    assert "(load 1, the newest in place)" in captions  # the command line's load is the first recorded one

    st.cache_data.clear()
    st.cache_resource.clear()


def test_every_load_and_undo_raises_the_data_version_in_its_own_transaction(
    fresh_engine: sa.Engine, small_csv: Path, tmp_path: Path
) -> None:
    start = queries.data_version(fresh_engine)
    assert start >= 1  # the build of the network raised it

    path, _ = _corrected_school_years(small_csv, tmp_path)
    report = ingest.load_tables(fresh_engine, [path], loaded_by="tester")
    assert report.ok and queries.data_version(fresh_engine) == start + 1

    unchanged = ingest.load_tables(fresh_engine, [path], loaded_by="tester")  # a new load, nothing changed
    assert unchanged.ok and queries.data_version(fresh_engine) == start + 2

    ingest.undo_load(fresh_engine, unchanged.load_id, by="tester")
    assert queries.data_version(fresh_engine) == start + 3

    refused = ingest.load_tables(fresh_engine, [small_csv / "schools.csv", path], loaded_by="tester", dry_run=True)
    assert refused.ok and queries.data_version(fresh_engine) == start + 3  # a dry run writes nothing
