"""The ROI page's numbers and figures: query frames in, roi.Inputs, tidy tables and plotly figures out."""

from __future__ import annotations

import dataclasses

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import privacy, roi

ASSUMPTION_LABELS: dict[str, str] = {
    "grad_rate_lift_pp": "Graduation-rate lift (points)",
    "counterfactual_grad_rate": "Graduation rate without the program",
    "private_value_per_grad_usd": "Private earnings gain per extra graduate",
    "public_value_per_grad_usd": "Public savings per extra graduate",
    "value_discount_rate": "Rate the per-graduate values were published at",
    "discount_rate": "Discount rate",
    "work_years": "Working years",
    "years_to_benefit": "Years until the gains start",
    "attribution_share": "Share attributable to the program",
    "opportunity_cost_rate": "Opportunity costs (share of direct spending)",
    "volunteer_hour_value_usd": "Value of a volunteer hour",
    "count_in_kind": "Count in-kind gifts and volunteer time as costs",
}

# Okabe-Ito, as in dashboard.views.charts.
FUNDING_COLOURS = {
    "government": "#0072B2",
    "foundation": "#009E73",
    "corporate": "#E69F00",
    "individual": "#56B4E9",
    "events": "#CC79A7",
    "in_kind": "#D55E00",
}
FUNDING_NAMES = {
    "government": "Government",
    "foundation": "Foundations",
    "corporate": "Corporations",
    "individual": "Individuals",
    "events": "Events",
    "in_kind": "In-kind revenue (affiliates' books)",
}
LOW_COLOUR, HIGH_COLOUR, MUTED = "#56B4E9", "#E69F00", "#BFC7D1"
LAYOUT = {"margin": {"t": 10, "l": 10, "r": 10}, "legend": {"orientation": "h", "y": -0.25}}


def _year_value(frame: pd.DataFrame, year: str, column: str) -> float:
    """Sum of a column over the rows of one school year (0 when there are none)."""
    if frame.empty:
        return 0.0
    return float(frame.loc[frame["school_year"] == year, column].sum())


def inputs_for_year(
    year: str, finances: pd.DataFrame, graduation: pd.DataFrame, totals: pd.DataFrame, partners: pd.DataFrame
) -> roi.Inputs:
    """roi.Inputs for one school year from finances_by_category, outcome_rates, kpi_totals and partners_by_year."""
    expenses = finances[finances["line"] == "expense"] if not finances.empty else finances
    graduated = graduation[graduation["metric"] == "graduated"] if not graduation.empty else graduation
    return roi.Inputs(
        expenses_usd=_year_value(expenses, year, "amount_usd"),
        graduates=_year_value(graduated, year, "met"),
        seniors=_year_value(graduated, year, "eligible"),
        students_served=_year_value(totals, year, "students_served"),
        case_managed=_year_value(totals, year, "case_managed"),
        in_kind_usd=_year_value(partners, year, "in_kind_usd"),
        volunteer_hours=_year_value(partners, year, "partner_volunteer_hours"),
    )


def published_result(result: roi.Result, totals: pd.DataFrame, year: str) -> roi.Result:
    """The model's result as the page may show it: the cost per student served (per case-managed student) is None
    when that count of `year` is not shown by its stored status (kpi_totals' `<count>_status`), since the expenses
    shown beside it would give the count back. Nothing else in the result depends on a student count."""
    row = totals[totals["school_year"] == year]
    hidden = {
        count
        for count in ("students_served", "case_managed")
        if f"{count}_status" in row and (row.empty or (row[f"{count}_status"] != "shown").any())
    }
    return dataclasses.replace(
        result,
        cost_per_student=None if "students_served" in hidden else result.cost_per_student,
        cost_per_case_managed=None if "case_managed" in hidden else result.cost_per_case_managed,
    )


def published_estimates(estimates: list[dict[str, object]]) -> pd.DataFrame:
    """The published estimates as a table: source, dollars returned per $1 (blank when none), note."""
    frame = pd.DataFrame(estimates, columns=["source", "ratio", "note"])
    return frame.rename(columns={"ratio": "return_per_dollar"})


