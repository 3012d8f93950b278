"""Page scripts through AppTest on the small SQLite network, with empty caches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def open_page(sqlite_engine, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], AppTest]:
    """open_page("outcomes"): that page's script alone (scope: everything unless a test sets one)."""
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    st.cache_data.clear()
    st.cache_resource.clear()
    return lambda name: AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=60)
