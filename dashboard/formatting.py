"""Numbers formatted for people, and the labels of columns and metrics."""

from __future__ import annotations

import math
import re

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


def dollars(value: float) -> str:
    """11.6 -> '$11.60'."""
    return f"${value:,.2f}"


def markdown_text(text: str) -> str:
    """Text with every Markdown punctuation escaped, so a name from the data shows as written, never as markup."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~])", r"\\\1", str(text))


def plotly_text(text: str) -> str:
    """A name from the data for a plotly label: its own tags (<a>, <b>, <br>...) shown as text, not applied."""
    return str(text).replace("<", "&lt;").replace(">", "&gt;")
