"""The glossary a board member reads beside the figures: what each name means and which table it comes from.

Two figures with one name came from two reports (volunteer hours from schools and from partners; in-kind gifts from
partners and from affiliates' books), so each is named here by its source, and the pages use the same names.
"""

from __future__ import annotations

TERMS: dict[str, str] = {
    "Students served": "Students who received any support at a school in the year, tiers 1 to 3 together "
    "(schools' yearly reports, school_years).",
    "Tier 1 (school-wide)": "Support open to every student of a school: assemblies, food pantries, clothing.",
    "Tier 2 (targeted groups)": "Support for groups of students with a shared need, such as attendance groups.",
    "Tier 3 (case-managed)": "Students with a plan and a site coordinator who meets them one to one.",
    "Outcome rate": "Students who met the outcome divided by the eligible students of tiers 2 and 3 "
    "(outcomes). Remained in school, promoted and graduated are the headline rates.",
    "<10": "A count or rate of fewer than 10 students, not shown so that no student can be recognised.",
    "hidden": "A figure of 10 or more students, not shown because with the totals beside it a '<10' could be "
    "worked out.",
    ">=95% and other ranges": "A rate near 0% or 100% of a small group, shown as a range so it does not say that "
    "every (or no) student met it.",
    "Volunteer hours (schools' reports)": "Hours volunteers gave at the schools, as each school reports them for "
    "the year (school_years): the Overview's figure.",
    "Volunteer hours (partners' reports)": "Hours the community partners' own volunteers gave, as reported per "
    "partnership (partnerships): the Partners page's figure. It overlaps the schools' figure without equalling it.",
    "In-kind gifts (partners' reports)": "The value of goods and services partners gave, per partnership "
    "(partnerships): the Partners page's figure.",
    "In-kind revenue (affiliates' books)": "What affiliates booked as in-kind revenue in their finances "
    "(finances): the ROI page's funding mix. Books value gifts their own way, so it differs from the partners'.",
    "Partners' in-kind gifts and volunteer time": "The ROI page's leverage line: partners' in-kind gifts plus their "
    "volunteer hours valued at the hourly rate in the ROI assumptions.",
    "Cost per student served": "All affiliate expenses of the year divided by students served (finances, "
    "school_years).",
    "Benefit per $1 of cost": "The present value of the benefits the ROI model credits to the program, divided by "
    "its costs, under the assumptions chosen on the ROI page.",
    "Peer group": "Every school of the network with the same level, locale and Title I status.",
    "Data as of": "When the newest load still in place was recorded; every figure comes from the loads in place.",
}
