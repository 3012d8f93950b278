"""The Affiliate profile page without Streamlit: one affiliate's report card, its frames and its figures.

`load` gathers every frame the page shows for one affiliate and year; the other functions turn those frames into
what reaches the screen. Student counts and rates pass through `privacy` first, so a small cell arrives as a label
('<10'), never as a number, in the charts, the tables and the downloads.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import sqlalchemy as sa

from dashboard import privacy
from dashboard.data import contract, geo, queries
from dashboard.formatting import LABELS, compact, markdown_text, plotly_text, without_schools_last
from dashboard.views.charts import TIER_COLOURS, TIER_NAMES, rate_axis

KPI_LABELS = {
    "students_served": "Students served",
    "case_managed": "Case-managed (tier 3)",
    "schools": "Schools and sites",
    "partners": "Community partners",
    "volunteers": "Volunteers",
}
STUDENT_COUNTS = {"students_served", "case_managed"}  # figures about students: they read their stored status
TREND_METRICS = ("remained_in_school", "promoted", "graduated")  # the headline rates, as on the Overview
TREND_LENGTH = 10
BENCHMARKS = ("affiliate", "state", "nation")
# Okabe-Ito colours not used for tiers: the affiliate stands out, its benchmarks recede.
BENCHMARK_COLOURS = {"affiliate": "#0072B2", "state": "#CC79A7", "nation": "#999999"}
BENCHMARK_OFFSETS = {"affiliate": -0.8 / 3, "state": 0.0, "nation": 0.8 / 3}  # bar centres at bargap 0.2
METRIC_COLOURS = {"remained_in_school": "#0072B2", "promoted": "#D55E00", "graduated": "#CC79A7"}
MISSING = "–"
# Revenue in Okabe-Ito colours, expense in greys: the two bars never share a colour.
FINANCE_COLOURS = {
    **dict(zip([c.replace("_", " ").capitalize() for c in contract.REVENUE_CATEGORIES],
               ["#0072B2", "#56B4E9", "#009E73", "#E69F00", "#CC79A7", "#D55E00"], strict=True)),
    **dict(zip([c.capitalize() for c in contract.EXPENSE_CATEGORIES], ["#4D4D4D", "#999999", "#CCCCCC"], strict=True)),
}  # fmt: skip
KIND_NAMES = {"affiliate": "Affiliate", "licensed_partner": "Licensed partner", "state_office": "State office"}


@dataclass(frozen=True)
class ProfileData:
    """Everything the page shows for one affiliate: totals by year, then the chosen year's detail."""

    affiliate: dict[str, str]
    totals: pd.DataFrame  # kpi_totals by school year, with partners and in-kind dollars
    schools: pd.DataFrame  # affiliate_school_list for the year
    by_tier: pd.DataFrame  # students_served_by_tier, every year
    benchmarks: pd.DataFrame  # affiliate_outcome_benchmarks over the trend years
    supports: pd.DataFrame  # supports_by_category for the year
    partners: pd.DataFrame  # partners_by_category for the year
    finances: pd.DataFrame  # finances_by_category for the year


@dataclass(frozen=True)
class Card:
    """One headline figure as text: label, value, change from the year before and its explanation."""

    label: str
    value: str
    delta: str | None
    help: str


def trend_years(years: list[str], year: str, length: int = TREND_LENGTH) -> tuple[str, ...]:
    """The `length` school years with data ending at `year`."""
    end = years.index(year) + 1
    return tuple(years[max(0, end - length) : end])


def load(engine: sa.Engine, affiliate_id: str, year: str, years: tuple[str, ...], scope: queries.Scope
         ) -> ProfileData | None:  # fmt: skip
    """The profile of an affiliate in scope for `year` (trend over `years`); None when it is out of scope."""
    details = queries.affiliate_details(engine, affiliate_id, scope)
    if details.empty:
        return None
    mine = queries.Filters(affiliates=(affiliate_id,))
    this_year = mine.with_years(year)
    totals = queries.kpi_totals(engine, mine, scope).set_index("school_year")
    partners = queries.partners_by_year(engine, mine, scope).set_index("school_year")
    totals = totals.join(partners[["partners", "in_kind_usd"]], how="outer").reset_index()
    return ProfileData(
        affiliate={k: str(v) for k, v in details.iloc[0].items()},
        totals=totals,
        schools=queries.affiliate_school_list(engine, affiliate_id, year, scope),
        by_tier=queries.students_served_by_tier(engine, mine, scope),
        benchmarks=queries.affiliate_outcome_benchmarks(engine, affiliate_id, years, scope),
        supports=queries.supports_by_category(engine, this_year, scope),
        partners=queries.partners_by_category(engine, this_year, scope),
        finances=queries.finances_by_category(engine, this_year, scope),
    )


