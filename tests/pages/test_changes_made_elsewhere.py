"""A load or an account change made elsewhere (another replica, the command line) holds in a session that is
already open, at its next rerun.

The other writer here is a separate process running `python -m dashboard load` or `users`: it cannot clear this
process's caches or touch its sessions, so the open session can only learn of the change from the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.data import db, ingest, migrate, queries, users
from tests.conftest import POSTGRES_URL, fill, postgres_or_skip

ROOT = Path(__file__).resolve().parents[2]
EXTRA_VOLUNTEERS = 500_000


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, small_csv: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database of its own holding the small network (the tests load into it)."""
    if request.param == "sqlite":
        engine = fill(db.create_engine(f"sqlite:///{tmp_path / 'version.sqlite3'}"), small_csv)
        yield engine
        engine.dispose()
        return
    postgres_or_skip()
    with migrate.throwaway_postgres(POSTGRES_URL, "dashboard_version") as engine:
        yield fill(engine, small_csv)


def _corrected_school_years(small_csv: Path, out: Path) -> tuple[Path, pd.DataFrame]:
    """school_years.csv with one school's volunteers in the newest year raised; returns the file and the table."""
    table = pd.read_csv(small_csv / "school_years.csv", dtype={"school_id": str, "school_year": str})
    newest = table["school_year"].max()
    first = table.index[table["school_year"] == newest][0]
    table.loc[first, "volunteers"] += EXTRA_VOLUNTEERS
    path = out / "school_years.csv"
    table.to_csv(path, index=False)
    return path, table


def _in_another_process(engine: sa.Engine, *args: str, stdin: str | None = None) -> None:
    """Run `python -m dashboard ARGS --database-url URL` in a process of its own; fails the test if it fails."""
    url = engine.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "dashboard", *args, "--database-url", url], input=stdin,
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
    _in_another_process(fresh_engine, "load", str(path))
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


def _signed_in_app(engine: sa.Engine, username: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The whole app (sign-in, navigation, the Overview) with the session state a sign-in leaves behind."""
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("DASHBOARD_COOKIE_KEY", "a-test-cookie-key-that-is-long-enough-for-hs256")
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["authentication_status"] = True
    at.session_state["_auth_signed_in_at"] = datetime.now(UTC)
    at.session_state["username"] = username
    return at


def _sign_in_form_shown(at: AppTest) -> bool:
    return any(t.key == "_auth_username" for t in at.text_input)


def test_a_role_change_and_a_password_reset_elsewhere_hold_in_an_open_session_at_its_next_rerun(
    fresh_engine: sa.Engine, small_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users.add_user(fresh_engine, "moved", "Moved Reader", "moved@example.org", "a long test password", "board")
    at = _signed_in_app(fresh_engine, "moved", monkeypatch).run()
    assert not at.exception and not _sign_in_form_shown(at)
    assert not any(c.value.startswith("Your view:") for c in at.caption)  # the board sees the whole network

    affiliates = pd.read_csv(small_csv / "affiliates.csv")
    own = affiliates.iloc[0]
    _in_another_process(
        fresh_engine, "users", "set-role", "moved", "affiliate_lead", "--affiliate", own["affiliate_id"]
    )
    at.run()
    assert not at.exception and not _sign_in_form_shown(at)
    view = next(c.value for c in at.caption if c.value.startswith("Your view:"))
    assert own["name"] in view  # now the lead of that one affiliate, named as its own

    _in_another_process(fresh_engine, "users", "reset-password", "moved", "--password-stdin",
                        stdin="another long test password\n")  # fmt: skip
    at.run()
    assert not at.exception and _sign_in_form_shown(at)  # the session that began before the reset is over
    st.cache_data.clear()
    st.cache_resource.clear()
