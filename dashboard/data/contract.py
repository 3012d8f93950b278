"""The outcome-table contract: table names, columns, keys and allowed values."""

from __future__ import annotations

import re

SCHOOL_YEARS = tuple(f"{y}-{(y + 1) % 100:02d}" for y in range(2015, 2025))

KINDS = ("affiliate", "licensed_partner", "state_office")
LEVELS = ("elementary", "middle", "high", "multi_level", "alternative", "community_site")
LOCALES = ("city", "suburb", "town", "rural")
PARTNER_CATEGORIES = (
    "business",
    "nonprofit",
    "faith_based",
    "government",
    "higher_education",
    "healthcare",
    "philanthropy",
    "civic",
)
METRICS = ("remained_in_school", "promoted", "graduated", "attendance_goal", "academic_goal", "behavior_goal")
OUTCOME_TIERS = (2, 3)
SUPPORT_CATEGORIES = (
    "academic_assistance",
    "basic_needs",
    "behavioral_interventions",
    "college_career_prep",
    "enrichment",
    "family_engagement",
    "life_skills",
    "mental_health",
    "physical_health",
    "service_learning",
)
REVENUE_CATEGORIES = ("government", "foundation", "corporate", "individual", "events", "in_kind")
EXPENSE_CATEGORIES = ("program", "management", "fundraising")

# table -> (key columns, other columns), in the order files carry them.
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "affiliates": (("affiliate_id",), ("name", "kind", "state", "city", "latitude", "longitude")),
    "schools": (
        ("school_id",),
        ("name", "affiliate_id", "state", "city", "latitude", "longitude", "level", "title_i", "locale"),
    ),
    "partners": (("partner_id",), ("name", "category", "state", "city", "latitude", "longitude")),
    "school_years": (
        ("school_id", "school_year"),
        (
            "enrollment",
            "students_served",
            "tier1_students",
            "tier2_students",
            "tier3_students",
            "site_coordinators",
            "volunteers",
            "volunteer_hours",
        ),
    ),
    "outcomes": (("school_id", "school_year", "tier", "metric"), ("eligible", "met")),
    "supports": (("school_id", "school_year", "tier", "category"), ("students", "services")),
    "partnerships": (("partner_id", "school_id", "school_year", "category"), ("in_kind_usd", "volunteer_hours")),
    "finances": (("affiliate_id", "school_year", "line", "category"), ("amount_usd",)),
}

IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
SCHOOL_YEAR = re.compile(r"^(\d{4})-(\d{2}|\d{4})$")


def columns(table: str) -> tuple[str, ...]:
    """Every column of a contract table, keys first."""
    key, rest = TABLES[table]
    return key + rest


def normalise_school_year(value: str) -> str | None:
    """'2021-22' or '2021-2022' as '2021-22'; None if the value is not a school year."""
    match = SCHOOL_YEAR.match(str(value).strip())
    if not match:
        return None
    start, end = int(match.group(1)), match.group(2)
    expected = start + 1
    if (len(end) == 2 and int(end) != expected % 100) or (len(end) == 4 and int(end) != expected):
        return None
    return f"{start}-{expected % 100:02d}"