def choose(wanted: str | None, ids: list[str]) -> tuple[str, str | None]:
    """The affiliate to show from an untrusted URL value, and a notice when the value was set aside.

    Unknown and out-of-scope ids get the same notice, so the page does not reveal which ids exist.
    """
    if wanted is None or wanted in ids:
        return (wanted or ids[0]), None
    return ids[0], f"Affiliate '{markdown_text(wanted[:40])}' is not one you can view; showing another instead."


def picker_labels(places: pd.DataFrame, reporting: frozenset[str] | None = None, year: str = "") -> dict[str, str]:
    """affiliate_id -> 'Name (ST)' in alphabetical order of the label; with `reporting` (the affiliates holding a
    school in `year`), the others follow, each marked 'no schools in <year>'."""
    labels = {i: f"{n} ({s})" for i, n, s in zip(places["affiliate_id"], places["name"], places["state"], strict=True)}
    labels = dict(sorted(labels.items(), key=lambda item: item[1].lower()))
    return labels if reporting is None else without_schools_last(labels, reporting, year)


def headline(affiliate: dict[str, str]) -> str:
    """'Affiliate in Houston, Texas' under the affiliate's name."""
    state = geo.state_name(affiliate["state"]) if affiliate["state"] in geo.STATES else affiliate["state"]
    return f"{KIND_NAMES.get(affiliate['kind'], affiliate['kind'])} in {affiliate['city']}, {state}"


def years_with_data(totals: pd.DataFrame) -> list[str]:
    """School years in which the affiliate had at least one school reporting."""
    return sorted(totals.loc[totals["schools"].fillna(0) > 0, "school_year"])


def kpi_cards(totals: pd.DataFrame, year: str, previous: str | None) -> list[Card]:
    """The headline cards for `year` with the change from `previous`; a student count whose stored status
    ('<count>_status') suppresses it reads '<10' (small) or 'hidden' (protecting another), with no change."""
    rows = totals.set_index("school_year")
    now = rows.loc[year] if year in rows.index else None
    before = rows.loc[previous] if previous is not None and previous in rows.index else None
    cards = []
    for column, label in KPI_LABELS.items():
        value = _number(now, column)
        last = _number(before, column)
        hidden = _count_hidden(now, column, value)
        suppressed = hidden is not None or _count_hidden(before, column, last) is not None
        shown = hidden or _compact(value)
        delta = None if suppressed or value is None or last is None else compact(value - last)
        why = f"Change from {previous}." if delta is not None else "No comparable figure for the year before."
        if suppressed:
            why = ("Suppressed this year or the year before (fewer than 10 students, or hidden so a total cannot "
                   "reveal a smaller group): the figure's change is not shown.")  # fmt: skip
        cards.append(Card(label, shown, delta, why))
    return cards


def _count_hidden(row: pd.Series | None, column: str, value: float | None) -> str | None:
    """The label of a student count its stored status suppresses ('<10', 'hidden'), else None."""
    if column not in STUDENT_COUNTS or row is None or value is None:
        return None
    return privacy.count_label(row.get(f"{column}_status"))


def _number(row: pd.Series | None, column: str) -> float | None:
    if row is None or column not in row or pd.isna(row[column]):
        return None
    return float(row[column])


def _compact(value: float | None) -> str:
    return MISSING if value is None else compact(value)


def _count_label(value: object) -> str:
    return privacy.suppressed_label() if pd.isna(value) else f"{int(value):,}"


def _count_text(value: object) -> str:
    """A count from privacy.with_labels as text: its label as it is, a number with thousands separators."""
    return value if isinstance(value, str) else f"{int(value):,}"


