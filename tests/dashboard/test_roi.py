"""The ROI model: hand-computed cases, monotonicity, errors, tornado ordering and the published presets."""

from __future__ import annotations

import dataclasses
import inspect
import itertools

import pytest

from dashboard import roi
from dashboard.roi import Assumptions, Inputs

CONSERVATIVE = "Conservative (MDRC: no effect on attendance/academics/behaviour)"


def simple_inputs(**overrides: float) -> Inputs:
    """One small affiliate: $1M spent, 90 of 100 seniors graduated, 500 served, 50 case-managed."""
    values = {"expenses_usd": 1_000_000.0, "graduates": 90.0, "seniors": 100.0, "students_served": 500.0,
              "case_managed": 50.0, "in_kind_usd": 0.0, "volunteer_hours": 0.0}  # fmt: skip
    values.update(overrides)
    return Inputs(**values)


def simple_assumptions(**overrides: object) -> Assumptions:
    """Round numbers: 10-point lift, half attributable, $100k private + $200k public, no re-discounting."""
    values: dict[str, object] = {"grad_rate_lift_pp": 10.0, "attribution_share": 0.5,
                                 "private_value_per_grad_usd": 100_000.0, "public_value_per_grad_usd": 200_000.0,
                                 "value_discount_rate": 0.03, "discount_rate": 0.03}  # fmt: skip
    values.update(overrides)
    return Assumptions(**values)  # type: ignore[arg-type]


def test_hand_computed_simple_case() -> None:
    result = roi.evaluate(simple_inputs(), simple_assumptions())
    # 100 seniors x 10 points x 50% attributable = 5 extra graduates
    assert result.extra_graduates == pytest.approx(5.0)
    assert result.benefits == pytest.approx({"private_earnings": 500_000.0, "public_savings": 1_000_000.0})
    assert result.total_benefits == pytest.approx(1_500_000.0)
    assert result.costs == pytest.approx(1_000_000.0)
    assert result.benefit_cost_ratio == pytest.approx(1.5)
    assert result.net_present_value == pytest.approx(500_000.0)
    assert result.cost_per_student == pytest.approx(2_000.0)
    assert result.cost_per_case_managed == pytest.approx(20_000.0)
    assert result.discount_factor == pytest.approx(1.0)


def test_counterfactual_rate_replaces_the_lift() -> None:
    a = simple_assumptions(counterfactual_grad_rate=0.8, grad_rate_lift_pp=50.0)
    result = roi.evaluate(simple_inputs(), a)
    # 90 graduates - 100 x 0.8 expected = 10, half attributable
    assert result.extra_graduates == pytest.approx(5.0)
    above = roi.evaluate(simple_inputs(), simple_assumptions(counterfactual_grad_rate=0.95))
    assert above.extra_graduates == 0.0
    assert above.benefit_cost_ratio == 0.0


def test_extra_graduates_never_exceed_graduates() -> None:
    result = roi.evaluate(simple_inputs(graduates=3.0), simple_assumptions(attribution_share=1.0))
    assert result.extra_graduates == pytest.approx(3.0)


def test_discounting_hand_computed() -> None:
    a = simple_assumptions(discount_rate=0.05, work_years=2.0, years_to_benefit=1.0)
    annuity_5 = 1 / 1.05 + 1 / 1.05**2
    annuity_3 = 1 / 1.03 + 1 / 1.03**2
    expected_factor = annuity_5 / annuity_3 / 1.05
    result = roi.evaluate(simple_inputs(), a)
    assert result.discount_factor == pytest.approx(expected_factor)
    assert result.total_benefits == pytest.approx(5 * 300_000.0 * expected_factor)
    assert roi.annuity_factor(0.0, 44) == 44.0
    zero = roi.evaluate(simple_inputs(), simple_assumptions(discount_rate=0.0, work_years=2.0))
    assert zero.discount_factor == pytest.approx(2.0 / annuity_3)


def test_costs_with_opportunity_cost_and_in_kind() -> None:
    inputs = simple_inputs(in_kind_usd=100_000.0, volunteer_hours=1_000.0)
    without = roi.evaluate(inputs, simple_assumptions(opportunity_cost_rate=0.5))
    assert without.costs == pytest.approx(1_500_000.0)
    assert without.leveraged_usd == pytest.approx(100_000.0 + 33_490.0)
    with_kind = roi.evaluate(inputs, simple_assumptions(opportunity_cost_rate=0.5, count_in_kind=True))
    assert with_kind.cost_breakdown == pytest.approx(
        {"direct": 1_000_000.0, "opportunity": 500_000.0, "in_kind": 100_000.0, "volunteer_time": 33_490.0}
    )
    assert with_kind.costs == pytest.approx(1_633_490.0)
    assert with_kind.benefit_cost_ratio == pytest.approx(1_500_000.0 / 1_633_490.0)
    # cost per student uses direct expenses only
    assert with_kind.cost_per_student == pytest.approx(2_000.0)


