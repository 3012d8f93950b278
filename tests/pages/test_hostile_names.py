"""Names from the data and values from the URL holding Markdown, links, math and directives reach every page as text.

A copy of the small network gets hostile affiliate and school names; each page that shows them, and each notice
that quotes a URL value, is rendered, and no element that reads Markdown may hold a hostile fragment unescaped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.formatting import markdown_text

ROOT = Path(__file__).resolve().parents[2]
YEAR = "2022-23"
HOSTILE = (
    "**bold** [link](http://evil.example/a) ![t](http://evil.example/t.png) http://evil.example/b "
    "www.evil.example $x$ :red[x] :smile: board@evil.example <b>tag</b>"
)
# What would become markup, a link, an image, math, colour or an emoji if it reached Markdown as it is.
FRAGMENTS = ("**bold**", "[link](", "![t]", "http://", "www.", "$x$", ":red[", ":smile:", "@evil", "<b>")
MARKDOWN_ELEMENTS = ("markdown", "caption", "subheader", "header", "title", "info", "warning", "error", "success")


@pytest.fixture(scope="module")
def hostile(sqlite_engine: sa.Engine, raw, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, list[str]]:
    """A copy of the small network with hostile names; (database URL, affiliate id, its two renamed school ids)."""
    schools = raw["schools"]
    affiliate = str(schools["affiliate_id"].value_counts().index[0])
    mine = schools[schools["affiliate_id"] == affiliate]
    # A school without seniors and a high school: the Schools page names the first as having no graduation data.
    high = mine["level"] == "high"
    ids = [str(mine.loc[~high, "school_id"].min()), str(mine.loc[high, "school_id"].min())]
    path = tmp_path_factory.mktemp("hostile") / "hostile.sqlite3"
    with sqlite3.connect(sqlite_engine.url.database) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE affiliates SET name = ? WHERE affiliate_id = ?", (f"Aff {HOSTILE}", affiliate))
        for n, school_id in enumerate(ids):
            conn.execute("UPDATE schools SET name = ? WHERE school_id = ?", (f"School{n} {HOSTILE}", school_id))
    return f"sqlite:///{path}", affiliate, ids


@pytest.fixture
def open_hostile(hostile, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], AppTest]]:
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", hostile[0])
    st.cache_data.clear()
    st.cache_resource.clear()
    yield lambda name: AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=60)
    st.cache_data.clear()
    st.cache_resource.clear()


def _markdown_texts(at: AppTest) -> list[str]:
    """Every text the page handed to an element that reads Markdown: bodies, and button and expander labels."""
    texts = [e.value for kind in MARKDOWN_ELEMENTS for e in at.get(kind)]
    texts += [e.label for e in at.button] + [e.proto.label for e in at.get("expandable")]
    return [str(t) for t in texts]


def _assert_plain(at: AppTest, must_show: list[str]) -> None:
    assert not at.exception, at.exception
    texts = _markdown_texts(at)
    for text in texts:
        for fragment in FRAGMENTS:
            assert fragment not in text, (fragment, text)
    joined = "\n".join(texts)
    for expected in must_show:  # the names did reach the page, escaped
        assert expected in joined, (expected, texts)


def test_profile_shows_the_affiliate_name_as_text(open_hostile, hostile) -> None:
    _, affiliate, _ = hostile
    at = open_hostile("profile")
    at.query_params["affiliate"] = affiliate
    at.query_params["year"] = YEAR
    at.run()
    _assert_plain(at, [markdown_text(f"Aff {HOSTILE}")])


def test_outcomes_at_the_affiliate_shows_school_and_affiliate_names_as_text(open_hostile, hostile, raw) -> None:
    _, affiliate, _ = hostile
    state = str(raw["affiliates"].set_index("affiliate_id").loc[affiliate, "state"])
    at = open_hostile("outcomes")
    at.query_params.update(state=state, affiliate=affiliate, year=YEAR)
    at.run()
    _assert_plain(at, [markdown_text(f"Aff {HOSTILE}")])
    assert markdown_text(f"Aff {HOSTILE}") in [b.label for b in at.button]  # the breadcrumb


def test_schools_shows_picked_school_names_as_text(open_hostile, hostile) -> None:
    _, _, ids = hostile
    at = open_hostile("schools")
    at.query_params.update(school=ids, metric="graduated", year=YEAR)
    at.run()
    _assert_plain(at, [markdown_text(f"School0 {HOSTILE}")])


@pytest.mark.parametrize(
    ("page", "params"),
    [
        ("outcomes", {"state": HOSTILE}),
        ("outcomes", {"affiliate": HOSTILE}),
        ("profile", {"affiliate": HOSTILE}),
        ("schools", {"metric": HOSTILE, "school": HOSTILE}),
        ("overview", {"year": HOSTILE, "state": HOSTILE, "span": HOSTILE, "aff": HOSTILE}),
    ],
)
def test_url_values_in_notices_are_text(open_hostile, page: str, params: dict[str, str]) -> None:
    at = open_hostile(page)
    at.query_params.update(params)
    at.run()
    _assert_plain(at, [])
    assert [e for e in at.info if "evil" in e.value], "a notice quotes the URL value"


def test_the_escaped_name_reads_as_the_name() -> None:
    shown = markdown_text(HOSTILE)
    assert pd.Series([shown]).str.replace(r"\\(.)", r"\1", regex=True).str.replace("\u2060", "")[0] == HOSTILE
