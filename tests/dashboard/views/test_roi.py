"""The ROI page's cost per student by year: a student count hidden by its stored status stays hidden, and so does
the cost per student that would give it back beside the expenses."""

from __future__ import annotations

import pandas as pd

from dashboard import privacy, roi
from dashboard.views import roi as roi_view


def _finances() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "school_year": ["2022-23", "2023-24", "2023-24"],
            "line": ["expense", "expense", "revenue"],
            "amount_usd": [90_000.0, 120_000.0, 500_000.0],
        }
    )


def _totals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "school_year": ["2022-23", "2023-24"],
            "students_served": [300, 400],
            "case_managed": [7, 40],
            "students_served_status": ["shown", "shown"],
            "case_managed_status": ["small", "hidden"],
        }
    )


def test_a_hidden_count_and_its_cost_per_student_stay_hidden() -> None:
    frame = roi_view.cost_per_student_by_year(_finances(), _totals())
    assert frame["cost_per_student"].tolist() == [90_000 / 300, 120_000 / 400]
    assert frame["case_managed"].isna().all()
    assert frame["cost_per_case_managed"].isna().all()
    # expenses / cost per case-managed student would be the count: no figure on the page gives it back
    shown = privacy.with_labels(frame)
    assert shown["case_managed"].tolist() == ["<10", "hidden"]
    assert not [c for c in shown.columns if c.endswith("_status")]


def test_shown_counts_give_their_costs() -> None:
    totals = _totals().assign(case_managed_status="shown")
    frame = roi_view.cost_per_student_by_year(_finances(), totals)
    assert frame["cost_per_case_managed"].tolist() == [90_000 / 7, 120_000 / 40]


def test_the_headline_costs_per_student_hide_with_their_counts() -> None:
    inputs = roi_view.inputs_for_year("2023-24", _finances(), pd.DataFrame(), _totals(), pd.DataFrame())
    result = roi.evaluate(inputs, roi.PRESETS["EMSI 2012"])
    shown = roi_view.published_result(result, _totals(), "2023-24")
    assert shown.cost_per_student == 120_000 / 400  # students served is shown
    assert shown.cost_per_case_managed is None  # case-managed is hidden in 2023-24: 120,000 / 40 would name it
    assert result.cost_per_case_managed == 120_000 / 40  # the model itself still has it
    assert shown.benefit_cost_ratio == result.benefit_cost_ratio
