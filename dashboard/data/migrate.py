"""Bring a database's schema to the newest Alembic revision, and sum the rollups of a database loaded before the
newest rollup table existed. It sits above `db` and `rollup` (both of which it uses), so neither needs the other."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from dashboard.data import db, rollup

MIGRATIONS = Path(__file__).parent / "migrations"

ROLLUPS_COMPLETE = "0008"  # the revision that created the last rollup table (published_cells)


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it on an empty database)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        # A database loaded before the newest rollup existed gets every rollup summed once, in the same transaction
        # (the migrations only create the tables: the refresh needs all of them).
        if before is not None and before < ROLLUPS_COMPLETE:
            rollup.refresh(conn)


@contextlib.contextmanager
def throwaway_postgres(admin_url: str | sa.URL, prefix: str) -> Iterator[sa.Engine]:
    """A new, upgraded PostgreSQL database on the server of `admin_url`, dropped (with its sessions) afterwards."""
    admin = db.create_engine(str(admin_url) if isinstance(admin_url, str) else admin_url.render_as_string(False))
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = db.create_engine(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
