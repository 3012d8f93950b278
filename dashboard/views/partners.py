"""The Partners page without Streamlit: partner queries, the reach distribution, and the page's figures.

Every query joins partnerships to schools and applies `queries.school_conditions`, so an affiliate lead sees
only partnerships at its own affiliates' schools, and a partner's figures count only those schools. A view of
every school in one school year (the admin's default) reads the national partner rollups instead. Partner
names come from loaded data: figures that carry text from the database escape it (plotly renders some HTML
in hovers and axis labels); tables show it as text.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import sqlalchemy as sa
from plotly.subplots import make_subplots

from dashboard import formatting
from dashboard.data import contract, queries
from dashboard.data.db import partner_category_rollup, partner_year_rollup, partners, partnerships, schools

CATEGORY_LABELS = {
    "business": "Business",
    "nonprofit": "Nonprofit",
    "faith_based": "Faith-based",
    "government": "Government",
    "higher_education": "Higher education",
    "healthcare": "Healthcare",
    "philanthropy": "Philanthropy",
    "civic": "Civic",
}
SUPPORT_LABELS = {
    "academic_assistance": "Academic assistance",
    "basic_needs": "Basic needs",
    "behavioral_interventions": "Behavioral interventions",
    "college_career_prep": "College and career prep",
    "enrichment": "Enrichment",
    "family_engagement": "Family engagement",
    "life_skills": "Life skills",
    "mental_health": "Mental health",
    "physical_health": "Physical health",
    "service_learning": "Service learning",
}
BAR_COLOUR = "#0072B2"  # Okabe-Ito blue; the chosen year stands out in orange
HIGHLIGHT_COLOUR = "#E69F00"
MUTED_COLOUR = "#9CA3AF"
TOP_N = 25
ONE_BAR_PER_COUNT_UP_TO = 15  # beyond this many schools, counts are grouped into wider bins
WIDE_BINS = ((1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, None))
TOP_TABLE_COLUMNS = {
    "name": "Partner",
    "category": "Category",
    "schools_reached": "Schools reached",
    "in_kind_usd": "In-kind value (USD)",
    "volunteer_hours": "Volunteer hours",
}


def _where(filters: queries.Filters, scope: queries.Scope) -> list[sa.ColumnElement[bool]]:
    return [*queries.school_conditions(filters, scope), *queries.year_condition(partnerships.c.school_year, filters)]


def partner_reach(
    engine: sa.Engine, filters: queries.Filters, scope: queries.Scope = queries.EVERYTHING
) -> pd.DataFrame:
    """How many partners reach exactly n schools in view: columns schools_reached (n >= 1), partners."""
    p = partnerships.c
    if (year := queries.national_partner_year(filters, scope)) is not None:
        r = partner_year_rollup.c
        per_partner = sa.select(r.schools_reached).where(r.school_year == year).subquery()
    else:
        per_partner = (
            sa.select(p.partner_id, sa.func.count(sa.distinct(p.school_id)).label("schools_reached"))
            .select_from(partnerships.join(schools))
            .where(*_where(filters, scope))
            .group_by(p.partner_id)
            .subquery()
        )
    stmt = (
        sa.select(per_partner.c.schools_reached, sa.func.count().label("partners"))
        .group_by(per_partner.c.schools_reached)
        .order_by(per_partner.c.schools_reached)
    )
    return queries.read_frame(engine, stmt).astype({"schools_reached": "int64", "partners": "int64"})


def partner_support_matrix(
    engine: sa.Engine, filters: queries.Filters, scope: queries.Scope = queries.EVERYTHING
) -> pd.DataFrame:
    """Per partner category x support category given: distinct partners, schools reached, in-kind $, hours."""
    p = partnerships.c
    if (year := queries.national_partner_year(filters, scope)) is not None:
        r = partner_category_rollup.c
        stmt = (
            sa.select(
                r.partner_category, r.support_category, r.partners, r.schools_reached, r.in_kind_usd, r.volunteer_hours
            )
            .where(r.school_year == year, r.support_category != "")
            .order_by(r.partner_category, r.support_category)
        )
    else:
        stmt = (
            sa.select(
                partners.c.category.label("partner_category"),
                p.category.label("support_category"),
                sa.func.count(sa.distinct(p.partner_id)).label("partners"),
                sa.func.count(sa.distinct(p.school_id)).label("schools_reached"),
                sa.func.sum(p.in_kind_usd).label("in_kind_usd"),
                sa.func.sum(p.volunteer_hours).label("volunteer_hours"),
            )
            .select_from(partnerships.join(schools).join(partners))
            .where(*_where(filters, scope))
            .group_by(partners.c.category, p.category)
            .order_by(partners.c.category, p.category)
        )
    frame = queries.read_frame(engine, stmt)
    frame[["partners", "schools_reached"]] = frame[["partners", "schools_reached"]].astype("int64")
    frame[["in_kind_usd", "volunteer_hours"]] = frame[["in_kind_usd", "volunteer_hours"]].astype(float)
    return frame


def top_partners(
    engine: sa.Engine,
    filters: queries.Filters,
    scope: queries.Scope = queries.EVERYTHING,
    limit: int | None = TOP_N,
) -> pd.DataFrame:
    """Partners in view, largest in-kind value first (ties by id); all of them when limit is None.

    Columns: partner_id, name, category, schools_reached, in_kind_usd, volunteer_hours.
    """
    if (year := queries.national_partner_year(filters, scope)) is not None:
        return _top_from_rollup(engine, year, limit)
    p = partnerships.c
    in_kind = sa.func.sum(p.in_kind_usd)
    stmt = (
        sa.select(
            p.partner_id,
            partners.c.name,
            partners.c.category,
            sa.func.count(sa.distinct(p.school_id)).label("schools_reached"),
            in_kind.label("in_kind_usd"),
            sa.func.sum(p.volunteer_hours).label("volunteer_hours"),
        )
        .select_from(partnerships.join(schools).join(partners))
        .where(*_where(filters, scope))
        .group_by(p.partner_id, partners.c.name, partners.c.category)
        .order_by(in_kind.desc(), p.partner_id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    frame = queries.read_frame(engine, stmt)
    frame["schools_reached"] = frame["schools_reached"].astype("int64")
    frame[["in_kind_usd", "volunteer_hours"]] = frame[["in_kind_usd", "volunteer_hours"]].astype(float)
    return frame


def _top_from_rollup(engine: sa.Engine, year: str, limit: int | None) -> pd.DataFrame:
    """top_partners for every school in one school year: the per-partner rollup, names joined to the rows kept."""
    r = partner_year_rollup.c
    ranked = sa.select(r.partner_id, r.schools_reached, r.in_kind_usd, r.volunteer_hours).where(r.school_year == year)
    ranked = ranked.order_by(r.in_kind_usd.desc(), r.partner_id)
    top = (ranked.limit(limit) if limit is not None else ranked).subquery()
    stmt = (
        sa.select(
            top.c.partner_id,
            partners.c.name,
            partners.c.category,
            top.c.schools_reached,
            top.c.in_kind_usd,
            top.c.volunteer_hours,
        )
        .select_from(top.join(partners, partners.c.partner_id == top.c.partner_id))
        .order_by(top.c.in_kind_usd.desc(), top.c.partner_id)
    )
    frame = queries.read_frame(engine, stmt)
    frame["schools_reached"] = frame["schools_reached"].astype("int64")
    frame[["in_kind_usd", "volunteer_hours"]] = frame[["in_kind_usd", "volunteer_hours"]].astype(float)
    return frame


def category_label(value: str) -> str:
    """'faith_based' -> 'Faith-based'; an unknown value as it is."""
    return CATEGORY_LABELS.get(value, value)


def support_label(value: str) -> str:
    """'college_career_prep' -> 'College and career prep'; an unknown value as it is."""
    return SUPPORT_LABELS.get(value, value)


def _safe(text: object) -> str:
    """Text from the database, safe inside a plotly label or hover (plotly renders some HTML tags)."""
    return html.escape(str(text))


def category_bars(by_category: pd.DataFrame) -> go.Figure:
    """Horizontal bars: distinct partners per partner category (one year), largest on top; hover adds the rest."""
    frame = by_category.sort_values(["partners", "category"], ascending=[True, False])
    labels = [_safe(category_label(c)) for c in frame["category"]]
    fig = go.Figure(
        go.Bar(
            x=frame["partners"],
            y=labels,
            orientation="h",
            marker_color=BAR_COLOUR,
            text=[f"{v:,}" for v in frame["partners"]],
            textposition="outside",
            cliponaxis=False,
            customdata=np.column_stack(
                [
                    frame["schools_reached"].map("{:,}".format),
                    frame["in_kind_usd"].map(lambda v: f"${v:,.0f}"),
                    frame["volunteer_hours"].map("{:,.0f}".format),
                ]
            )
            if len(frame)
            else None,
            hovertemplate="%{y}: %{x:,} partners<br>%{customdata[0]} schools reached<br>"
            "%{customdata[1]} in kind, %{customdata[2]} volunteer hours<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": "Community partners", "tickformat": ","},
        yaxis={"title": None, "type": "category"},
        height=max(260, 40 * len(frame) + 80),
        margin={"t": 10, "l": 10, "r": 40},
    )
    return fig


def value_trend(by_year: pd.DataFrame, year: str) -> go.Figure:
    """Two panels over school years, one above the other: in-kind value (USD) and partner volunteer hours; `year`
    highlighted. Stacked, not side by side, so their titles and axes keep apart on a phone."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        subplot_titles=("In-kind gifts (partners' reports, USD)", "Volunteer hours (partners' reports)"),
        vertical_spacing=0.14,
    )
    colours = [HIGHLIGHT_COLOUR if y == year else BAR_COLOUR for y in by_year["school_year"]]
    for row, (column, unit) in enumerate((("in_kind_usd", "$%{y:,.0f} in kind"), ("partner_volunteer_hours",
                                          "%{y:,.0f} volunteer hours")), start=1):  # fmt: skip
        fig.add_bar(
            x=by_year["school_year"],
            y=by_year[column],
            marker_color=colours,
            hovertemplate="%{x}: " + unit + "<extra></extra>",
            showlegend=False,
            row=row,
            col=1,
        )
    fig.update_yaxes(title_text="US dollars", tickprefix="$", row=1, col=1)
    fig.update_yaxes(title_text="Hours", row=2, col=1)
    fig.update_xaxes(type="category", tickangle=-45)
    fig.update_annotations(x=0, xanchor="left")  # the panel titles sit over the axis, short of the other edge
    fig.update_layout(height=560, margin={"t": 40, "l": 10, "r": 10})
    return fig


