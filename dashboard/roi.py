"""A transparent, adjustable return-on-investment model: every number comes from an assumption you can see.

The model (see /work/shared/REFERENCE.md section 2.3):

    extra_graduates = min(graduates, seniors * lift_pp / 100) * attribution_share
                      (or, with a counterfactual rate c: max(0, graduates - seniors * c) * attribution_share)
    scale           = A(r, work_years) / A(r0, work_years) / (1 + r) ** years_to_benefit
                      where A(r, n) = (1 - (1 + r) ** -n) / r is the annuity factor (n when r = 0) and r0 is
                      the rate at which the per-graduate values were published (3%, Vining & Weimer 2019)
    benefits        = extra_graduates * value_per_graduate * scale, split into private earnings and public savings
    costs           = expenses * (1 + opportunity_cost_rate) [+ in-kind + volunteer hours * hour value]
    ratio           = benefits / costs;  NPV = benefits - costs

The per-graduate value is a present value at graduation. It is treated as an even stream over the working life
so that a different discount rate can be applied: at r = r0 with no delay the published value is used as is, and a
higher rate never raises it. Costs are taken as spent now, so they are not discounted.

Value per extra graduate, the split used here: $300,000 in total, the social NPV of one extra high-school graduate
at a 3% real rate (Vining & Weimer 2019). Of it, $209,000 is public (fiscal) savings (Levin, Belfield, Muennig &
Rouse 2007), and the remaining $91,000 is counted as the graduate's private lifetime earnings gain. The split is a
simplification: the two studies use different dollar years (2007 and 2019) and methods. It keeps the total at the
Vining & Weimer figure and the public part at the Levin figure.

Zero or negative expenses raise ValueError: a benefit/cost ratio with nothing spent means nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import pandas as pd

VINING_WEIMER_SOCIAL_VALUE_USD = 300_000.0
LEVIN_PUBLIC_VALUE_USD = 209_000.0


@dataclass(frozen=True)
class Assumptions:
    """Every assumption of the ROI model; each field's source is in SOURCES."""

    grad_rate_lift_pp: float = 2.0
    counterfactual_grad_rate: float | None = None
    private_value_per_grad_usd: float = VINING_WEIMER_SOCIAL_VALUE_USD - LEVIN_PUBLIC_VALUE_USD
    public_value_per_grad_usd: float = LEVIN_PUBLIC_VALUE_USD
    value_discount_rate: float = 0.03
    discount_rate: float = 0.03
    work_years: float = 44.0
    years_to_benefit: float = 0.0
    attribution_share: float = 1.0
    opportunity_cost_rate: float = 0.0
    volunteer_hour_value_usd: float = 33.49
    count_in_kind: bool = False

    def __post_init__(self) -> None:
        """Reject values outside their meaningful range, naming the field."""
        checks = {
            "grad_rate_lift_pp": 0.0 <= self.grad_rate_lift_pp <= 100.0,
            "counterfactual_grad_rate": self.counterfactual_grad_rate is None
            or 0.0 <= self.counterfactual_grad_rate <= 1.0,
            "private_value_per_grad_usd": self.private_value_per_grad_usd >= 0.0,
            "public_value_per_grad_usd": self.public_value_per_grad_usd >= 0.0,
            "value_discount_rate": 0.0 <= self.value_discount_rate <= 1.0,
            "discount_rate": 0.0 <= self.discount_rate <= 1.0,
            "work_years": self.work_years > 0.0,
            "years_to_benefit": self.years_to_benefit >= 0.0,
            "attribution_share": 0.0 <= self.attribution_share <= 1.0,
            "opportunity_cost_rate": self.opportunity_cost_rate >= 0.0,
            "volunteer_hour_value_usd": self.volunteer_hour_value_usd >= 0.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"Assumptions.{name} is out of range: {getattr(self, name)!r}")

    @property
    def value_per_grad_usd(self) -> float:
        """Total value of one extra graduate (private + public), at the published discount rate."""
        return self.private_value_per_grad_usd + self.public_value_per_grad_usd


