"""The Outcomes page's logic without Streamlit: the drill path, suppressed frames, breadcrumb and figures.

Nation shows one bar pair per state, a state one per affiliate, an affiliate one per school. Every frame that
reaches the page has gone through `privacy.suppress_rates`, so a small cell is a label ('<10'), never a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import sqlalchemy as sa

from dashboard import privacy
from dashboard.data import contract, geo, queries
from dashboard.data.db import schools
from dashboard.formatting import LABELS, markdown_text, percent, plotly_text
from dashboard.views.charts import TIER_COLOURS, TIER_NAMES

# The column queries.outcome_rates names the place by, per level of bars.
PLACE_COLUMN = {"state": "state", "affiliate": "affiliate_id", "school": "school_id"}
LEVEL_NOUN = {"state": "state", "affiliate": "affiliate", "school": "school"}
TIERS = contract.OUTCOME_TIERS
BAR_OFFSETS = {2: -0.2, 3: 0.2}  # centres of the two bars of a group (bargap 0.2, two bars of 0.4)
MAX_LABELLED = 12  # places above which bar labels would overlap
NETWORK_PREFIX = "Communities In Schools of "  # shared by most affiliate names; dropped on the axis only
# Bars of a place that sum to the figure one level up (the trend line of the parent for that year), so a
# single hidden bar could be recovered by subtraction: hide a second one in the same year, metric and tier.
BAR_GROUPS = [["school_year", "metric", "tier"]]
# Tier 2 + tier 3 of one year is the all-tier rate shown elsewhere (the Overview's rate cards).
TREND_GROUPS = [["school_year", "metric"]]


@dataclass(frozen=True)
class DrillPath:
    """Where the user has drilled to: nowhere (the nation), a state, or an affiliate within a state."""

    state: str | None = None
    affiliate: str | None = None

    @property
    def level(self) -> queries.Level:
        """The level the bars are drawn at: states under the nation, affiliates under a state, schools below."""
        if self.affiliate:
            return "school"
        if self.state:
            return "affiliate"
        return "state"

    def child(self, place_id: str) -> DrillPath | None:
        """The path after clicking the bar of `place_id`; None at the school level (nothing below)."""
        if self.level == "state":
            return DrillPath(state=place_id)
        if self.level == "affiliate":
            return DrillPath(state=self.state, affiliate=place_id)
        return None

    def filters(self, school_years: tuple[str, ...] = ()) -> queries.Filters:
        """The query filters for this path."""
        return queries.Filters(
            school_years=school_years,
            states=(self.state,) if self.state else (),
            affiliates=(self.affiliate,) if self.affiliate else (),
        )

    def query_params(self) -> dict[str, str]:
        """The URL form: {'state': 'NC', 'affiliate': 'NC-CHARLOTTE'}, empty keys left out."""
        return {k: v for k, v in (("state", self.state), ("affiliate", self.affiliate)) if v}


NATION = DrillPath()


def validate(state: str | None, affiliate: str | None, places: pd.DataFrame) -> tuple[DrillPath, list[str]]:
    """A drill path from untrusted URL values, checked against `places` (affiliate_id, name, state).

    Unknown values are dropped with a notice; an affiliate given without its state gets the state filled in;
    an affiliate that is not in the given state is dropped.
    """
    notices: list[str] = []
    states = set(places["state"])
    owner = dict(zip(places["affiliate_id"], places["state"], strict=True))
    if state is not None and state not in states:
        notices.append(f"State '{markdown_text(state[:40])}' is not in the data; showing the nation instead.")
        return NATION, notices
    if affiliate is not None:
        if affiliate not in owner:
            notices.append(
                f"Affiliate '{markdown_text(affiliate[:40])}' is not in the data; showing {_where(state)} instead."
            )
            affiliate = None
        elif state is None:
            state = owner[affiliate]
        elif owner[affiliate] != state:
            notices.append(f"Affiliate '{markdown_text(affiliate[:40])}' is not in {state}; showing the state instead.")
            affiliate = None
    return DrillPath(state, affiliate), notices


def _where(state: str | None) -> str:
    return f"the state {state}" if state else "the nation"


def breadcrumb(path: DrillPath, names: dict[str, str]) -> list[tuple[str, DrillPath]]:
    """(label, path) from the nation down to the current position; the last entry is where the user is."""
    crumbs = [("Nation", NATION)]
    if path.state:
        crumbs.append((geo.state_name(path.state) if path.state in geo.STATES else path.state, DrillPath(path.state)))
    if path.affiliate:
        crumbs.append((names.get(path.affiliate, path.affiliate), path))
    return crumbs


def affiliate_names(places: pd.DataFrame) -> dict[str, str]:
    """affiliate_id -> display name."""
    return dict(zip(places["affiliate_id"], places["name"], strict=True))


def school_names(engine: sa.Engine, affiliate: str, scope: queries.Scope = queries.EVERYTHING) -> dict[str, str]:
    """school_id -> name for the schools of one affiliate (within the user's scope)."""
    cond = [schools.c.affiliate_id == affiliate]
    if scope.affiliates is not None:
        cond.append(schools.c.affiliate_id.in_(sorted(scope.affiliates)))
    stmt = sa.select(schools.c.school_id, schools.c.name).where(*cond).order_by(schools.c.school_id)
    with engine.connect() as conn:
        return {row.school_id: row.name for row in conn.execute(stmt)}


def place_labels(ids: list[str], level: str, names: dict[str, str]) -> dict[str, str]:
    """id -> axis label; states by code, others by name, with the id added where two names collide."""
    if level == "state":
        return {i: i for i in ids}
    named = {i: names.get(i, i).removeprefix(NETWORK_PREFIX) for i in ids}
    counts = pd.Series(list(named.values())).value_counts()
    return {i: (f"{n} ({i})" if counts[n] > 1 else n) for i, n in named.items()}


def _n_label(eligible: object) -> str:
    return "n suppressed" if pd.isna(eligible) else f"n = {int(eligible):,} eligible"


def suppressed_bars(rates: pd.DataFrame, level: str, metric: str, names: dict[str, str]) -> pd.DataFrame:
    """outcome_rates at `level` (by tier, one or more years) suppressed, then narrowed to `metric`.

    Suppression runs over every metric's rows before narrowing, with the groups in BAR_GROUPS. Columns:
    place_id, place, school_year, metric, tier, eligible, met, rate, rate_label, suppressed, n_label.
    """
    column = PLACE_COLUMN[level]
    out = privacy.suppress_rates(rates, groups=BAR_GROUPS)
    out = out[out["metric"] == metric].rename(columns={column: "place_id"})
    out["place_id"] = out["place_id"].astype(str)
    labels = place_labels(sorted(out["place_id"].unique()), level, names)
    out["place"] = out["place_id"].map(labels)
    out["n_label"] = out["eligible"].map(_n_label)
    cols = ["place_id", "place", "school_year", "metric", "tier", "eligible", "met", "rate", "rate_label",
            "suppressed", "n_label"]  # fmt: skip
    return out[cols].sort_values(["place", "tier"], ignore_index=True)


def suppressed_trend(rates: pd.DataFrame, metric: str) -> pd.DataFrame:
    """outcome_rates at the national level of the current scope, every year, suppressed, narrowed to `metric`."""
    out = privacy.suppress_rates(rates, groups=TREND_GROUPS)
    out = out[out["metric"] == metric].copy()
    out["n_label"] = out["eligible"].map(_n_label)
    cols = ["school_year", "metric", "tier", "eligible", "met", "rate", "rate_label", "suppressed", "n_label"]
    return out[cols].sort_values(["school_year", "tier"], ignore_index=True)


def export_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """The bars as a table for people and CSV: suppressed values stay blank, rates rounded as shown."""
    out = bars.drop(columns=["n_label"]).copy()
    out["rate"] = out["rate"].round(3)
    out["metric"] = out["metric"].map(LABELS)
    return out


def suppressed_places(bars: pd.DataFrame) -> list[str]:
    """'Tier 3 at Wake' for every suppressed bar, for the caption under the chart."""
    hidden = bars[bars["suppressed"]]
    return [f"Tier {int(t)} at {p}" for p, t in zip(hidden["place"], hidden["tier"], strict=True)]


def spread(bars: pd.DataFrame) -> str:
    """'Tier 3 ranges from 97% (Texas) to 100% (Iowa).' over the shown (not suppressed or coded) bars."""
    parts = []
    for tier in TIERS:
        shown = bars[(bars["tier"] == tier) & ~bars["suppressed"] & (bars["rate_label"] == bars["rate"].map(percent))]
        if len(shown) < 2:
            continue
        low, high = shown.loc[shown["rate"].idxmin()], shown.loc[shown["rate"].idxmax()]
        parts.append(
            f"tier {tier} from {percent(low['rate'])} ({markdown_text(low['place'])}) to {percent(high['rate'])} ({markdown_text(high['place'])})"
        )
    return f"Shown rates run {'; '.join(parts)}." if parts else ""


def bar_figure(bars: pd.DataFrame, metric: str, level: str) -> go.Figure:
    """Grouped bars: tier 2 and tier 3 rate per place; suppressed cells have no bar and a '<10' mark.

    customdata per point is [place_id, rate_label, n_label]; a click's point gives the place id first.
    """
    places = list(dict.fromkeys(bars["place"]))
    labels = [plotly_text(p) for p in places]  # a name's own tags are shown, not applied
    ids = bars.drop_duplicates("place").set_index("place")["place_id"].reindex(places).tolist()
    fig = go.Figure()
    hidden_by_tier: dict[int, list[bool]] = {}
    marks: dict[int, list[str]] = {}
    for tier in TIERS:
        part = bars[bars["tier"] == tier].set_index("place").reindex(places)
        shown = part["suppressed"].eq(False).tolist()  # a place without this tier has neither bar nor mark
        hidden_by_tier[tier] = part["suppressed"].eq(True).tolist()
        marks[tier] = part["rate_label"].fillna(privacy.SUPPRESSED).tolist()
        fig.add_bar(
            x=labels,
            y=[float(r) if s else None for r, s in zip(part["rate"], shown, strict=True)],
            name=TIER_NAMES[tier],
            marker_color=TIER_COLOURS[tier],
            customdata=part.assign(place_id=ids, rate_label=part["rate_label"].fillna("no data"))[
                ["place_id", "rate_label", "n_label"]
            ].values.tolist(),
            # Labels on every bar only where they fit; hover always gives the rate and n.
            text=[
                lab if s and len(places) <= MAX_LABELLED else None
                for lab, s in zip(part["rate_label"], shown, strict=True)
            ],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{customdata[1]} (%{customdata[2]})<extra>" + TIER_NAMES[tier] + "</extra>",
        )
    _mark_suppressed(fig, labels, hidden_by_tier, marks)
    fig.update_layout(
        barmode="group",
        yaxis={"title": LABELS[metric], "tickformat": ".0%", "range": [0, 1.1]},
        xaxis={
            "title": LEVEL_NOUN[level].capitalize(),
            "type": "category",
            "tickangle": -45 if level != "state" else 0,
        },
        legend={"orientation": "h", "y": 1.12},
        margin={"t": 40, "l": 10, "r": 10},
        clickmode="event+select",
    )
    return fig


def _mark_suppressed(fig: go.Figure, places: list[str], hidden: dict[int, list[bool]],
                     marks: dict[int, list[str]]) -> None:  # fmt: skip
    """A mark where a bar is suppressed, its label ('<10', or 'hidden' when it only protects another): one per
    place when both tiers are (reading '<10' if either is small), else one per hidden tier."""
    why = "suppressed: fewer than 10 students, or hidden so that a total cannot reveal a small cell"
    for i, place in enumerate(places):
        tiers = [t for t in TIERS if hidden[t][i]]
        if not tiers:
            continue
        if len(tiers) == len(TIERS):
            both = {marks[t][i] for t in tiers}
            mark = privacy.SUPPRESSED if privacy.SUPPRESSED in both else privacy.HIDDEN_LABEL
            spots = [(i, "#555555", f"{place}, both tiers {why}", mark)]
        else:
            spots = [(i + offsets, TIER_COLOURS[t], f"{place}, {TIER_NAMES[t]} {why}", marks[t][i])
                     for t, offsets in ((t, BAR_OFFSETS[t]) for t in tiers)]  # fmt: skip
        for x, colour, text, mark in spots:
            fig.add_annotation(x=x, y=0, yanchor="bottom", text=mark, showarrow=False,
                               font={"color": colour, "size": 11}, hovertext=text)  # fmt: skip


def trend_figure(trend: pd.DataFrame, metric: str) -> go.Figure:
    """One line per tier across school years; suppressed years are gaps, hover gives n."""
    fig = go.Figure()
    for tier in TIERS:
        part = trend[trend["tier"] == tier]
        fig.add_scatter(
            x=part["school_year"],
            y=[None if s else float(r) for r, s in zip(part["rate"], part["suppressed"], strict=True)],
            mode="lines+markers",
            name=TIER_NAMES[tier],
            line={"color": TIER_COLOURS[tier]},
            customdata=list(zip(part["rate_label"], part["n_label"], strict=True)),
            hovertemplate="%{x}: %{customdata[0]} (%{customdata[1]})<extra>" + TIER_NAMES[tier] + "</extra>",
        )
    fig.update_layout(
        yaxis={"title": LABELS[metric], "tickformat": ".0%", "range": [0, 1.05]},
        xaxis={"title": "School year", "type": "category"},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 10, "l": 10, "r": 10},
    )
    return fig