def test_missing_denominators_give_none() -> None:
    result = roi.evaluate(simple_inputs(students_served=0.0, case_managed=0.0), simple_assumptions())
    assert result.cost_per_student is None
    assert result.cost_per_case_managed is None


def test_more_lift_never_lowers_the_ratio() -> None:
    ratios = [roi.evaluate(simple_inputs(), simple_assumptions(grad_rate_lift_pp=lift)).benefit_cost_ratio
              for lift in (0.0, 1.0, 2.5, 5.0, 10.0, 15.0)]  # fmt: skip
    assert ratios == sorted(ratios)
    assert len(set(ratios)) == len(ratios)


def test_higher_discount_rate_never_raises_value() -> None:
    for delay in (0.0, 4.0):
        values = [roi.evaluate(simple_inputs(), simple_assumptions(discount_rate=r, years_to_benefit=delay)).total_benefits
                  for r in (0.0, 0.01, 0.03, 0.035, 0.05, 0.07, 0.2)]  # fmt: skip
        assert all(later < earlier for earlier, later in itertools.pairwise(values))


def test_zero_expenses_raise_a_clear_error() -> None:
    with pytest.raises(ValueError, match="expenses_usd must be positive"):
        roi.evaluate(simple_inputs(expenses_usd=0.0), simple_assumptions())


