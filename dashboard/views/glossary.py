"""The Glossary page's terms: what each figure the pages name means and which report it is read from.

Two figures can share a word and differ (volunteer hours as schools report them, and as partners do), so each term
names its source. The terms are the pages' own labels (formatting.LABELS, the tier names), so the glossary cannot
drift from what a card or an axis says.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboard import disclosure, formatting, privacy
from dashboard.views.charts import TIER_NAMES

SCHOOLS_REPORTS = "Schools' yearly reports (the school_years table)"
OUTCOME_TABLES = "Schools' outcome tables (the outcomes table)"
PARTNERS_REPORTS = "Partners' reports of their work at each school (the partnerships table)"
AFFILIATES_BOOKS = "Affiliates' books (the finances table)"
COMPUTED = "Computed by the dashboard from the tables above"


@dataclass(frozen=True)
class Term:
    """One glossary entry: the term as pages write it, what it means, and where its numbers come from."""

    term: str
    meaning: str
    source: str
    group: str


_TIGHTEST, *_, (_NEXT, _), _LOOSEST = disclosure.CODING_BANDS


def _rate(metric: str, who: str) -> Term:
    return Term(formatting.LABELS[metric], f"{who} Shown as a rate: students who met it / eligible students, tiers 2 "
                "and 3 together unless a tier is chosen.", OUTCOME_TABLES, "Outcomes")  # fmt: skip


TERMS: tuple[Term, ...] = (
    Term(formatting.LABELS["students_served"], "Distinct students who received any support from the site coordinator "
         "in the school year, in all three tiers.", SCHOOLS_REPORTS, "Students and schools"),
    Term(TIER_NAMES[1], "Support offered to the whole school: assemblies, food pantries, school-wide events.",
         SCHOOLS_REPORTS, "Students and schools"),
    Term(TIER_NAMES[2], "Support for groups of students with a shared need, such as a tutoring or attendance group.",
         SCHOOLS_REPORTS, "Students and schools"),
    Term(formatting.LABELS["case_managed"], "Students with their own plan, goals and regular check-ins with the site "
         "coordinator (tier 3). The outcomes are reported for tiers 2 and 3.", SCHOOLS_REPORTS, "Students and schools"),
    Term(formatting.LABELS["schools"], "Schools and community sites with a report for the school year.",
         SCHOOLS_REPORTS, "Students and schools"),
    Term(formatting.LABELS["organisations"], "Local Communities In Schools affiliates and licensed partners holding at "
         "least one school in the year. State offices hold none and are not counted.", SCHOOLS_REPORTS,
         "Students and schools"),
    Term(formatting.LABELS["states"], "States with at least one school in the year; Washington, DC counts as one.",
         SCHOOLS_REPORTS, "Students and schools"),
    Term(formatting.LABELS["staff"], "Site coordinators and other school staff, in full-time equivalents.",
         SCHOOLS_REPORTS, "Students and schools"),
    _rate("remained_in_school", "Tier 2 and 3 students still enrolled at the end of the year, of all of them."),
    _rate("promoted", "Students in kindergarten to grade 11 promoted to the next grade, of all of them."),
    _rate("graduated", "Seniors who earned a diploma or a GED, of all seniors."),
    _rate("attendance_goal", "Students with an attendance goal who met it or made progress, of all with one."),
    _rate("academic_goal", "Students with an academic goal who met it or made progress, of all with one."),
    _rate("behavior_goal", "Students with a behavior goal who met it or made progress, of all with one."),
    Term(formatting.LABELS["partners"], "Distinct businesses, nonprofits, congregations, agencies and others working at "
         "a school in view that year.", PARTNERS_REPORTS, "Partners and volunteers"),
    Term(formatting.LABELS["volunteers"], "People who volunteered at a school in the year, as the school counts them.",
         SCHOOLS_REPORTS, "Partners and volunteers"),
    Term(formatting.LABELS["volunteer_hours"], "Hours given by volunteers at the school, as the school counts them. "
         "The partners' figure below is a separate report of partly the same time, so the two need not agree.",
         SCHOOLS_REPORTS, "Partners and volunteers"),
    Term("Volunteer hours (partners' reports)", "Hours partners' people gave at the schools, as each partner reports "
         "them.", PARTNERS_REPORTS, "Partners and volunteers"),
    Term("In-kind gifts (partners' reports)", "Goods and services partners gave the schools, at the value each partner "
         "reports, in dollars.", PARTNERS_REPORTS, "Partners and volunteers"),
    Term("In-kind revenue (affiliates' books)", "Donated goods and services as the affiliates booked them as revenue, in "
         "dollars. It can include gifts to the affiliate itself, and it is a separate record from the partners' "
         "reports, so the two need not agree.", AFFILIATES_BOOKS, "Money and return"),
    Term("Return per $1", "What a published study found each dollar spent returned to students and society, in its own "
         "network and years, on its own assumptions.", "The studies named on the Return on investment page",
         "Money and return"),
    Term("Benefit per $1 of cost", "The present value of what the extra graduates earn and save the public, divided by "
         "what the program cost, under the assumptions chosen on the Return on investment page.", COMPUTED,
         "Money and return"),
    Term("Net present value", "Those benefits minus the costs, in today's dollars.", COMPUTED, "Money and return"),
    Term("Cost per student served", "All expenses in the year divided by students served (tiers 1 to 3).",
         f"{AFFILIATES_BOOKS} and {SCHOOLS_REPORTS.lower()}", "Money and return"),
    Term("Per case-managed student", "All expenses in the year divided by case-managed (tier 3) students.",
         f"{AFFILIATES_BOOKS} and {SCHOOLS_REPORTS.lower()}", "Money and return"),
    Term("Peer group", "Every school in the network with the same level, locale and Title I status as the school "
         "compared.", COMPUTED, "Comparing"),
    Term("Percentile", "Where a school's rate falls among its peer schools with enough eligible students: the 50th is "
         "the middle, the 90th is above nine in ten.", COMPUTED, "Comparing"),
    Term("Benchmark", "The same rate over a wider set of schools (the affiliate, its state, the nation), drawn hatched "
         "beside the bars.", COMPUTED, "Comparing"),
    Term(privacy.suppressed_label(), "A figure resting on fewer than 10 students, not shown so that no student can be "
         "recognised.", COMPUTED, "Privacy"),
    Term(privacy.HIDDEN_LABEL, "A figure held back because, with the totals shown, it would give away a figure of fewer "
         "than 10 students.", COMPUTED, "Privacy"),
    Term(">=95%, <=5% and other ranges", f"A rate near all or none on fewer than {disclosure.CODE_BELOW} students, "
         f"shown as a range (from >={_LOOSEST[1]:.0%} for {_LOOSEST[0]} to {_NEXT - 1} students to "
         f">={_TIGHTEST[1]:.0%} for {_TIGHTEST[0]} or more): an exact 100% of 12 would say what happened to each "
         "student.", COMPUTED, "Privacy"),
    Term("Data as of", "When the newest load still in place was made, and its number: every figure on the page comes "
         "from the tables as that load left them.", "The Data page's load history", "Privacy"),
)  # fmt: skip


def table(search: str = "") -> pd.DataFrame:
    """The terms (group, term, meaning, source) whose term or meaning holds `search`, any case; all when empty."""
    frame = pd.DataFrame([vars(t) for t in TERMS])[["group", "term", "meaning", "source"]]
    if search.strip():
        needle = search.strip().lower()
        frame = frame[frame["term"].str.lower().str.contains(needle, regex=False)
                      | frame["meaning"].str.lower().str.contains(needle, regex=False)]  # fmt: skip
    return frame.reset_index(drop=True)