def schools_table(schools: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The schools reporting this year as a display table, and how many of the affiliate's schools did not report.

    Students served reads its stored status: '<10' when small, 'hidden' when hidden so the total cannot give a
    small school away.
    """
    reporting = schools[schools["students_served"].notna()].reset_index(drop=True)
    safe = privacy.with_labels(privacy.published_counts(reporting))
    table = pd.DataFrame({
        "School": safe["name"],
        "Students served": safe["students_served"].map(_count_text),
        "City": safe["city"],
        "Level": safe["level"].map(_words),
        "Locale": safe["locale"].map(_words),
        "Title I": safe["title_i"].map({True: "Yes", False: "No"}),
    })  # fmt: skip
    return table, len(schools) - len(reporting)


def _words(value: str) -> str:
    return str(value).replace("_", " ").capitalize()


def tiers_over_time(by_tier: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Students by tier and year for the chart (suppressed counts missing) and for the table ('<10' or 'hidden'
    labels, from each count's stored status)."""
    safe = privacy.published_counts(by_tier)
    chart = safe.assign(students=safe["students"].astype("Float64").astype(float))
    labelled = privacy.with_labels(safe)
    table = pd.DataFrame({
        "school_year": safe["school_year"],
        "tier": safe["tier"].map(TIER_NAMES),
        "students": labelled["students"].map(_count_text),
    })  # fmt: skip
    return chart, table


def _n_label(eligible: object) -> str:
    return "n suppressed" if pd.isna(eligible) else f"n = {int(eligible):,} eligible"


def benchmark_names(affiliate: dict[str, str]) -> dict[str, str]:
    """Legend names of the three benchmarks: the affiliate's name, its state's name, 'Nation'."""
    state = geo.state_name(affiliate["state"]) if affiliate["state"] in geo.STATES else affiliate["state"]
    return {"affiliate": affiliate["name"], "state": state, "nation": "Nation"}


def benchmark_bars(benchmarks: pd.DataFrame, year: str, names: dict[str, str]) -> pd.DataFrame:
    """The year's rates of the affiliate, its state and the nation per metric, suppressed and labelled.

    Columns: benchmark, place, metric, metric_label, eligible, met, rate, rate_label, suppressed, n_label.
    """
    rows = benchmarks[benchmarks["school_year"] == year].reset_index(drop=True)
    safe = privacy.suppress_rates(rows, groups=[])
    safe["place"] = safe["benchmark"].map(names)
    safe["metric_label"] = safe["metric"].map(LABELS)
    safe["n_label"] = safe["eligible"].map(_n_label)
    order = {m: i for i, m in enumerate(contract.METRICS)}
    safe = safe.assign(_m=safe["metric"].map(order), _b=safe["benchmark"].map(BENCHMARKS.index))
    cols = ["benchmark", "place", "metric", "metric_label", "eligible", "met", "rate", "rate_label", "suppressed",
            "n_label"]  # fmt: skip
    return safe.sort_values(["_m", "_b"], ignore_index=True)[cols]


def benchmark_figure(bars: pd.DataFrame) -> go.Figure:
    """Horizontal bars grouped per metric: affiliate, state, nation; a suppressed cell has no bar and a '<10' mark."""
    metrics = [LABELS[m] for m in contract.METRICS if m in set(bars["metric"])]
    fig = go.Figure()
    for benchmark in BENCHMARKS:
        part = bars[bars["benchmark"] == benchmark].set_index("metric_label").reindex(metrics)
        if part["place"].isna().all():
            continue
        place = part["place"].dropna().iloc[0]
        shown = part["suppressed"].eq(False).tolist()
        fig.add_bar(
            y=metrics,
            x=[float(r) if s else None for r, s in zip(part["rate"], shown, strict=True)],
            orientation="h",
            name=plotly_text(place),
            showlegend=True,
            marker_color=BENCHMARK_COLOURS[benchmark],
            text=[lab if s else None for lab, s in zip(part["rate_label"], shown, strict=True)],
            textposition="outside",
            cliponaxis=False,
            customdata=list(zip(part["rate_label"].fillna("no data"), part["n_label"].fillna("no data"), strict=True)),
            hovertemplate="%{y}: %{customdata[0]} (%{customdata[1]})<extra>" + place + "</extra>",
        )
        for i, (hidden, mark) in enumerate(zip(part["suppressed"].eq(True), part["rate_label"], strict=True)):
            if hidden:
                fig.add_annotation(y=i + BENCHMARK_OFFSETS[benchmark], x=0, xanchor="left",
                                   text=mark if mark == privacy.HIDDEN_LABEL else privacy.SUPPRESSED, showarrow=False,
                                   font={"color": BENCHMARK_COLOURS[benchmark], "size": 11},
                                   hovertext=f"{place}: suppressed, fewer than 10 eligible students")  # fmt: skip
    fig.update_layout(
        barmode="group",
        height=110 + 70 * len(metrics),
        xaxis={"title": "Rate", "tickformat": ".0%", "range": [0, 1.1]},
        yaxis={"type": "category", "autorange": "reversed"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"t": 30, "l": 10, "r": 10, "b": 10},
    )
    return fig


def places_without_outcomes(bars: pd.DataFrame, names: dict[str, str]) -> list[str]:
    """Names of the affiliate, state or nation that have no outcome rows this year, in that order."""
    present = set(bars["benchmark"])
    return [names[b] for b in BENCHMARKS if b not in present]


def benchmark_table(bars: pd.DataFrame) -> pd.DataFrame:
    """The benchmark bars as a table for people and CSV: suppressed values blank, rates rounded as shown."""
    out = bars[["place", "metric_label", "eligible", "met", "rate", "rate_label", "suppressed"]].copy()
    out["rate"] = out["rate"].round(3)
    return out.rename(columns={"metric_label": "metric"})


def rate_trend(benchmarks: pd.DataFrame) -> pd.DataFrame:
    """The affiliate's headline rates per school year, suppressed, with n labels; every metric's rows kept."""
    rows = benchmarks[benchmarks["benchmark"] == "affiliate"].reset_index(drop=True)
    safe = privacy.suppress_rates(rows, groups=[])
    safe["n_label"] = safe["eligible"].map(_n_label)
    safe = safe[safe["metric"].isin(TREND_METRICS)]
    cols = ["school_year", "metric", "eligible", "met", "rate", "rate_label", "suppressed", "n_label"]
    return safe.sort_values(["metric", "school_year"], ignore_index=True)[cols]


def trend_figure(trend: pd.DataFrame, years: tuple[str, ...]) -> go.Figure:
    """One line per headline rate across the school years; suppressed years are gaps, hover gives n."""
    fig = go.Figure()
    for metric in TREND_METRICS:
        part = trend[trend["metric"] == metric].set_index("school_year").reindex(list(years))
        fig.add_scatter(
            x=list(years),
            y=[float(r) if s is False else None for r, s in zip(part["rate"], part["suppressed"], strict=True)],
            mode="lines+markers",
            name=LABELS[metric],
            line={"color": METRIC_COLOURS[metric]},
            customdata=list(zip(part["rate_label"].fillna("no data"), part["n_label"].fillna("no data"), strict=True)),
            hovertemplate="%{x}: %{customdata[0]} (%{customdata[1]})<extra>" + LABELS[metric] + "</extra>",
        )
    fig.update_layout(
        yaxis={"title": "Rate", **rate_axis(trend.loc[~trend["suppressed"], "rate"])},
        xaxis={"title": "School year", "type": "category"},
        legend={"orientation": "h", "y": -0.3},
        margin={"t": 10, "l": 10, "r": 10},
    )
    return fig


def span(years: tuple[str, ...]) -> str:
    """'2015-16 to 2022-23', or the one year."""
    return years[0] if len(years) == 1 else f"{years[0]} to {years[-1]}"


def table_height(rows: int, most: int = 300) -> int:
    """Pixels for a table of `rows` rows without blank space below, scrolling past `most`."""
    return min(most, 38 + 35 * rows)


def supports_table(supports: pd.DataFrame) -> pd.DataFrame:
    """Students and services per support category and tier, with small counts (and complements) suppressed."""
    safe = privacy.suppress_counts(supports.reset_index(drop=True), ["students", "services"],
                                   groups=[["tier"], ["category"]])  # fmt: skip
    safe["category"] = safe["category"].map(_words)
    return safe[["category", "tier", "students", "services", "suppressed"]]


def supports_figure(table: pd.DataFrame) -> go.Figure:
    """Horizontal bars of students supported per category, stacked by tier; suppressed parts left out."""
    order = table.groupby("category")["students"].sum().sort_values().index.tolist()
    fig = go.Figure()
    for tier, part in table.groupby("tier"):
        part = part.set_index("category").reindex(order)
        fig.add_bar(
            y=order,
            x=part["students"].astype(float),
            orientation="h",
            name=TIER_NAMES[int(tier)],
            marker_color=TIER_COLOURS[int(tier)],
            customdata=part["students"].map(_count_label),
            hovertemplate="%{y}: %{customdata} students<extra>" + TIER_NAMES[int(tier)] + "</extra>",
        )
    fig.update_layout(barmode="stack", xaxis_title="Students supported", legend={"orientation": "h", "y": -0.25},
                      margin={"t": 10, "l": 10, "r": 10})  # fmt: skip
    return fig


def supports_export(table: pd.DataFrame) -> pd.DataFrame:
    """The supports table with '<10' in place of suppressed counts, for screen and CSV."""
    out = table.drop(columns="suppressed").copy()
    out["tier"] = out["tier"].map(TIER_NAMES)
    for column in ("students", "services"):
        out[column] = out[column].map(_count_label)
    return out


def partner_summary(partners: pd.DataFrame, top: int = 3) -> tuple[str, str, str]:
    """(partner count, in-kind dollars, top categories) as text for the partner cards."""
    if partners.empty:
        return "0", "$0", MISSING
    ranked = partners.sort_values(["partners", "in_kind_usd"], ascending=False).head(top)
    categories = ", ".join(f"{_words(c)} ({n})" for c, n in zip(ranked["category"], ranked["partners"], strict=True))
    return f"{int(partners['partners'].sum()):,}", "$" + compact(float(partners["in_kind_usd"].sum())), categories


def partners_figure(partners: pd.DataFrame) -> go.Figure:
    """Horizontal bars of partners per category; hover gives schools reached and in-kind dollars."""
    frame = partners.sort_values("partners")
    fig = go.Figure()
    fig.add_bar(
        y=frame["category"].map(_words),
        x=frame["partners"],
        orientation="h",
        marker_color="#0072B2",
        customdata=list(
            zip(frame["schools_reached"], frame["in_kind_usd"].map(lambda v: "$" + compact(v)), strict=True)
        ),
        hovertemplate="%{y}: %{x} partners, %{customdata[0]} schools, %{customdata[1]} in kind<extra></extra>",
    )
    fig.update_layout(xaxis_title="Partners", margin={"t": 10, "l": 10, "r": 10}, showlegend=False)
    return fig


def finances_table(finances: pd.DataFrame) -> pd.DataFrame:
    """Revenue and expense per category, in dollars, revenue first."""
    out = finances.assign(line=finances["line"].str.capitalize(), category=finances["category"].map(_words))
    return out.sort_values(["line", "amount_usd"], ascending=[False, False], ignore_index=True)[
        ["line", "category", "amount_usd"]
    ]


def finance_totals(finances: pd.DataFrame) -> dict[str, float]:
    """Total revenue and expense in dollars (0 where a line has no rows)."""
    sums = finances.groupby("line")["amount_usd"].sum()
    return {line: float(sums.get(line, 0.0)) for line in ("revenue", "expense")}


def finances_figure(table: pd.DataFrame) -> go.Figure:
    """Two stacked horizontal bars, revenue and expense, one segment per category."""
    fig = go.Figure()
    for category, part in table.groupby("category", sort=False):
        fig.add_bar(
            y=part["line"],
            x=part["amount_usd"],
            orientation="h",
            name=category,
            marker_color=FINANCE_COLOURS.get(category, "#999999"),
            hovertemplate="%{y}, " + category + ": $%{x:,.0f}<extra></extra>",
        )
    fig.update_layout(barmode="stack", xaxis={"title": "Dollars", "tickprefix": "$"},
                      yaxis={"categoryorder": "array", "categoryarray": ["Expense", "Revenue"]},
                      legend={"orientation": "h", "y": -0.35}, margin={"t": 10, "l": 10, "r": 10})  # fmt: skip
    return fig


def money(value: float) -> str:
    """$1,234,567 -> '$1.2M'."""
    return "$" + compact(value)