@pytest.mark.parametrize(
    "overrides",
    [{"expenses_usd": -1.0}, {"seniors": -5.0}, {"graduates": 101.0}, {"volunteer_hours": float("nan")}],
)
def test_invalid_inputs_are_rejected(overrides: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Inputs"):
        simple_inputs(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"grad_rate_lift_pp": -1.0},
        {"attribution_share": 1.5},
        {"discount_rate": -0.01},
        {"counterfactual_grad_rate": 2.0},
        {"work_years": 0.0},
    ],
)
def test_invalid_assumptions_are_rejected(overrides: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Assumptions"):
        simple_assumptions(**overrides)


def test_dataclasses_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Assumptions().discount_rate = 0.1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        simple_inputs().seniors = 1.0  # type: ignore[misc]


def test_defaults_and_sources() -> None:
    a = Assumptions()
    assert a.public_value_per_grad_usd == 209_000.0
    assert a.value_per_grad_usd == 300_000.0
    assert a.discount_rate == 0.03
    assert a.volunteer_hour_value_usd == 33.49
    assert set(roi.SOURCES) == {f.name for f in dataclasses.fields(Assumptions)}
    assert all(text.strip() for text in roi.SOURCES.values())
    assert "[U]" in roi.SOURCES["volunteer_hour_value_usd"]


def test_tornado_ordering_and_columns() -> None:
    a = simple_assumptions(discount_rate=0.04, years_to_benefit=2.0, opportunity_cost_rate=0.2, count_in_kind=True)
    inputs = simple_inputs(in_kind_usd=50_000.0, volunteer_hours=2_000.0)
    frame = roi.tornado(inputs, a, spread=0.2)
    assert {"assumption", "low_ratio", "high_ratio", "base_ratio"} <= set(frame.columns)
    swings = (frame["high_ratio"] - frame["low_ratio"]).abs().tolist()
    assert swings == sorted(swings, reverse=True)
    assert (frame["base_ratio"] == roi.evaluate(inputs, a).benefit_cost_ratio).all()
    assert "volunteer_hour_value_usd" in set(frame["assumption"])
    assert "counterfactual_grad_rate" not in set(frame["assumption"])
    lift = frame.set_index("assumption").loc["grad_rate_lift_pp"]
    assert lift["low_ratio"] == pytest.approx(roi.evaluate(inputs, simple_assumptions(
        grad_rate_lift_pp=8.0, discount_rate=0.04, years_to_benefit=2.0, opportunity_cost_rate=0.2,
        count_in_kind=True)).benefit_cost_ratio)  # fmt: skip


def test_tornado_clips_and_skips() -> None:
    frame = roi.tornado(simple_inputs(), simple_assumptions(attribution_share=1.0), spread=0.5).set_index("assumption")
    assert frame.loc["attribution_share", "high_value"] == 1.0
    assert frame.loc["attribution_share", "low_value"] == 0.5
    assert "volunteer_hour_value_usd" not in frame.index  # in-kind not counted
    counterfactual = roi.tornado(simple_inputs(), simple_assumptions(counterfactual_grad_rate=0.8))
    assert "grad_rate_lift_pp" not in set(counterfactual["assumption"])
    assert "counterfactual_grad_rate" in set(counterfactual["assumption"])
    flat = roi.tornado(simple_inputs(), simple_assumptions(), spread=0.0)
    assert (flat["low_ratio"] == flat["base_ratio"]).all() and (flat["high_ratio"] == flat["base_ratio"]).all()
    with pytest.raises(ValueError, match="spread"):
        roi.tornado(simple_inputs(), simple_assumptions(), spread=1.5)


@pytest.mark.parametrize(("name", "ratio"), [("EMSI 2012", 11.6), ("WSIPP 2023", 15.52), ("Georgia audit 2015", 18.0)])
def test_presets_reproduce_published_ratios(name: str, ratio: float) -> None:
    result = roi.evaluate(roi.REFERENCE_INPUTS, roi.PRESETS[name])
    assert result.benefit_cost_ratio == pytest.approx(ratio, rel=1e-9)
    assert ratio in [e["ratio"] for e in roi.PUBLISHED_ESTIMATES]
    assert roi.PRESET_TARGETS[name] == ratio


def test_emsi_preset_matches_emsi_costs_and_npv() -> None:
    result = roi.evaluate(roi.REFERENCE_INPUTS, roi.PRESETS["EMSI 2012"])
    assert result.costs == pytest.approx(242_000_000.0)
    assert result.total_benefits == pytest.approx(11.6 * 242_000_000.0)
    assert result.net_present_value == pytest.approx(2.6e9, rel=0.02)  # EMSI: NPV about $2.6B


def test_conservative_preset_has_no_benefit() -> None:
    result = roi.evaluate(roi.REFERENCE_INPUTS, roi.PRESETS[CONSERVATIVE])
    assert result.benefit_cost_ratio == 0.0
    assert result.net_present_value == pytest.approx(-result.costs)
    assert set(roi.PRESETS) == set(roi.PRESET_NOTES)


def test_published_estimates() -> None:
    by_ratio = {e["ratio"]: e for e in roi.PUBLISHED_ESTIMATES}
    assert set(by_ratio) == {11.6, 15.52, 18.0, None}
    assert "57%" in str(by_ratio[15.52]["note"])
    assert "MDRC" in str(by_ratio[None]["source"])
    assert all(set(e) == {"source", "ratio", "note"} for e in roi.PUBLISHED_ESTIMATES)


def test_calibrate_lift_refuses_impossible_targets() -> None:
    with pytest.raises(ValueError, match="cannot calibrate"):
        roi.calibrate_lift(simple_inputs(), simple_assumptions(), target_ratio=1_000.0)
    calibrated = roi.calibrate_lift(simple_inputs(), simple_assumptions(), target_ratio=3.0)
    assert calibrated.grad_rate_lift_pp == pytest.approx(20.0)  # 3 x $1M / (100 x 1% x 0.5 x $300k)


def test_module_does_not_import_streamlit() -> None:
    assert "streamlit" not in inspect.getsource(roi)


def test_the_preset_notes_read_for_people_not_for_us() -> None:
    """The sidebar shows these: no code names, no notes to ourselves ('[U: ...]')."""
    for note in roi.PRESET_NOTES.values():
        assert "[U:" not in note and "REFERENCE_INPUTS" not in note and "_" not in note, note


def test_the_bridge_moves_one_input_at_a_time_from_the_study_to_ours() -> None:
    """By hand: with no cap binding and nothing in kind counted, the ratio is lift x seniors x value / expenses, so
    each step multiplies it by the ratio of that input per student served."""
    a = Assumptions(grad_rate_lift_pp=2.0)
    value = a.private_value_per_grad_usd + a.public_value_per_grad_usd  # the discount factor is 1 at these rates
    reference = Inputs(expenses_usd=100e6, graduates=8_000, seniors=10_000, students_served=500_000)
    ours = Inputs(expenses_usd=30e6, graduates=1_800, seniors=2_000, students_served=200_000, in_kind_usd=5e6)
    steps = roi.bridge(ours, a, reference)

    def by_hand(expenses: float, seniors: float) -> float:
        return seniors * 0.02 * value / expenses

    assert list(steps["ratio"]) == pytest.approx([
        by_hand(100e6, 10_000),
        by_hand(30e6 / 200_000 * 500_000, 10_000),  # our $150 per student instead of $200
        by_hand(30e6 / 200_000 * 500_000, 2_000 / 200_000 * 500_000),  # 1% seniors instead of 2%
        by_hand(75e6, 5_000),  # the same: the graduation rate caps nothing here
        by_hand(75e6, 5_000),  # in-kind gifts are not counted as costs on these assumptions
        by_hand(30e6, 2_000),
    ])  # fmt: skip
    assert steps["ratio"].iloc[-1] == pytest.approx(roi.evaluate(ours, a).benefit_cost_ratio)
    assert steps["change"].iloc[1:].sum() == pytest.approx(steps["ratio"].iloc[-1] - steps["ratio"].iloc[0])
    # On a preset, the bridge starts at the study's published return.
    emsi = roi.bridge(ours, roi.PRESETS["EMSI 2012"])
    assert emsi["ratio"].iloc[0] == pytest.approx(11.6)
