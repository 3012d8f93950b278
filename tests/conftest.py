"""Shared fixtures: a small demo network as CSV files and the same tables in real databases."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard.data import contract, db, migrate
from dashboard.tools import demo

TEST_SCALE = 0.2
POSTGRES_URL = os.environ.get("DASHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


# The longest files first. `make test` hands whole files to two workers in this order (--dist loadfile
# --no-loadscope-reorder); xdist's own order puts files with fewest tests last, which left the browser walks running
# alone at the end while the other worker idled. The Chromium role walks build the shared demo database on one
# worker while the benchmark's own build runs on the other.
RUN_FIRST = ("tests/e2e/test_pages_browser.py", "tests/dashboard/tools/test_bench.py", "tests/e2e/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0]
        return next((i for i, start in enumerate(RUN_FIRST) if path.startswith(start)), len(RUN_FIRST))

    items.sort(key=rank)  # stable: each file keeps its own order, the rest their collection order


def required(kind: str) -> bool:
    """Whether CI asked for this kind of test to run for real (a missing service then fails, not skips)."""
    return os.environ.get(f"DASHBOARD_REQUIRE_{kind.upper()}") == "1"


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo network at a fifth of national size, written as the contract's CSV files."""
    out = tmp_path_factory.mktemp("small_csv")
    demo.write_csv(demo.generate(scale=TEST_SCALE), out)
    return out


@pytest.fixture(scope="session")
def raw(small_csv: Path) -> dict[str, pd.DataFrame]:
    """The CSV files read back with pandas: what independent recomputations start from."""
    return {
        name: pd.read_csv(small_csv / f"{name}.csv", dtype={"school_id": str, "school_year": str})
        for name in contract.TABLES
    }


def fill(engine: sa.Engine, small_csv: Path) -> sa.Engine:
    """Upgrade `engine` and write the small network's CSV files into it; returns the engine."""
    migrate.upgrade(engine)
    network = demo.Network(**{
        name: pd.read_csv(small_csv / f"{name}.csv", dtype={"school_id": str, "school_year": str})
        for name in contract.TABLES
    })  # fmt: skip
    with engine.begin() as conn:
        demo.insert_network(conn, network, load_id=None)
    return engine


@pytest.fixture(scope="session")
def sqlite_engine(small_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> sa.Engine:
    """A SQLite database holding the small network."""
    path = tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
    return fill(db.create_engine(f"sqlite:///{path}"), small_csv)


def postgres_or_skip() -> None:
    """Return when PostgreSQL answers; else fail (CI asked for it) or skip, saying why."""
    admin = db.create_engine(POSTGRES_URL)
    try:
        db.check_connection(admin)
    except Exception as exc:
        if required("postgres"):
            pytest.fail(f"PostgreSQL is required but not reachable at {POSTGRES_URL}: {exc}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} ({exc}); set DASHBOARD_TEST_POSTGRES_URL to run these")
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine(small_csv: Path):
    """A throwaway PostgreSQL database holding the small network; dropped afterwards."""
    postgres_or_skip()
    with migrate.throwaway_postgres(POSTGRES_URL, "dashboard_test") as engine:
        yield fill(engine, small_csv)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> sa.Engine:
    """Each test that takes `engine` runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "postgres_engine")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium kaleido draws chart images in; without one, skip (or fail, when CI asked for browser tests)."""
    from dashboard import chart_images

    path = chart_images.browser_path()
    if path is None:
        message = "no Chromium for chart images (Debian: apt-get install chromium, or set BROWSER_PATH)"
        if required("browser"):
            pytest.fail(message)
        pytest.skip(message)
    return path