def reach_median(reach: pd.DataFrame) -> float | None:
    """The median number of schools a partner reaches, from the reach distribution; None without partners."""
    if reach.empty or reach["partners"].sum() == 0:
        return None
    return float(np.median(np.repeat(reach["schools_reached"].to_numpy(), reach["partners"].to_numpy())))


def reach_bins(reach: pd.DataFrame) -> pd.DataFrame:
    """The reach distribution as bars: one per school count up to 15 schools, wider bins past that.

    Columns: schools (bin label), low, high (None = no upper end), partners, share (of all partners in view).
    """
    if reach.empty:
        return pd.DataFrame({"schools": [], "low": [], "high": [], "partners": [], "share": []})
    top = int(reach["schools_reached"].max())
    if top <= ONE_BAR_PER_COUNT_UP_TO:
        edges: list[tuple[int, int | None]] = [(n, n) for n in range(1, top + 1)]
    else:
        edges = [(lo, hi) for lo, hi in WIDE_BINS if lo <= top]
    counts = reach.set_index("schools_reached")["partners"]
    rows = []
    for lo, hi in edges:
        inside = counts[(counts.index >= lo) & ((counts.index <= hi) if hi is not None else True)]
        label = str(lo) if lo == hi else (f"{lo}-{hi}" if hi is not None else f"{lo}+")
        rows.append({"schools": label, "low": lo, "high": hi, "partners": int(inside.sum())})
    out = pd.DataFrame(rows)
    out["share"] = out["partners"] / int(counts.sum())
    return out


