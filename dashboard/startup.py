"""What runs before the app or the command line reads the database: the schema brought up to date, and on the
embedded default an empty database filled with the demo network. It sits above the data layer and the demo
generator, so the engine module never needs to know how demo data is made."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from dashboard.data import db, migrate
from dashboard.tools import demo


def prepare(engine: sa.Engine, progress: Callable[[float, str], None] | None = None) -> None:
    """Upgrade the schema; on the embedded default, build the demo network if the database is empty."""
    db.check_connection(engine)
    migrate.upgrade(engine)
    if engine.dialect.name == "sqlite" and db.is_embedded(str(engine.url)) and not db.has_data(engine):
        demo.build_database(engine, progress=progress)
