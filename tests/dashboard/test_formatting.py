"""percents() labels whole columns exactly as percent() labels one value, and no rate reads 100% or 0% unless it
is; compact() keeps three figures; points() never reads -0.0; markdown_text() lets no markup through."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.formatting import WORD_JOINER, compact, markdown_text, percent, percents, points


def test_every_fraction_of_small_counts_reads_as_percent_reads_it() -> None:
    # Every met/eligible up to 400 students: every half-point tie (1/8, 5/8, 1/200...) that small counts make.
    rates = np.array([met / eligible for eligible in range(1, 401) for met in range(eligible + 1)])
    assert list(percents(rates)) == [percent(float(r)) for r in rates]


@settings(deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=50))
def test_any_float_reads_as_percent_reads_it(values: list[float]) -> None:
    assert list(percents(np.array(values, dtype=float))) == [percent(v) for v in values]


def test_no_rate_reads_all_or_none_unless_it_is() -> None:
    # Every met of every eligible up to 2,000 students: "100%" only for all of them, "0%" only for none.
    for eligible in range(1, 2001):
        for met in {0, 1, eligible - 1, eligible}:
            label = percent(met / eligible)
            assert (label == "100%") == (met == eligible), (met, eligible, label)
            assert (label == "0%") == (met == 0), (met, eligible, label)
            assert float(label.rstrip("%")) == pytest.approx(met / eligible * 100, abs=0.5), (met, eligible, label)
    assert percent(680 / 683) == "99.6%"
    assert percent(0.9996) == "99.9%"
    assert percent(0.004) == "0.4%"
    assert percent(0.953) == "95%"


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (2_050_000, "2.05M"),
        (1_812_345, "1.81M"),
        (146_400, "146K"),
        (441_900, "442K"),
        (20_944, "20.9K"),
        (999_950, "1M"),
        (1_000, "1K"),
        (950, "950"),
        (-1_234, "-1.23K"),
        (31_400_000, "31.4M"),
        (989_710, "990K"),
    ],
)
def test_compact_keeps_three_figures(value: float, label: str) -> None:
    assert compact(value) == label


def test_compact_is_within_half_a_unit_of_its_third_figure() -> None:
    suffixes = {"K": 1e3, "M": 1e6, "B": 1e9}
    for value in [1_000 + 7 * i**3 for i in range(0, 5000, 7)]:
        label = compact(value)
        number = float(label[:-1]) * suffixes[label[-1]] if label[-1] in suffixes else float(label.replace(",", ""))
        digits = len(str(int(value))) - 3  # the place of the third significant figure
        assert abs(number - value) <= 0.5 * 10**digits + 1e-6, (value, label)


def test_points_never_reads_minus_zero() -> None:
    assert [points(v) for v in (-0.04, -0.0, 0.0, 0.04, 0.05001, -0.06, 1.25)] == [
        "0.0", "0.0", "0.0", "0.0", "+0.1", "-0.1", "+1.2",
    ]  # fmt: skip


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


@settings(deadline=None)  # a shared CI machine can stall any one example past hypothesis' 200 ms
@given(st.text())
def test_any_text_reads_as_written_once_escapes_resolve(text: str) -> None:
    resolved = _resolved(markdown_text(text))
    # Word joiners are invisible: those markdown_text adds, and any the text held, are set aside on both sides.
    assert resolved.replace(WORD_JOINER, "") == re.sub(r"[\s\x00-\x1f\x7f]+", " ", text).replace(WORD_JOINER, "")
    assert "\n" not in resolved


def test_a_word_joiner_in_the_text_is_kept() -> None:
    assert _resolved(markdown_text(WORD_JOINER)) == WORD_JOINER


def test_markdown_text_puts_word_joiners_only_where_links_and_shortcodes_start() -> None:
    assert markdown_text("Elm Street (NC)") == "Elm Street \\(NC\\)"
    assert markdown_text("a:b@c www.d") == f"a\\:{WORD_JOINER}b\\@{WORD_JOINER}c www{WORD_JOINER}\\.d"
