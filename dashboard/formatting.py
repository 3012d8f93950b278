"""Numbers formatted for people, and the labels of columns and metrics."""

from __future__ import annotations

import datetime as dt
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
    "volunteer_hours": "Volunteer hours (schools' reports)",
    "staff": "Site coordinators and staff (FTE)",
    "remained_in_school": "Remained in school",
    "promoted": "Promoted (K-11)",
    "graduated": "Graduated (seniors)",
    "attendance_goal": "Met attendance goal",
    "academic_goal": "Met academic goal",
    "behavior_goal": "Met behavior goal",
}


_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"), (1.0, ""))


def compact(value: float | None) -> str:
    """Three significant figures with a suffix: 2,050,000 -> '2.05M'; 1,812,345 -> '1.81M'; 146,400 -> '146K';
    20,944 -> '20.9K'; 999,950 -> '1M'; under 1,000 the whole number, 950 -> '950'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if round(value) < 1000:
        return f"{sign}{value:,.0f}"
    for i, (size, suffix) in enumerate(_SUFFIXES):
        if value >= size:
            scaled = value / size
            text = f"{scaled:.{2 if scaled < 10 else 1 if scaled < 100 else 0}f}"
            if float(text) >= 1000 and i > 0:  # 999,950 rounds to 1000K: that is 1M
                size, suffix = _SUFFIXES[i - 1]
                text = f"{value / size:.2f}"
            text = text.rstrip("0").rstrip(".") if "." in text else text
            return f"{sign}{text}{suffix}"
    return f"{sign}{value:,.0f}"  # pragma: no cover - every value >= 1000 matched a suffix


def percent(rate: float | None) -> str:
    """0.953 -> '95%': whole percents, except that a rate strictly between 0 and 1 never reads '0%' or '100%' (a
    board member reads 100% as every student): those show tenths, held inside, 0.9996 -> '99.9%', 0.004 -> '0.4%'."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return "–"
    whole = f"{rate:.0%}"
    if 0 < rate < 1 and whole in ("0%", "100%"):
        return f"{min(max(round(rate * 1000), 1), 999) / 10:.1f}%"
    return whole


_WHOLE_PERCENTS = np.array([f"{i}%" for i in range(101)], dtype=object)


def percents(rates: np.ndarray) -> np.ndarray:
    """percent() of every rate, as an object array; whole columns at once, for rates in 0..1 (others one by one).

    f"{rate:.0%}" multiplies by 100 in floating point and rounds half to even, as np.rint does, so the two agree.
    """
    rates = np.asarray(rates, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):  # huge or infinite rates go one by one below
        scaled = rates * 100
    whole = np.isfinite(scaled) & ~np.signbit(scaled) & (scaled <= 100)  # -0.0 reads "-0%"
    rounded = np.rint(np.where(whole, scaled, 0))
    whole &= ~(((rounded == 100) & (scaled < 100)) | ((rounded == 0) & (scaled > 0)))  # tenths, one by one
    out = np.empty(rates.shape, dtype=object)
    out[whole] = _WHOLE_PERCENTS[np.rint(scaled[whole]).astype(np.int64)]
    out[~whole] = [percent(float(r)) for r in rates[~whole]]
    return out


def points(change: float) -> str:
    """A change in percentage points with its sign, one decimal: 0.23 -> '+0.2'; one that rounds to nothing reads
    '0.0', never '-0.0' (which reads as a fall)."""
    text = f"{change:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def moment(when: dt.datetime) -> str:
    """A moment in UTC as people write it: '1 December 2026, 16:41 UTC'."""
    when = when.astimezone(dt.UTC)
    return f"{when.day} {when:%B %Y, %H:%M} UTC"


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


def without_schools_last(labels: dict[str, str], reporting: frozenset[str], year: str) -> dict[str, str]:
    """An affiliate picker's id -> label, in its order, with the affiliates not in `reporting` (those holding no
    school in `year`) moved last and marked '· no schools in <year>'."""
    marked = {i: label if i in reporting else f"{label} · no schools in {year}" for i, label in labels.items()}
    return dict(sorted(marked.items(), key=lambda item: item[0] not in reporting))  # stable: the order within each