SOURCES: dict[str, str] = {
    "grad_rate_lift_pp": (
        "Assumption [U]: graduation-rate lift among seniors, in percentage points, attributable to the program. "
        "The ICF quasi-experimental study (Porowski & Passa 2011, 123 vs 123 high schools) found stronger gains in "
        "on-time graduation, but its effect size in points was not retrieved; the What Works Clearinghouse rated "
        "it 'Does Not Meet Evidence Standard'. The MDRC RCT found no effect on attendance, academics or behaviour "
        "after 2 years. The default of 2 points is illustrative only."
    ),
    "counterfactual_grad_rate": (
        "Optional alternative to the lift: the share of seniors who would have graduated without the program. "
        "When set, extra graduates = graduates - seniors x this rate (never below 0), and the lift is ignored."
    ),
    "private_value_per_grad_usd": (
        "Private lifetime earnings gain per extra graduate: $91,000 = $300,000 social NPV at 3% "
        "(Vining & Weimer 2019, Admin. Sci. 9(4):81) minus the $209,000 public part (Levin et al. 2007). "
        "A split chosen for this dashboard, not a published figure."
    ),
    "public_value_per_grad_usd": (
        "Public (fiscal) benefit per extra graduate: $209,000 (Levin, Belfield, Muennig & Rouse 2007, "
        "'The Costs and Benefits of an Excellent Education for All of America's Children'; 2007 dollars, "
        "not inflated here)."
    ),
    "value_discount_rate": (
        "Discount rate at which the per-graduate values were published: 3% real (Vining & Weimer 2019). "
        "Used only to re-discount those values at the chosen rate."
    ),
    "discount_rate": (
        "Real discount rate for benefits, default 3% (Vining & Weimer 2019). Moore, Boardman, Vining, Weimer & "
        "Greenberg (JPAM 2004) recommend 3.5% for intragenerational projects. EMSI's rate for the CIS study is "
        "not known [U]."
    ),
    "work_years": (
        "Years over which a graduate's gains accrue: 44 working years (EMSI 2012, 'net contributors for an "
        "average of 44 working years'). Matters only when discount_rate differs from value_discount_rate."
    ),
    "years_to_benefit": (
        "Assumption [U]: years between spending and the start of the gains (e.g. from grade 9 to graduation). "
        "Default 0: the students counted are seniors."
    ),
    "attribution_share": (
        "Assumption [U]: share of the lift that lasts and is due to the program after fade-out, deadweight and "
        "attribution to other causes (SROI practice). 1.0 takes the lift as already attributable."
    ),
    "opportunity_cost_rate": (
        "Costs beyond direct spending, as a share of direct expenses: EMSI 2012 counted $184M direct and a total "
        "of $242M, including students' forgone earnings and the opportunity cost of labour and capital "
        "((242 - 184) / 184 = 0.315; sources round the extra to ~$56M). Default 0: direct expenses only."
    ),
    "volunteer_hour_value_usd": (
        "Assumption [U]: value of one volunteer hour, $33.49 (Independent Sector's 2024 estimate, not verified "
        "in a source read for this project). Used only when in-kind value is counted."
    ),
    "count_in_kind": (
        "Whether partners' in-kind gifts and volunteer time (hours x hour value) are counted as costs, i.e. as "
        "resources the program uses (a social perspective). Off by default, as in EMSI 2012's cost base."
    ),
}