def reach_histogram(bins: pd.DataFrame, median: float | None) -> go.Figure:
    """Bars of partners per number of schools reached; the bar holding the median in orange, median in the title."""

    def holds(lo: int, hi: int | None) -> bool:
        return median is not None and lo <= median and (hi is None or median <= hi)

    colours = [HIGHLIGHT_COLOUR if holds(lo, hi) else BAR_COLOUR for lo, hi in zip(bins["low"], bins["high"],
                                                                                   strict=True)]  # fmt: skip
    fig = go.Figure(
        go.Bar(
            x=bins["schools"],
            y=bins["partners"],
            marker_color=colours,
            customdata=bins["share"],
            text=[f"{s:.0%}" for s in bins["share"]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x} schools: %{y:,} partners (%{customdata:.0%})<extra></extra>",
        )
    )
    title = f"Median: {_schools(median)} per partner" if median is not None else None
    fig.update_layout(
        title={"text": title, "font": {"size": 14}} if title else None,
        xaxis={"title": "Schools reached by one partner", "type": "category"},
        yaxis={"title": "Community partners", "tickformat": ","},
        height=340,
        margin={"t": 40 if title else 10, "l": 10, "r": 10},
    )
    return fig


def _schools(n: float) -> str:
    text = f"{n:g}"
    return f"{text} school" if n == 1 else f"{text} schools"


