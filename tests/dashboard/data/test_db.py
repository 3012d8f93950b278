"""Migrations and bad configuration: one line that says what to fix, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from dashboard import config
from dashboard.data import db, migrate

ROOT = Path(__file__).resolve().parents[3]


def test_upgrade_builds_every_table_and_is_idempotent(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    names = set(sa.inspect(engine).get_table_names())
    assert set(db.metadata.tables) <= names
    assert "alembic_version" in names


def test_database_refuses_met_above_eligible(sqlite_engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), sqlite_engine.begin() as conn:
        school = conn.execute(sa.select(db.schools.c.school_id).limit(1)).scalar_one()
        conn.execute(db.outcomes.insert().values(school_id=school, school_year="2030-31", tier=2,
                                                 metric="promoted", eligible=5, met=6))  # fmt: skip


def test_unknown_dialect_is_one_line() -> None:
    with pytest.raises(config.ConfigError, match="not a database URL"):
        db.create_engine("oracle+nosuchdriver://x/y")


def test_unreachable_server_is_one_line() -> None:
    engine = db.create_engine("postgresql://nobody@127.0.0.1:9/nowhere")
    with pytest.raises(config.ConfigError, match="cannot reach the database") as err:
        db.check_connection(engine)
    assert "\n" not in str(err.value)


def test_read_only_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    # CI runs as root, which ignores folder permissions: ask os.access what an ordinary user would get.
    monkeypatch.setattr(db.os, "access", lambda path, mode: Path(path) != folder)
    with pytest.raises(config.ConfigError, match="not writable"):
        db.create_engine(f"sqlite:///{folder / 'x.sqlite3'}")


def test_cli_reports_bad_configuration_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "DASHBOARD_DATABASE_URL": "mysql+nosuchdriver://x/y"}
    run = subprocess.run([sys.executable, "-m", "dashboard", "db", "upgrade"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.startswith("error: DASHBOARD_DATABASE_URL is not a database URL")
    assert "Traceback" not in run.stderr


def test_cli_help_lists_the_commands() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "dashboard", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0
    for command in ("demo", "db", "users", "load", "bench"):
        assert command in run.stdout


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_SUPPRESSION_THRESHOLD", "11")
    assert config.get("suppression_threshold") == 11
    monkeypatch.setenv("DASHBOARD_SUPPRESSION_THRESHOLD", "eleven")
    with pytest.raises(config.ConfigError, match="DASHBOARD_SUPPRESSION_THRESHOLD must be a int"):
        config.get("suppression_threshold")
