"""percents() labels whole columns exactly as percent() labels one value; markdown_text() lets no markup through."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.formatting import WORD_JOINER, markdown_text, percent, percents


def test_every_fraction_of_small_counts_reads_as_percent_reads_it() -> None:
    # Every met/eligible up to 400 students: every half-point tie (1/8, 5/8, 1/200...) that small counts make.
    rates = np.array([met / eligible for eligible in range(1, 401) for met in range(eligible + 1)])
    assert list(percents(rates)) == [percent(float(r)) for r in rates]


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=50))
def test_any_float_reads_as_percent_reads_it(values: list[float]) -> None:
    assert list(percents(np.array(values, dtype=float))) == [percent(v) for v in values]


HOSTILE = [
    "**bold** [link](http://evil.example/x) ![t](http://evil.example/t.png)",
    "see http://evil.example and HTTPS://evil.example/login",
    "www.evil.example or WWW.evil.example/path",
    "mail board@evil.example now",
    "$x$ and $$y$$",
    ":red[x] :material/home: :smile: :+1:",
    '<img src="http://evil.example/i.png"> <a href="http://evil.example">a</a> &lt;b&gt; &#42;',
    "line\n# heading\n\n- item\n1. one\n    code\n| a | b |\n===",
    "back\\slash `code` ~~gone~~ <http://evil.example>",
]
# What GFM's literal autolinks (mdast-util-gfm-autolink-literal), remark-emoji and Streamlit's directives match on
# the text once backslash escapes are resolved: none of them may find anything in what markdown_text returns.
_RESOLVED_MARKUP = [
    re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.IGNORECASE),
    re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)"),
    re.compile(r"(mailto|xmpp):[-.\w+]", re.IGNORECASE),
    re.compile(r":\+1:|:-1:|:[\w-]+:"),
    re.compile(r":[A-Za-z][\w-]*[\[{]"),
    re.compile(r":material/\w+"),
]


def _resolved(markdown: str) -> str:
    """The text a Markdown parser keeps from backslash escapes."""
    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_text_leaves_no_markup_and_reads_as_written(text: str) -> None:
    out = markdown_text(text)
    assert "\n" not in out and "\r" not in out
    unescaped = re.sub(r"\\.", "", out)
    assert not re.search(r"[!-/:-@\[-`{-~]", unescaped), unescaped  # every punctuation character is escaped
    resolved = _resolved(out)
    for pattern in _RESOLVED_MARKUP:
        assert not pattern.search(resolved), (pattern.pattern, resolved)
    assert resolved.replace(WORD_JOINER, "") == re.sub(r"\s+", " ", text)


@given(st.text())
def test_any_text_reads_as_written_once_escapes_resolve(text: str) -> None:
    resolved = _resolved(markdown_text(text))
    assert resolved.replace(WORD_JOINER, "") == re.sub(r"[\s\x00-\x1f\x7f]+", " ", text)
    assert "\n" not in resolved


def test_markdown_text_puts_word_joiners_only_where_links_and_shortcodes_start() -> None:
    assert markdown_text("Elm Street (NC)") == "Elm Street \\(NC\\)"
    assert markdown_text("a:b@c www.d") == f"a\\:{WORD_JOINER}b\\@{WORD_JOINER}c www{WORD_JOINER}\\.d"