def reach_caption(reach: pd.DataFrame) -> str:
    """One sentence under the reach chart (its title gives the median): partners with one school, the widest reach."""
    if reach_median(reach) is None:
        return ""
    total = int(reach["partners"].sum())
    single = int(reach.loc[reach["schools_reached"] == 1, "partners"].sum())
    widest = int(reach["schools_reached"].max())
    return (
        f"{single / total:.0%} of the {total:,} partners work with one school "
        f"in view; the widest reaches {_schools(widest)}. Only schools in view count (filters and your access)."
    )


def support_grid(matrix: pd.DataFrame, value: str = "partners") -> pd.DataFrame:
    """The matrix as a grid: a row per partner category, a column per support category, in the contract's order.

    Categories with no partnership show as 0, so a gap in coverage is visible.
    """
    rows = [c for c in contract.PARTNER_CATEGORIES if c in set(matrix["partner_category"])] + sorted(
        set(matrix["partner_category"]) - set(contract.PARTNER_CATEGORIES)
    )
    cols = list(contract.SUPPORT_CATEGORIES) + sorted(
        set(matrix["support_category"]) - set(contract.SUPPORT_CATEGORIES)
    )
    grid = matrix.pivot_table(index="partner_category", columns="support_category", values=value, aggfunc="sum")
    return grid.reindex(index=rows, columns=cols).fillna(0)


def support_heatmap(matrix: pd.DataFrame) -> go.Figure:
    """Heatmap of partners per partner category x support category; hover adds schools and in-kind value."""
    grid = support_grid(matrix, "partners")
    schools_grid = support_grid(matrix, "schools_reached")
    in_kind = support_grid(matrix, "in_kind_usd")
    x = [_safe(support_label(c)) for c in grid.columns]
    y = [_safe(category_label(c)) for c in grid.index]
    custom = np.dstack([schools_grid.to_numpy(), in_kind.to_numpy()])
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=x,
            y=y,
            customdata=custom,
            colorscale="Blues",
            zmin=0,
            text=grid.to_numpy().astype(int).astype(str),
            texttemplate="%{text}",
            colorbar={"title": {"text": "Partners"}},
            hovertemplate="%{y} partners giving %{x}: %{z:,}<br>at %{customdata[0]:,} schools, "
            "$%{customdata[1]:,.0f} in kind<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        xaxis={"title": "Support category given", "tickangle": -35, "type": "category"},
        yaxis={"title": "Partner category", "type": "category", "autorange": "reversed"},
        height=max(320, 36 * len(y) + 170),
        margin={"t": 10, "l": 10, "r": 10},
    )
    return fig


