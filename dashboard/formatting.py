"""Numbers formatted for people, and the labels of columns and metrics."""

from __future__ import annotations

import math
import re

import numpy as np

LABELS = {
    "students_served": "Students served",
    "case_managed": "Case-managed students (tier 3)",
    "schools": "Schools and sites",
    "organisations": "Affiliates and licensed partners",
    "states": "States (incl. DC)",
    "partners": "Community partners",
    "volunteers": "Volunteers",
    "volunteer_hours": "Volunteer hours",
    "staff": "Site coordinators and staff (FTE)",
    "remained_in_school": "Remained in school",
    "promoted": "Promoted (K-11)",
    "graduated": "Graduated (seniors)",
    "attendance_goal": "Met attendance goal",
    "academic_goal": "Met academic goal",
    "behavior_goal": "Met behavior goal",
}


def compact(value: float | None) -> str:
    """1,812,345 -> '1.8M'; 146,400 -> '146.4K'; 950 -> '950'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= size:
            text = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return f"{sign}{text}{suffix}"
    return f"{sign}{value:,.0f}"


def percent(rate: float | None) -> str:
    """0.953 -> '95%'."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return "–"
    return f"{rate:.0%}"


_WHOLE_PERCENTS = np.array([f"{i}%" for i in range(101)], dtype=object)


def percents(rates: np.ndarray) -> np.ndarray:
    """percent() of every rate, as an object array; whole columns at once, for rates in 0..1 (others one by one).

    f"{rate:.0%}" multiplies by 100 in floating point and rounds half to even, as np.rint does, so the two agree.
    """
    rates = np.asarray(rates, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):  # huge or infinite rates go one by one below
        scaled = rates * 100
    whole = np.isfinite(scaled) & ~np.signbit(scaled) & (scaled <= 100)  # -0.0 reads "-0%"
    out = np.empty(rates.shape, dtype=object)
    out[whole] = _WHOLE_PERCENTS[np.rint(scaled[whole]).astype(np.int64)]
    out[~whole] = [percent(float(r)) for r in rates[~whole]]
    return out


def dollars(value: float) -> str:
    """11.6 -> '$11.60'."""
    return f"${value:,.2f}"


# Invisible, and not a place to break a line; it sits where GFM's autolinks and Streamlit's emoji, icon and
# colour shortcodes would otherwise match, since those match the text after backslash escapes are resolved.
WORD_JOINER = "\u2060"
_LINE_BREAKS = re.compile(r"[\s\x00-\x1f\x7f]+")
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character: CommonMark escapes them all
_AUTOLINK_STARTS = re.compile(r"(:|@|(?i:www)(?=\.))")


def markdown_text(text: object) -> str:
    """Outside text (names from the data, values from the URL, file names) as Markdown that shows it as written.

    The one door for such text into every Streamlit element that reads Markdown (headings, captions, info boxes,
    expander, button and page-link labels, help text). Line breaks become spaces, so no heading, list, table or
    code block can start inside it; every ASCII punctuation character is backslash-escaped, so no emphasis,
    link, image, HTML tag, entity, `$math$` or `:color[...]` directive forms; a word joiner after every `:` and
    `@` and after `www` before its `.` stops bare URLs, `www.` hosts, emails and `:emoji:` shortcodes becoming
    links or icons. It reads as written; only the invisible word joiners are added.
    """
    flat = _LINE_BREAKS.sub(" ", str(text))
    joined = _AUTOLINK_STARTS.sub(lambda m: m.group(1) + WORD_JOINER, flat)
    return _PUNCTUATION.sub(r"\\\1", joined)


def plotly_text(text: str) -> str:
    """A name from the data for a plotly label: its own tags (<a>, <b>, <br>...) shown as text, not applied."""
    return str(text).replace("<", "&lt;").replace(">", "&gt;")
