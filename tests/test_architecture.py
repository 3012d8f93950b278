"""The layer rule, enforced: dashboard/ is plain Python; pages hold no SQL and no caching."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_dashboard_never_imports_streamlit() -> None:
    offenders = [p.name for p in (ROOT / "dashboard").rglob("*.py") if "streamlit" in _imports(p)]
    assert offenders == []


def test_pages_hold_no_sql_and_no_caching() -> None:
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b\s", re.IGNORECASE)
    pages = list((ROOT / "app_pages").glob("*.py"))
    assert pages
    for page in pages:
        text = page.read_text()
        assert not {"sqlalchemy", "sqlite3", "psycopg"} & _imports(page), page.name
        assert not sql.search(text), page.name
        assert "cache_data" not in text and "cache_resource" not in text, page.name


def test_there_is_no_pages_folder_for_streamlit_to_run_behind_the_sign_in() -> None:
    # A fresh server runs pages/<name>.py directly for /<name> until app.py has declared navigation once.
    assert not (ROOT / "pages").exists()