@dataclass(frozen=True)
class Inputs:
    """The network's (or an affiliate's) figures for one school year."""

    expenses_usd: float
    graduates: float
    seniors: float
    students_served: float = 0.0
    case_managed: float = 0.0
    in_kind_usd: float = 0.0
    volunteer_hours: float = 0.0

    def __post_init__(self) -> None:
        """Reject negative counts and more graduates than seniors."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or math.isnan(value) or value < 0:
                raise ValueError(f"Inputs.{f.name} must be a non-negative number, got {value!r}")
        if self.graduates > self.seniors:
            raise ValueError(f"Inputs.graduates ({self.graduates}) cannot exceed seniors ({self.seniors})")


@dataclass(frozen=True)
class Result:
    """What evaluate() returns: extra graduates, benefits, costs and the ratios built from them."""

    extra_graduates: float
    benefits: dict[str, float]
    total_benefits: float
    costs: float
    cost_breakdown: dict[str, float]
    benefit_cost_ratio: float
    net_present_value: float
    cost_per_student: float | None
    cost_per_case_managed: float | None
    discount_factor: float
    leveraged_usd: float = 0.0


def annuity_factor(rate: float, years: float) -> float:
    """Present value of $1 a year for `years` years at `rate` (equals `years` when the rate is 0)."""
    if rate == 0:
        return float(years)
    return (1.0 - (1.0 + rate) ** -years) / rate


def discount_factor(a: Assumptions) -> float:
    """Multiplier turning the published per-graduate values into present values at the chosen rate."""
    rescale = annuity_factor(a.discount_rate, a.work_years) / annuity_factor(a.value_discount_rate, a.work_years)
    return rescale / (1.0 + a.discount_rate) ** a.years_to_benefit


def extra_graduates(inputs: Inputs, a: Assumptions) -> float:
    """Graduates due to the program: lift (or counterfactual) times attribution, never more than all graduates."""
    if a.counterfactual_grad_rate is not None:
        raw = max(0.0, inputs.graduates - inputs.seniors * a.counterfactual_grad_rate)
    else:
        raw = min(float(inputs.graduates), inputs.seniors * a.grad_rate_lift_pp / 100.0)
    return raw * a.attribution_share


def evaluate(inputs: Inputs, a: Assumptions) -> Result:
    """Benefits, costs, benefit/cost ratio and NPV; raises ValueError when expenses are not positive."""
    if inputs.expenses_usd <= 0:
        raise ValueError(f"expenses_usd must be positive to compute a benefit/cost ratio, got {inputs.expenses_usd!r}")
    extra = extra_graduates(inputs, a)
    factor = discount_factor(a)
    benefits = {
        "private_earnings": extra * a.private_value_per_grad_usd * factor,
        "public_savings": extra * a.public_value_per_grad_usd * factor,
    }
    leveraged = inputs.in_kind_usd + inputs.volunteer_hours * a.volunteer_hour_value_usd
    breakdown = {
        "direct": float(inputs.expenses_usd),
        "opportunity": inputs.expenses_usd * a.opportunity_cost_rate,
        "in_kind": inputs.in_kind_usd if a.count_in_kind else 0.0,
        "volunteer_time": inputs.volunteer_hours * a.volunteer_hour_value_usd if a.count_in_kind else 0.0,
    }
    total_benefits = sum(benefits.values())
    costs = sum(breakdown.values())
    return Result(
        extra_graduates=extra,
        benefits=benefits,
        total_benefits=total_benefits,
        costs=costs,
        cost_breakdown=breakdown,
        benefit_cost_ratio=total_benefits / costs,
        net_present_value=total_benefits - costs,
        cost_per_student=inputs.expenses_usd / inputs.students_served if inputs.students_served else None,
        cost_per_case_managed=inputs.expenses_usd / inputs.case_managed if inputs.case_managed else None,
        discount_factor=factor,
        leveraged_usd=leveraged,
    )


def calibrate_lift(inputs: Inputs, a: Assumptions, target_ratio: float) -> Assumptions:
    """The same assumptions with grad_rate_lift_pp solved so that evaluate(inputs, ...) gives target_ratio."""
    base = dataclasses.replace(a, grad_rate_lift_pp=0.0, counterfactual_grad_rate=None)
    costs = evaluate(inputs, base).costs
    per_point = inputs.seniors / 100.0 * a.attribution_share * a.value_per_grad_usd * discount_factor(a)
    if per_point <= 0:
        raise ValueError("cannot calibrate: no seniors, no attribution or no value per graduate")
    lift = target_ratio * costs / per_point
    if inputs.seniors * lift / 100.0 > inputs.graduates:
        raise ValueError(f"cannot calibrate: the ratio {target_ratio} needs more extra graduates than graduates")
    return dataclasses.replace(base, grad_rate_lift_pp=lift)


# Reference input for the presets: EMSI 2012's scope (113 high-school-serving affiliates, 2009-10) with its $184M
# of direct costs. The student counts are round, illustrative figures [U]: 100,000 seniors, of whom 87% graduated
# (the Alliance's summary of the ICF evaluation), 1.3M students served and 130,000 case-managed.
REFERENCE_INPUTS = Inputs(
    expenses_usd=184_000_000.0,
    graduates=87_000.0,
    seniors=100_000.0,
    students_served=1_300_000.0,
    case_managed=130_000.0,
    in_kind_usd=0.0,
    volunteer_hours=0.0,
)

PUBLISHED_ESTIMATES: list[dict[str, object]] = [
    {
        "source": "EMSI 2012 (for Communities In Schools, school year 2009-10)",
        "ratio": 11.6,
        "note": "$11.60 per $1; $242M of costs ($184M direct); NPV about $2.6B; 18.4% annual return to society.",
    },
    {
        "source": "Washington State Institute for Public Policy (WSIPP), December 2023",
        "ratio": 15.52,
        "note": "Per participant, 2022 dollars: $4,588 of benefits for about $295 of net cost; only a 57% chance "
        "that benefits exceed costs (Monte Carlo).",
    },
    {
        "source": "Georgia state audit, 2015",
        "ratio": 18.0,
        "note": "$18 per $1.",
    },
    {
        "source": "MDRC randomized trial of case management (Social Innovation Fund)",
        "ratio": None,
        "note": "No ratio published. No positive effect on attendance, academics or behaviour after 2 years; "
        "better nonacademic outcomes (relationships with adults, valuing education).",
    },
]

PRESET_TARGETS: dict[str, float] = {"EMSI 2012": 11.6, "WSIPP 2023": 15.52, "Georgia audit 2015": 18.0}

# What the sidebar says of each preset, for the people reading the page: the graduation lift is the one input the
# studies do not publish, so it is set so that the study's own network (REFERENCE_INPUTS) gives its published ratio.
PRESET_NOTES: dict[str, str] = {
    "EMSI 2012": (
        "Counts EMSI's opportunity costs as costs ($242M in all on $184M spent) and discounts at 3% a year (EMSI "
        "does not state its rate). The graduation lift is set so that EMSI's own network gives its $11.60."
    ),
    "WSIPP 2023": (
        "Direct costs only, discounted at 3.5% a year, as WSIPP does. The graduation lift is set so that WSIPP's "
        "case gives its $15.52; WSIPP itself gives only a 57% chance that benefits exceed costs."
    ),
    "Georgia audit 2015": (
        "Direct costs only, discounted at 3% a year. The graduation lift is set so that the audit's case gives its $18."
    ),
    "Conservative (MDRC: no effect on attendance/academics/behaviour)": (
        "No graduation lift, and partners' in-kind gifts and volunteer time counted as costs: the benefit per $1 is "
        "$0. The MDRC trial did not measure graduation; this preset is the lower bound of the evidence."
    ),
}


def _presets() -> dict[str, Assumptions]:
    """Build the presets; the published ones are calibrated on REFERENCE_INPUTS (see calibrate_lift)."""
    emsi = Assumptions(discount_rate=0.03, opportunity_cost_rate=(242.0 - 184.0) / 184.0)
    wsipp = Assumptions(discount_rate=0.035)
    georgia = Assumptions(discount_rate=0.03)
    return {
        "EMSI 2012": calibrate_lift(REFERENCE_INPUTS, emsi, PRESET_TARGETS["EMSI 2012"]),
        "WSIPP 2023": calibrate_lift(REFERENCE_INPUTS, wsipp, PRESET_TARGETS["WSIPP 2023"]),
        "Georgia audit 2015": calibrate_lift(REFERENCE_INPUTS, georgia, PRESET_TARGETS["Georgia audit 2015"]),
        "Conservative (MDRC: no effect on attendance/academics/behaviour)": Assumptions(
            grad_rate_lift_pp=0.0, count_in_kind=True
        ),
    }


PRESETS: dict[str, Assumptions] = _presets()

# Numeric assumptions the tornado moves, with the range each is clipped to.
TORNADO_BOUNDS: dict[str, tuple[float, float]] = {
    "grad_rate_lift_pp": (0.0, 100.0),
    "counterfactual_grad_rate": (0.0, 1.0),
    "private_value_per_grad_usd": (0.0, math.inf),
    "public_value_per_grad_usd": (0.0, math.inf),
    "discount_rate": (0.0, 1.0),
    "work_years": (1.0, 80.0),
    "years_to_benefit": (0.0, 50.0),
    "attribution_share": (0.0, 1.0),
    "opportunity_cost_rate": (0.0, math.inf),
    "volunteer_hour_value_usd": (0.0, math.inf),
}


def tornado(inputs: Inputs, a: Assumptions, spread: float = 0.2) -> pd.DataFrame:
    """Ratio with each numeric assumption at (1 - spread) and (1 + spread) times its base, largest swing first."""
    if not 0.0 <= spread <= 1.0:
        raise ValueError(f"spread must be between 0 and 1, got {spread!r}")
    base_ratio = evaluate(inputs, a).benefit_cost_ratio
    rows = []
    for name, (lo, hi) in TORNADO_BOUNDS.items():
        value = getattr(a, name)
        if value is None:
            continue
        if name == "grad_rate_lift_pp" and a.counterfactual_grad_rate is not None:
            continue  # the lift is ignored when a counterfactual rate is set
        if name == "volunteer_hour_value_usd" and not a.count_in_kind:
            continue  # no effect unless in-kind value is counted
        low_value = min(max(value * (1.0 - spread), lo), hi)
        high_value = min(max(value * (1.0 + spread), lo), hi)
        low_ratio = evaluate(inputs, dataclasses.replace(a, **{name: low_value})).benefit_cost_ratio
        high_ratio = evaluate(inputs, dataclasses.replace(a, **{name: high_value})).benefit_cost_ratio
        rows.append(
            {
                "assumption": name,
                "low_value": low_value,
                "high_value": high_value,
                "low_ratio": low_ratio,
                "high_ratio": high_ratio,
                "base_ratio": base_ratio,
                "swing": abs(high_ratio - low_ratio),
            }
        )
    columns = ["assumption", "low_value", "high_value", "low_ratio", "high_ratio", "base_ratio", "swing"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


def bridge(ours: Inputs, a: Assumptions, reference: Inputs = REFERENCE_INPUTS) -> pd.DataFrame:
    """From a study's return to ours on the same assumptions, one input at a time (the waterfall the ROI page
    draws): rows of step, the benefit per $1 after it, and its change from the step before, in dollars per $1.

    The ratio does not depend on the network's size, only on what each student costs and brings: the steps move
    the reference network (on which the preset reproduces the study's published return) to our cost per student
    served, our share of students who are seniors, our graduation rate (which caps the extra graduates) and our
    in-kind gifts and volunteer time per student (costs only where the preset counts them). The last row is
    evaluate(ours, a) exactly.
    """
    if ours.students_served <= 0 or ours.seniors <= 0:
        raise ValueError("a bridge needs students served and seniors")
    per_student = reference.students_served / ours.students_served
    steps: list[tuple[str, Inputs]] = [("The study's network", reference)]
    current = dataclasses.replace(reference, expenses_usd=ours.expenses_usd * per_student)
    steps.append(("Our cost per student served", current))
    seniors = ours.seniors * per_student
    current = dataclasses.replace(current, seniors=seniors, graduates=seniors * reference.graduates / reference.seniors)
    steps.append(("Our share of students who are seniors", current))
    current = dataclasses.replace(current, graduates=ours.graduates * per_student)
    steps.append(("Our graduation rate", current))
    current = dataclasses.replace(current, in_kind_usd=ours.in_kind_usd * per_student,
                                  volunteer_hours=ours.volunteer_hours * per_student)  # fmt: skip
    steps.append(("Our in-kind gifts and volunteer time per student", current))
    steps.append(("Our model", ours))
    ratios = [evaluate(inputs, a).benefit_cost_ratio for _, inputs in steps]
    changes = [ratios[0]] + [after - before for before, after in itertools.pairwise(ratios)]
    return pd.DataFrame({"step": [name for name, _ in steps], "ratio": ratios, "change": changes})
