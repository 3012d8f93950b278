"""One registry of settings, each with its default and help text.

A setting is read from the environment (``DASHBOARD_<NAME>``), else from
``.streamlit/secrets.toml`` (``[dashboard] name = ...``, or ``[database] url``), else its default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
DEMO_COOKIE_KEY = "demo-cookie-key-change-me-before-production"  # 32+ bytes, as HS256 wants


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"DASHBOARD_{self.name.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        "",
        "SQLAlchemy URL of the database. Empty: a SQLite file under data/, built from demo data on first start.",
    ),
    Setting("data_dir", str(DATA_DIR), "Folder for the embedded SQLite database and generated demo tables."),
    Setting(
        "suppression_threshold", 10, "Counts and rates resting on fewer students than this are shown as suppressed."
    ),
    Setting(
        "top_coding_below",
        300,
        "Rates on groups smaller than this are top/bottom coded near 0 and 100% "
        "(>=80% of 10-19, >=90% of 20-39, >=95% of 40-99, >=98% of 100-299; the same at the bottom).",
    ),
    Setting(
        "cookie_key",
        DEMO_COOKIE_KEY,
        "Key that signs the sign-in cookie. Must be set to a long random string in production.",
    ),
    Setting("cookie_expiry_days", 1, "Days a sign-in cookie stays valid."),
    Setting(
        "password_sign_in",
        True,
        "Whether the username-and-password form is offered. Off: only single sign-on ([auth] in secrets.toml).",
    ),
    Setting(
        "idle_timeout_minutes",
        120,
        "Minutes without activity after which a session is signed out, whichever way it signed in (0: never).",
    ),
    Setting("smtp_host", "", "Mail server for `briefs send`. Empty: briefs are not sent by email."),
    Setting("smtp_port", 587, "Port of the mail server."),
    Setting("smtp_security", "starttls", "How the mail connection is secured: starttls, ssl, or none."),
    Setting("smtp_sender", "", "The From address of emailed briefs."),
    Setting("smtp_username", "", "Account on the mail server (empty: no login)."),
    Setting("smtp_password", "", "Its password; read from the environment or secrets, never printed or logged."),
    Setting("max_failed_logins", 5, "Failed sign-ins after which an account is locked."),
    Setting("lockout_minutes", 15, "Minutes an account stays locked after too many failed sign-ins."),
    Setting(
        "tile_url",
        "",
        "Map tile URL template (e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png). Empty: no tiles, layers on a plain background.",
    ),
    Setting("tile_attribution", "", "Attribution text shown for the map tiles."),
    Setting("max_upload_mb", 100, "Largest file the loader reads, in megabytes."),
    # Limits on what a file holds, checked from its own metadata before it is read. Each is sized for the demo
    # network's biggest table, supports (500,364 rows x 6 columns at scale 1), at ten times its size.
    Setting(
        "max_unpacked_mb",
        1000,
        "Largest an XLSX workbook may be once unzipped, in megabytes (a full 1,048,576-row sheet of a 6-column "
        "table is about 300 MB).",
    ),
    Setting(
        "max_compression_ratio",
        100,
        "Largest ratio of unzipped to zipped size of a part of an XLSX workbook (real sheets are about 10).",
    ),
    Setting("max_columns", 200, "Most columns a file or sheet may have (the widest contract table has 11)."),
    Setting(
        "max_cells",
        30_000_000,
        "Most cells (rows x columns) a file or sheet may have (supports at ten times the demo: 5 million rows x 6).",
    ),
    Setting(
        "load_wait_seconds",
        60,
        "Seconds a load or undo waits for another one on the same database to finish before it gives up.",
    ),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def _secrets() -> dict[str, Any]:
    path = ROOT / ".streamlit" / "secrets.toml"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def get(name: str) -> Any:
    """The value of one setting, coerced to its default's type."""
    setting = _BY_NAME[name]
    raw: Any = os.environ.get(setting.env)
    if raw is None:
        secrets = _secrets()
        if name == "database_url" and "url" in secrets.get("database", {}):
            raw = secrets["database"]["url"]
        else:
            raw = secrets.get("dashboard", {}).get(name)
    if raw is None:
        return setting.default
    kind = type(setting.default)
    if kind is bool and isinstance(raw, str):  # bool("false") would be True
        if raw.strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ConfigError(f"{setting.env} must be true or false, got {raw!r}")
        return raw.strip().lower() in ("1", "true", "yes", "on")
    try:
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{setting.env} must be a {kind.__name__}, got {raw!r}") from exc


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says what to set."""
