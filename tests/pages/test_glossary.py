"""The Glossary page through AppTest: it names every figure the pages label, by its source, and finds terms."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import formatting


@pytest.fixture
def app(open_page) -> AppTest:
    return open_page("glossary")


def _terms(at: AppTest) -> list[str]:
    """The terms as the page prints them: the bold text opening each entry."""
    return list(_entries(at))


def _entries(at: AppTest) -> dict[str, str]:
    """term -> its whole entry (term, meaning, source) as printed."""
    return {m.value.split("**")[1]: m.value for m in at.markdown if m.value.startswith("**")}


def _as_written(label: str) -> str:
    return formatting.markdown_text(label)


def test_every_headline_figure_of_the_overview_and_roi_pages_is_explained(app: AppTest, open_page) -> None:
    app.run()
    assert not app.exception
    explained = set(_terms(app))
    overview = open_page("overview")
    overview.run()
    roi = open_page("roi")
    roi.run()
    labels = {m.label for m in [*overview.metric, *roi.metric]} - {"Finding"}  # a study's finding is words
    assert len(labels) >= 10
    missing = {label for label in labels if _as_written(label) not in explained}
    assert not missing, missing


def test_each_figure_named_by_its_source_says_which_report_it_comes_from(app: AppTest) -> None:
    app.run()
    text = _entries(app)
    pairs = {
        "Volunteer hours (schools' reports)": "Schools' yearly reports",
        "Volunteer hours (partners' reports)": "Partners' reports",
        "In-kind gifts (partners' reports)": "Partners' reports",
        "In-kind revenue (affiliates' books)": "Affiliates' books",
    }
    for term, source in pairs.items():
        entry = text[_as_written(term)]
        assert f"Source: {formatting.markdown_text(source)}" in entry, entry


def test_a_search_finds_exactly_the_entries_that_hold_the_word_and_one_with_no_match_says_so(app: AppTest) -> None:
    app.run()
    everything = _entries(app)
    app.text_input(key="glossary_search").set_value("HOURS").run()
    found = _entries(app)
    holding = {t for t, entry in everything.items() if "hours" in entry.split(":gray[")[0].lower()}
    assert set(found) == holding and 0 < len(found) < len(everything)
    app.text_input(key="glossary_search").set_value("no such word zzz").run()
    assert not _entries(app)
    assert "No term or meaning holds" in app.info[0].value


def test_the_terms_are_offered_as_a_csv(app: AppTest) -> None:
    app.run()
    assert "dl_glossary" in {b.key for b in app.get("download_button")}
