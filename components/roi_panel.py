"""ROI page widgets: the published estimates, the assumption controls, the model's headline figures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from components import data
from dashboard import formatting, roi
from dashboard.data import queries
from dashboard.views.roi import ASSUMPTION_LABELS

PRESET_KEY = "roi_preset"


@data.cached(max_entries=256)
def finances_by_category(engine: sa.Engine, filters: queries.Filters, scope: queries.Scope) -> pd.DataFrame:
    """Cached queries.finances_by_category, keyed on the frozen filters and scope."""
    return queries.finances_by_category(engine, filters, scope)


@dataclass(frozen=True)
class Slider:
    """One assumption's slider; the widget shows the value times `scale` (100 for rates shown as percent)."""

    name: str
    low: float
    high: float
    step: float
    fmt: str
    scale: float = 1.0


SLIDERS = [
    Slider("grad_rate_lift_pp", 0.0, 20.0, 0.1, "%.1f pts"),
    Slider("attribution_share", 0.0, 100.0, 1.0, "%.0f%%", 100.0),
    Slider("private_value_per_grad_usd", 0.0, 300.0, 1.0, "$%.0fK", 0.001),
    Slider("public_value_per_grad_usd", 0.0, 500.0, 1.0, "$%.0fK", 0.001),
    Slider("discount_rate", 0.0, 10.0, 0.1, "%.1f%%", 100.0),
    Slider("value_discount_rate", 0.0, 10.0, 0.1, "%.1f%%", 100.0),
    Slider("work_years", 1.0, 80.0, 1.0, "%.0f years"),
    Slider("years_to_benefit", 0.0, 20.0, 0.5, "%.1f years"),
    Slider("opportunity_cost_rate", 0.0, 100.0, 0.5, "%.1f%%", 100.0),
    Slider("volunteer_hour_value_usd", 0.0, 100.0, 0.5, "$%.2f"),
]
COUNTERFACTUAL = Slider("counterfactual_grad_rate", 0.0, 100.0, 0.5, "%.1f%%", 100.0)


def _widget_values(a: roi.Assumptions) -> dict[str, object]:
    """Session-state values of every assumption widget for these assumptions."""
    values: dict[str, object] = {f"roi_{s.name}": float(getattr(a, s.name)) * s.scale for s in SLIDERS}
    values["roi_use_counterfactual"] = a.counterfactual_grad_rate is not None
    values["roi_counterfactual_grad_rate"] = (a.counterfactual_grad_rate or 0.85) * COUNTERFACTUAL.scale
    values["roi_count_in_kind"] = a.count_in_kind
    return values


def _apply_preset() -> None:
    st.session_state.update(_widget_values(roi.PRESETS[st.session_state[PRESET_KEY]]))


def _slider(s: Slider) -> float:
    return st.sidebar.slider(ASSUMPTION_LABELS[s.name], s.low, s.high, step=s.step, format=s.fmt,
                             key=f"roi_{s.name}", help=roi.SOURCES[s.name]) / s.scale  # fmt: skip


def assumptions() -> tuple[str, roi.Assumptions]:
    """Sidebar: a preset selectbox that sets every slider, then one slider (or toggle) per assumption."""
    names = list(roi.PRESETS)
    if PRESET_KEY not in st.session_state:
        st.session_state[PRESET_KEY] = names[0]
    for key, value in _widget_values(roi.PRESETS[st.session_state[PRESET_KEY]]).items():
        st.session_state.setdefault(key, value)
    st.sidebar.header("Assumptions")
    preset = st.sidebar.selectbox("Start from", names, key=PRESET_KEY, on_change=_apply_preset,
                                  help="Each published preset's lift is solved to reproduce that study's ratio on "
                                  "EMSI 2012's reference network; then it is applied to our own data.")  # fmt: skip
    st.sidebar.caption(roi.PRESET_NOTES[preset])
    values = {s.name: _slider(s) for s in SLIDERS}
    use_counterfactual = st.sidebar.checkbox("Use a graduation rate without the program instead of the lift",
                                             key="roi_use_counterfactual", help=roi.SOURCES["counterfactual_grad_rate"])  # fmt: skip
    values["counterfactual_grad_rate"] = _slider(COUNTERFACTUAL) if use_counterfactual else None
    values["count_in_kind"] = st.sidebar.checkbox(ASSUMPTION_LABELS["count_in_kind"], key="roi_count_in_kind",
                                                  help=roi.SOURCES["count_in_kind"])  # fmt: skip
    chosen = dataclasses.replace(roi.PRESETS[preset], **values)
    if any(st.session_state.get(k) != v for k, v in _widget_values(roi.PRESETS[preset]).items()
           if k != "roi_counterfactual_grad_rate" or use_counterfactual):  # fmt: skip
        st.sidebar.caption(f"Adjusted from the {preset} preset.")
    return preset, chosen


def published(estimates: list[dict[str, object]]) -> None:
    """One card per published estimate: dollars returned per $1, or the finding when no ratio was published."""
    for slot, estimate in zip(st.columns(len(estimates)), estimates, strict=True):
        ratio = estimate["ratio"]
        slot.markdown(f"**{estimate['source']}**")
        if ratio is None:
            slot.metric("Finding", "No effect", help=str(estimate["note"]))
        else:
            slot.metric("Return per $1", formatting.dollars(ratio), help=str(estimate["note"]))
        slot.caption(str(estimate["note"]))


def _money(value: float | None) -> str:
    if value is None:
        return "–"
    text = formatting.compact(value)
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def _dollars(value: float | None) -> str:
    return "–" if value is None else formatting.dollars(value)


def evaluate_or_stop(inputs: roi.Inputs, a: roi.Assumptions, year: str) -> roi.Result:
    """roi.evaluate, or a notice on the page when the year has no expenses to divide by."""
    try:
        return roi.evaluate(inputs, a)
    except ValueError:
        st.info(f"No expenses are recorded for {year}, so there is no return to compute. Choose another year.")
        st.stop()


def headline(result: roi.Result) -> None:
    """Benefit/cost ratio, NPV, cost per student served and per case-managed student, with what they rest on."""
    ratio, npv, per_student, per_case = st.columns(4)
    ratio.metric("Benefit per $1 of cost", formatting.dollars(result.benefit_cost_ratio),
                 help="Present value of benefits divided by costs, with the assumptions in the sidebar.")  # fmt: skip
    npv.metric("Net present value", _money(result.net_present_value), help="Benefits minus costs.")
    per_student.metric("Cost per student served", _dollars(result.cost_per_student),
                       help="All expenses divided by students served (tiers 1 to 3).")  # fmt: skip
    per_case.metric("Per case-managed student", _dollars(result.cost_per_case_managed),
                    help="Cost per tier 3 (case-managed) student: all expenses divided by case-managed students.")  # fmt: skip
    st.caption(
        f"{result.extra_graduates:,.0f} extra graduates credited to the program; benefits "
        f"{_money(result.total_benefits)} (private earnings {_money(result.benefits['private_earnings'])}, public "
        f"savings {_money(result.benefits['public_savings'])}) against costs of {_money(result.costs)}. Partners "
        f"also gave {_money(result.leveraged_usd)} in in-kind gifts and volunteer time (partners' reports, hours at the "
        "value in the assumptions; the funding mix below shows in-kind revenue as affiliates booked it)."
    )
