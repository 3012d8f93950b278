"""The database: SQLAlchemy Core tables for the outcome-table contract, the engine, migrations."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from dashboard import config

ID = String(40)
YEAR = String(7)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _load_fk() -> Column:
    return Column("load_id", Integer, ForeignKey("loads.load_id"), nullable=True)


loads = Table(
    "loads",
    metadata,
    Column("load_id", Integer, primary_key=True, autoincrement=True),
    Column("loaded_by", String(80), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("files", Text, nullable=False, doc="JSON list of {name, sha256}"),
    Column("rows_added", Integer, nullable=False, server_default="0"),
    Column("rows_changed", Integer, nullable=False, server_default="0"),
    Column("status", String(20), nullable=False, doc="loaded, undone"),
    Column("summary", Text, nullable=False, server_default=""),
)

# Previous versions of rows a load replaced, so the load can be undone exactly. Rows a load added are not listed
# one by one: a single row with row_key '*' says the load added rows to that table, and undo deletes the rows that
# still carry the load's load_id (older loads, recorded one row per added row, undo as before).
load_changes = Table(
    "load_changes",
    metadata,
    Column("change_id", Integer, primary_key=True, autoincrement=True),
    Column("load_id", Integer, ForeignKey("loads.load_id"), nullable=False, index=True),
    Column("table_name", String(40), nullable=False),
    Column("row_key", Text, nullable=False, doc="JSON of the primary key, or '*': the load added rows to the table"),
    Column("previous", Text, nullable=True, doc="JSON of the row before the load; NULL when the load added it"),
)

# One row: a number every load, undo and rebuild of the figures raises in its own transaction (rollup.refresh).
# Each app replica keys its cached reads on it, so a change made through any replica, or the command line, is
# seen by every replica at its next rerun without anything being cleared.
data_version = Table(
    "data_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

affiliates = Table(
    "affiliates",
    metadata,
    Column("affiliate_id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("state", String(2), nullable=False, index=True),
    Column("city", String(100), nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("approximate_location", Boolean, nullable=False, server_default=sa.false()),
    _load_fk(),
    CheckConstraint("kind IN ('affiliate', 'licensed_partner', 'state_office')", name="kind"),
)

schools = Table(
    "schools",
    metadata,
    Column("school_id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("affiliate_id", ID, ForeignKey("affiliates.affiliate_id"), nullable=False, index=True),
    Column("state", String(2), nullable=False, index=True),
    Column("city", String(100), nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("approximate_location", Boolean, nullable=False, server_default=sa.false()),
    Column("level", String(20), nullable=False),
    Column("title_i", Boolean, nullable=False),
    Column("locale", String(10), nullable=False),
    _load_fk(),
    CheckConstraint(
        "level IN ('elementary', 'middle', 'high', 'multi_level', 'alternative', 'community_site')", name="level"
    ),
    CheckConstraint("locale IN ('city', 'suburb', 'town', 'rural')", name="locale"),
)

partners = Table(
    "partners",
    metadata,
    Column("partner_id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category", String(20), nullable=False),
    Column("state", String(2), nullable=False),
    Column("city", String(100), nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("approximate_location", Boolean, nullable=False, server_default=sa.false()),
    _load_fk(),
)

school_years = Table(
    "school_years",
    metadata,
    Column("school_id", ID, ForeignKey("schools.school_id"), primary_key=True),
    Column("school_year", YEAR, primary_key=True, index=True),
    Column("enrollment", Integer, nullable=False),
    Column("students_served", Integer, nullable=False),
    Column("tier1_students", Integer, nullable=False),
    Column("tier2_students", Integer, nullable=False),
    Column("tier3_students", Integer, nullable=False),
    Column("site_coordinators", Float, nullable=False),
    Column("volunteers", Integer, nullable=False),
    Column("volunteer_hours", Float, nullable=False),
    _load_fk(),
    CheckConstraint("students_served >= 0 AND students_served <= enrollment", name="served"),
    CheckConstraint(
        "tier1_students >= 0 AND tier2_students >= 0 AND tier3_students >= 0"
        " AND tier1_students <= students_served AND tier2_students <= students_served"
        " AND tier3_students <= students_served",
        name="tiers",
    ),
    CheckConstraint("site_coordinators >= 0 AND volunteers >= 0 AND volunteer_hours >= 0", name="staff"),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("school_id", ID, ForeignKey("schools.school_id"), primary_key=True),
    Column("school_year", YEAR, primary_key=True),
    Column("tier", Integer, primary_key=True),
    Column("metric", String(20), primary_key=True),
    Column("eligible", Integer, nullable=False),
    Column("met", Integer, nullable=False),
    _load_fk(),
    CheckConstraint("met >= 0 AND met <= eligible", name="met"),
    CheckConstraint("tier IN (2, 3)", name="tier"),
    Index("ix_outcomes_year_tier_metric", "school_year", "tier", "metric"),
)

supports = Table(
    "supports",
    metadata,
    Column("school_id", ID, ForeignKey("schools.school_id"), primary_key=True),
    Column("school_year", YEAR, primary_key=True),
    Column("tier", Integer, primary_key=True),
    Column("category", String(30), primary_key=True),
    Column("students", Integer, nullable=False),
    Column("services", Integer, nullable=False),
    _load_fk(),
    CheckConstraint("students >= 0 AND services >= 0", name="counts"),
    Index("ix_supports_year", "school_year"),
)

partnerships = Table(
    "partnerships",
    metadata,
    Column("partner_id", ID, ForeignKey("partners.partner_id"), primary_key=True),
    Column("school_id", ID, ForeignKey("schools.school_id"), primary_key=True, index=True),
    Column("school_year", YEAR, primary_key=True, index=True),
    Column("category", String(30), primary_key=True),
    Column("in_kind_usd", Float, nullable=False),
    Column("volunteer_hours", Float, nullable=False),
    _load_fk(),
    CheckConstraint("in_kind_usd >= 0 AND volunteer_hours >= 0", name="amounts"),
    # Distinct partners per year read from the index alone.
    Index("ix_partnerships_year_partner", "school_year", "partner_id"),
)

finances = Table(
    "finances",
    metadata,
    Column("affiliate_id", ID, ForeignKey("affiliates.affiliate_id"), primary_key=True),
    Column("school_year", YEAR, primary_key=True, index=True),
    Column("line", String(10), primary_key=True),
    Column("category", String(20), primary_key=True),
    Column("amount_usd", Float, nullable=False),
    _load_fk(),
    CheckConstraint("amount_usd >= 0", name="amount"),
    CheckConstraint("line IN ('revenue', 'expense')", name="line"),
)

# Rollups: the fact tables summed by school year, state and affiliate, rebuilt inside every load's and
# undo's transaction (dashboard/data/rollup.py). National, state and affiliate views read these thousands of
# rows instead of the millions below them; filters on school attributes still read the fact tables.
outcome_rollup = Table(
    "outcome_rollup",
    metadata,
    Column("school_year", YEAR, primary_key=True),
    Column("state", String(2), primary_key=True),
    Column("affiliate_id", ID, primary_key=True),
    Column("tier", Integer, primary_key=True),
    Column("metric", String(20), primary_key=True),
    Column("eligible", BigInteger, nullable=False),
    Column("met", BigInteger, nullable=False),
)

school_year_rollup = Table(
    "school_year_rollup",
    metadata,
    Column("school_year", YEAR, primary_key=True),
    Column("state", String(2), primary_key=True),
    Column("affiliate_id", ID, primary_key=True),
    Column("schools", Integer, nullable=False),
    Column("enrollment", BigInteger, nullable=False),
    Column("students_served", BigInteger, nullable=False),
    Column("tier1_students", BigInteger, nullable=False),
    Column("tier2_students", BigInteger, nullable=False),
    Column("tier3_students", BigInteger, nullable=False),
    Column("site_coordinators", Float, nullable=False),
    Column("volunteers", BigInteger, nullable=False),
    Column("volunteer_hours", Float, nullable=False),
)

# Distinct partners are not additive, so they are counted once per grain: the nation, each state, each affiliate.
partner_rollup = Table(
    "partner_rollup",
    metadata,
    Column("school_year", YEAR, primary_key=True),
    Column("grain", String(10), primary_key=True, doc="national, state or affiliate"),
    Column("place", ID, primary_key=True, doc="'' for the nation, else the state code or affiliate id"),
    Column("partners", Integer, nullable=False),
    Column("schools_reached", Integer, nullable=False),
    Column("in_kind_usd", Float, nullable=False),
    Column("volunteer_hours", Float, nullable=False),
)

# Per school: each school's outcomes with the tiers summed, what school rates, peer groups and percentile ranks
# are read from (the Schools page) instead of grouping the outcome rows on every view.
school_outcome_rollup = Table(
    "school_outcome_rollup",
    metadata,
    Column("metric", String(20), primary_key=True),
    Column("school_year", YEAR, primary_key=True),
    Column("school_id", ID, primary_key=True),
    Column("eligible", BigInteger, nullable=False),
    Column("met", BigInteger, nullable=False),
)

# Every figure a page can show (nation, state, affiliate, school; slices; tiers) with its suppression decision,
# decided jointly over all of them in the transaction of the load that changed them (dashboard/disclosure.py).
published_cells = Table(
    "published_cells",
    metadata,
    Column("school_year", YEAR, primary_key=True),
    Column("measure", String(20), primary_key=True, doc="an outcome metric, 'students' or 'enrollment'"),
    Column("unit", String(10), primary_key=True, doc="nation, state, affiliate or school"),
    Column("slice", String(60), primary_key=True, doc="'' for every school, else 'level:high', 'peer:high/city/true'"),
    Column("tier", Integer, primary_key=True, doc="0: the tiers together"),
    Column("unit_id", ID, primary_key=True),
    Column("state", String(2), nullable=False),
    Column("affiliate_id", ID, nullable=False),
    Column("size", BigInteger, nullable=False, doc="eligible students, or the count"),
    Column("met", BigInteger, nullable=False),
    Column("status", String(6), nullable=False, doc="shown, coded, small or hidden"),
)

# The Partners page's national view (every school, any school years): per partner, and per partner category x
# support category. Partner names and categories of the per-partner rows are joined when read.
partner_year_rollup = Table(
    "partner_year_rollup",
    metadata,
    Column("school_year", YEAR, primary_key=True),
    Column("partner_id", ID, primary_key=True),
    Column("schools_reached", Integer, nullable=False),
    Column("in_kind_usd", Float, nullable=False),
    Column("volunteer_hours", Float, nullable=False),
    # The top partners of a year read in order from the index (largest in-kind value first, ties by id).
    Index("ix_partner_year_rollup_top", "school_year", sa.desc("in_kind_usd"), "partner_id"),
)

partner_category_rollup = Table(
    "partner_category_rollup",
    metadata,
    Column("school_year", YEAR, primary_key=True),
    Column("partner_category", String(20), primary_key=True),
    Column("support_category", String(30), primary_key=True, doc="'' for every support category together"),
    Column("partners", Integer, nullable=False),
    Column("schools_reached", Integer, nullable=False),
    Column("in_kind_usd", Float, nullable=False),
    Column("volunteer_hours", Float, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("username", String(80), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("affiliate_ids", Text, nullable=False, server_default="", doc="comma-separated"),
    Column("failed_attempts", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True)),
    # Sign-in cookies issued before this moment are refused: sign-out and password reset end every session.
    Column("sessions_valid_after", DateTime(timezone=True)),
    CheckConstraint("role IN ('admin', 'board', 'fundraiser', 'affiliate_lead')", name="role"),
)

# Briefs sent by email (`python -m dashboard briefs send`): each row is one account's brief of one place. A failed
# send keeps the row due, with its error, so the next run tries again.
brief_subscriptions = Table(
    "brief_subscriptions",
    metadata,
    Column("subscription_id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(80), ForeignKey("users.username", ondelete="CASCADE"), nullable=False),
    Column("place", String(80), nullable=False, doc="'' the nation, 'state:NC', 'affiliate:NC-CHARLOTTE'"),
    Column("format", String(8), nullable=False),
    Column("cadence", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_sent_at", DateTime(timezone=True)),
    Column("last_sent_load", Integer, doc="the newest load in place when it was last sent"),
    Column("failures", Integer, nullable=False, server_default="0", doc="failed sends since the last success"),
    Column("last_error", Text),
    CheckConstraint("format IN ('pdf', 'pptx')", name="format"),
    CheckConstraint("cadence IN ('monthly', 'after_load')", name="cadence"),
    UniqueConstraint("username", "place", "format", name="one_per_place_and_format"),
)

# Failed sign-ins of usernames that are not accounts, counted and locked like an account's, so the answers
# ("wrong password", "locked") never tell which usernames exist.
unknown_sign_ins = Table(
    "unknown_sign_ins",
    metadata,
    Column("username", String(80), primary_key=True),
    Column("failed_attempts", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True)),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("username", String(80), nullable=False),
    Column("event", String(40), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
)

# Facts about the database itself, e.g. whether it holds the synthetic demo network.
meta = Table(
    "meta",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)

CONTRACT_TABLES: tuple[Table, ...] = (
    affiliates,
    schools,
    partners,
    school_years,
    outcomes,
    supports,
    partnerships,
    finances,
)


def database_url() -> str:
    """The configured URL, or the embedded SQLite file under the data folder."""
    url = config.get("database_url")
    if url:
        return url
    return f"sqlite:///{Path(config.get('data_dir')) / 'dashboard.sqlite3'}"


def is_embedded(url: str) -> bool:
    """Whether the URL is the embedded default that the demo generator may build."""
    return not config.get("database_url") and url.startswith("sqlite")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def create_engine(url: str | None = None) -> sa.Engine:
    """A new engine for the URL, with SQLite set up for concurrent readers.

    Raises ConfigError with a one-line message when the URL is malformed or its
    dialect is unknown.
    """
    url = url or database_url()
    try:
        parsed = sa.make_url(url)
        if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            folder = Path(parsed.database).parent
            folder.mkdir(parents=True, exist_ok=True)
            if not os.access(folder, os.W_OK):
                raise config.ConfigError(
                    f"the data folder {folder} is not writable; set DASHBOARD_DATA_DIR to a writable folder"
                )
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    except config.ConfigError:
        raise
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise config.ConfigError(
            f"DASHBOARD_DATABASE_URL is not a database URL this app can use ({exc.__class__.__name__}: {exc}); "
            "use sqlite:///path or postgresql://user@host/db"
        ) from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class DatabaseUnreachable(config.ConfigError):
    """The database did not answer: a server down or refusing, not a setting to fix."""


def check_connection(engine: sa.Engine) -> None:
    """Raise DatabaseUnreachable (a ConfigError) with one line saying what to fix when the database can't be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnreachable(
            f"cannot reach the database at {engine.url.render_as_string(hide_password=True)}: {reason}. "
            "Check DASHBOARD_DATABASE_URL and that the server is running."
        ) from None