def support_caption(matrix: pd.DataFrame, year: str) -> str:
    """What the heatmap shows, with the support categories partners cover most and those they do not cover."""
    by_support = matrix.groupby("support_category")["partners"].sum().reindex(contract.SUPPORT_CATEGORIES).fillna(0)
    covered = by_support[by_support > 0].sort_values(ascending=False, kind="stable")
    missing = [support_label(c) for c in by_support.index if by_support[c] == 0]
    text = (
        f"Each cell counts the partners of one category that gave one kind of support at a school in view in {year} "
        "(the category a partnership row records); a partner giving several kinds counts once in each. "
    )
    if len(covered):
        text += f"Partners cover {len(covered)} of {len(contract.SUPPORT_CATEGORIES)} support categories; "
        text += f"most often {support_label(covered.index[0])}"
        text += f", least often {support_label(covered.index[-1])}. " if len(covered) > 1 else ". "
    if missing:
        text += f"No partner gave: {', '.join(missing)}."
    return text.strip()


def support_table(matrix: pd.DataFrame) -> pd.DataFrame:
    """The matrix for people and CSV: category labels, whole dollars and hours."""
    out = matrix.copy()
    out["partner_category"] = out["partner_category"].map(category_label)
    out["support_category"] = out["support_category"].map(support_label)
    out[["in_kind_usd", "volunteer_hours"]] = out[["in_kind_usd", "volunteer_hours"]].round(0)
    return out


def category_table(by_category: pd.DataFrame) -> pd.DataFrame:
    """partners_by_category for people and CSV: category labels, whole dollars and hours."""
    out = by_category.copy()
    out["category"] = out["category"].map(category_label)
    out[["in_kind_usd", "volunteer_hours"]] = out[["in_kind_usd", "volunteer_hours"]].round(0)
    return out.sort_values("partners", ascending=False, ignore_index=True)


def top_table(top: pd.DataFrame) -> pd.DataFrame:
    """The top-partners table with display headers; numbers stay numbers so the columns sort as numbers."""
    out = top.copy()
    out["category"] = out["category"].map(category_label)
    out[["in_kind_usd", "volunteer_hours"]] = out[["in_kind_usd", "volunteer_hours"]].round(0)
    return out[list(TOP_TABLE_COLUMNS)].rename(columns=TOP_TABLE_COLUMNS)


def top_caption(top: pd.DataFrame, reach: pd.DataFrame, year: str) -> str:
    """'The 25 partners with the largest in-kind value in 2023-24, of 1,234 in view.' (total from the reach frame)"""
    shown, total = len(top), int(reach["partners"].sum())
    if shown >= total:
        return f"All {total:,} partners in view in {year}, largest in-kind value first. Click a header to sort."
    return (
        f"The {shown:,} partners with the largest in-kind value in {year}, of {total:,} in view. "
        "Click a header to sort."
    )


def totals_line(by_year: pd.DataFrame, year: str) -> str:
    """'1,234 partners at 567 schools gave $1.2M in kind and 45.6K volunteer hours in 2023-24.'"""
    row = by_year[by_year["school_year"] == year]
    if row.empty:
        return ""
    r = row.iloc[0]
    return (
        f"{int(r['partners']):,} partners at {int(r['schools_reached']):,} schools in view gave "
        f"${formatting.compact(float(r['in_kind_usd']))} in kind and "
        f"{formatting.compact(float(r['partner_volunteer_hours']))} volunteer hours in {year}."
    )
