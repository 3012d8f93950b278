"""Who may open which page: the table in ../shared/DESIGN.md, written out independently of dashboard.access."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import access
from dashboard.data import users

ROOT = Path(__file__).resolve().parents[1]
VIEWER_PAGES = {"overview", "outcomes", "map", "profile", "partners", "roi", "glossary"}
EXPECTED = {
    "admin": VIEWER_PAGES | {"schools", "data", "admin"},
    "board": VIEWER_PAGES | {"schools"},
    "fundraiser": VIEWER_PAGES,
    "affiliate_lead": VIEWER_PAGES | {"schools", "data"},
}


def _names(specs: list[access.PageSpec]) -> set[str]:
    return {Path(p.script).stem for p in specs}


@pytest.mark.parametrize("role", users.ROLES)
def test_each_role_gets_exactly_its_pages_and_every_other_url_is_refused(role: str) -> None:
    assert _names(access.allowed(role)) == EXPECTED[role]
    assert _names(access.refused(role)) == _names(list(access.PAGES)) - EXPECTED[role]


def test_an_unknown_role_gets_nothing() -> None:
    assert access.allowed("superuser") == []
    assert access.allowed(None) == []


def test_every_page_exists_has_a_unique_url_and_the_overview_is_the_default() -> None:
    assert all((ROOT / p.script).exists() for p in access.PAGES)
    paths = [p.url_path for p in access.PAGES]
    assert len(paths) == len(set(paths))
    assert [p.script for p in access.PAGES if not p.url_path] == ["app_pages/overview.py"]