def cost_per_student_by_year(finances: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """Per school year: expenses (USD), students served, case-managed, and expenses per student of each kind (USD).

    The counts carry their stored status (kpi_totals' `<count>_status`): a count not shown is blank, and so is the
    cost per student of that kind, since the expenses beside it would give the count back.
    """
    spent = (
        finances[finances["line"] == "expense"]
        .groupby("school_year", as_index=False)["amount_usd"]
        .sum()
        .rename(columns={"amount_usd": "expenses_usd"})
    )
    counts = ["students_served", "case_managed"]
    columns = ["school_year", *counts, *(f"{c}_status" for c in counts if f"{c}_status" in totals)]
    frame = spent.merge(totals[columns], on="school_year", how="inner")
    if all(f"{c}_status" in frame for c in counts):
        frame = privacy.published_counts(frame).drop(columns="suppressed")
    for count, cost in (("students_served", "cost_per_student"), ("case_managed", "cost_per_case_managed")):
        students = pd.to_numeric(frame[count]).astype(float)
        frame[cost] = frame["expenses_usd"] / students.where(students > 0)
    return frame.sort_values("school_year", ignore_index=True)


def funding_mix(finances: pd.DataFrame) -> pd.DataFrame:
    """Per school year x revenue category: amount and share of that year's revenue."""
    frame = finances.loc[finances["line"] == "revenue", ["school_year", "category", "amount_usd"]].copy()
    frame["share"] = frame["amount_usd"] / frame.groupby("school_year")["amount_usd"].transform("sum")
    return frame.sort_values(["school_year", "category"], ignore_index=True)


def tornado_table(frame: pd.DataFrame) -> pd.DataFrame:
    """roi.tornado's frame with a readable label first."""
    labelled = frame.copy()
    labelled.insert(0, "label", labelled["assumption"].map(ASSUMPTION_LABELS).fillna(labelled["assumption"]))
    return labelled


def tornado(frame: pd.DataFrame) -> go.Figure:
    """Bars from the base ratio to the ratio at -20% and +20% of each assumption that moves it, largest on top."""
    table = tornado_table(frame[frame["swing"] > 0])
    fig = go.Figure()
    for side, colour, name in (("low", LOW_COLOUR, "Assumption 20% lower"), ("high", HIGH_COLOUR, "20% higher")):
        fig.add_bar(
            y=table["label"],
            x=table[f"{side}_ratio"] - table["base_ratio"],
            base=table["base_ratio"],
            orientation="h",
            name=name,
            marker_color=colour,
            customdata=table[[f"{side}_value", f"{side}_ratio"]].to_numpy(),
            hovertemplate="%{y} = %{customdata[0]:,.4~g}: %{customdata[1]:.2f} per $1<extra></extra>",
        )
    if table.empty:
        fig.add_annotation(text="No assumption moves the ratio by 20% either way", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)  # fmt: skip
        fig.update_xaxes(visible=False)  # an empty grid with a dollar axis read as a chart of nothing
        fig.update_yaxes(visible=False)
    else:
        fig.add_vline(x=float(table["base_ratio"].iloc[0]), line_color="#1F2937", line_dash="dot")
    fig.update_layout(barmode="overlay", xaxis={"title": "Benefit per $1 of cost", "tickprefix": "$"},
                      yaxis={"autorange": "reversed"}, height=80 + 36 * max(len(table), 1), **LAYOUT)  # fmt: skip
    return fig


def cost_per_student(frame: pd.DataFrame, highlight: str | None = None) -> go.Figure:
    """Two panels of bars, one above the other: expenses per student served and per case-managed student (dollars),
    the chosen year darker. Stacked, not side by side, so their titles and dollar axes keep apart on a phone."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.14,
                        subplot_titles=("Per student served", "Per case-managed student (tier 3)"))  # fmt: skip
    colours = ["#0072B2" if year == highlight else MUTED for year in frame["school_year"]]
    for row, (column, who) in enumerate(
        (("cost_per_student", "student served"), ("cost_per_case_managed", "case-managed student")), start=1
    ):
        fig.add_bar(x=frame["school_year"], y=frame[column], marker_color=colours, showlegend=False,
                    hovertemplate="%{x}: $%{y:,.2f} per " + who + "<extra></extra>", row=row, col=1)  # fmt: skip
    fig.update_yaxes(tickprefix="$", tickformat=",.0f", rangemode="tozero")
    fig.update_annotations(x=0, xanchor="left")  # the panel titles sit over the axis, short of the other edge
    fig.update_layout(height=560, margin={"t": 30, "l": 10, "r": 10})
    return fig


def funding_mix_chart(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars of revenue per school year, one colour per funding source."""
    fig = go.Figure()
    order = [c for c in FUNDING_COLOURS if c in set(frame["category"])]
    order += sorted(set(frame["category"]) - set(order))
    for category in order:
        part = frame[frame["category"] == category]
        name = FUNDING_NAMES.get(category, str(category).replace("_", " ").capitalize())
        fig.add_bar(
            x=part["school_year"],
            y=part["amount_usd"],
            name=name,
            marker_color=FUNDING_COLOURS.get(category),
            customdata=part["share"],
            hovertemplate="%{x}: $%{y:,.0f} (%{customdata:.0%})<extra>" + name + "</extra>",
        )
    # No "School year" under the axis: the years say it, and on a phone the title ran into the legend.
    fig.update_layout(barmode="stack", yaxis={"title": "Revenue", "tickprefix": "$"},
                      legend={"orientation": "h", "y": -0.25, "traceorder": "normal"}, margin=LAYOUT["margin"])  # fmt: skip
    return fig


def bridge_chart(steps: pd.DataFrame) -> go.Figure:
    """A waterfall from the study's published return to ours (roi.bridge), one bar per input that moves it."""
    moved = steps[(steps.index == 0) | (steps.index == len(steps) - 1) | (steps["change"].abs() >= 0.005)]
    last = len(moved) - 1
    fig = go.Figure(go.Waterfall(
        x=moved["step"], y=[v if i not in (0, last) else r for i, (v, r) in enumerate(zip(moved["change"],
                                                                                           moved["ratio"], strict=True))],
        measure=["absolute", *["relative"] * (last - 1), "total"],
        text=[f"${r:,.2f}" if i in (0, last) else f"{'+' if v >= 0 else '-'}${abs(v):,.2f}"
              for i, (v, r) in enumerate(zip(moved["change"], moved["ratio"], strict=True))],
        textposition="outside", connector={"line": {"color": MUTED}},
        increasing={"marker": {"color": HIGH_COLOUR}}, decreasing={"marker": {"color": LOW_COLOUR}},
        totals={"marker": {"color": "#0072B2"}}, hovertemplate="%{x}: %{text}<extra></extra>",
    ))  # fmt: skip
    top = float(moved["ratio"].max())
    fig.update_layout(yaxis={"title": "Benefit per $1 of cost", "tickprefix": "$", "range": [0, top * 1.15]},
                      showlegend=False, **LAYOUT)  # fmt: skip
    return fig


def bridge_sentence(steps: pd.DataFrame, preset: str) -> str:
    """What the waterfall says, in words: the two ends and the step that moves the ratio most."""
    inner = steps.iloc[1:-1]
    biggest = inner.loc[inner["change"].abs().idxmax()] if len(inner) else None
    said = (f"On the {preset} assumptions the model gives ${steps['ratio'].iloc[-1]:,.2f} per $1 on our data, "
            f"against the study's ${steps['ratio'].iloc[0]:,.2f}.")  # fmt: skip
    if biggest is not None and abs(biggest["change"]) >= 0.005:
        direction = "lowers" if biggest["change"] < 0 else "raises"
        said += f" {biggest['step']} {direction} it most, by ${abs(biggest['change']):,.2f}."
    return said