def has_data(engine: sa.Engine) -> bool:
    """Whether the schema exists and holds at least one school."""
    if not sa.inspect(engine).has_table("schools"):
        return False
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schools)).scalar_one() > 0


def is_demo(engine: sa.Engine) -> bool:
    """Whether the database holds the synthetic demo network."""
    if not sa.inspect(engine).has_table("meta"):
        return False
    with engine.connect() as conn:
        value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "demo")).scalar_one_or_none()
    return value == "true"


@functools.cache
def engine() -> sa.Engine:
    """The process's one engine for the configured database."""
    return create_engine()


INSERT_CHUNK = 20_000  # rows per executemany: bounded memory for the driver, few round trips


def bulk_insert(conn: sa.Connection, t: sa.Table, columns: list[str], rows: list[tuple]) -> None:
    """Insert `rows` (tuples in `columns` order) on the caller's transaction by the backend's fastest path: COPY on
    PostgreSQL, chunked executemany of plain SQL on SQLite, chunked Core inserts elsewhere."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        cur = conn.connection.driver_connection.cursor()
        with cur, cur.copy(f"COPY {t.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    if conn.dialect.paramstyle == "qmark":
        sql = f"INSERT INTO {t.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        for i in range(0, len(rows), INSERT_CHUNK):
            conn.exec_driver_sql(sql, rows[i : i + INSERT_CHUNK])
        return
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    for i in range(0, len(records), INSERT_CHUNK):
        conn.execute(t.insert(), records[i : i + INSERT_CHUNK])
