"""The Outcomes page's logic without Streamlit: the drill path, suppressed frames, breadcrumb and figures.

Nation shows one bar pair per state, a state one per affiliate, an affiliate one per school, each beside its
benchmarks (the places above it, over every school). An affiliate lead's drill starts at its own affiliate, so
its figures are never drawn under the name of its state or the nation. Every frame that reaches the page has gone
through `privacy.suppress_rates`, so a small cell is a label ('<10'), never a number.
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
from dashboard.views.charts import TIER_COLOURS, TIER_NAMES, rate_axis

# The column queries.outcome_rates names the place by, per level of bars.
PLACE_COLUMN = {"state": "state", "affiliate": "affiliate_id", "school": "school_id"}
LEVEL_NOUN = {"state": "state", "affiliate": "affiliate", "school": "school"}
TIERS = contract.OUTCOME_TIERS
BAR_OFFSETS = {2: -0.2, 3: 0.2}  # centres of the two bars of a group (bargap 0.2, two bars of 0.4)
MAX_LABELLED = 12  # places above which bar labels would overlap
MAX_BARS = 24  # places above which only the highest and lowest are drawn unless the user asks for all
ENDS = 10  # places drawn at each end when the rest are left out
BENCHMARK_PREFIX = "benchmark:"  # the place id of a benchmark bar, never a drill target
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


def top(places: pd.DataFrame, scope: queries.Scope) -> DrillPath:
    """The highest drill position whose bars are whole places for this scope (`places`: its affiliates).

    Everything: the nation. A lead of one affiliate: that affiliate (its schools); of several in one state: that
    state (its affiliates). Above those, a bar named after a state would hold only the lead's part of it.
    """
    if scope.affiliates is None or places.empty:
        return NATION
    if len(places) == 1:
        return DrillPath(str(places["state"].iloc[0]), str(places["affiliate_id"].iloc[0]))
    states = sorted(set(places["state"]))
    return DrillPath(states[0]) if len(states) == 1 else NATION


def _above(path: DrillPath, highest: DrillPath) -> bool:
    return (highest.affiliate is not None and path.affiliate is None) or (
        highest.state is not None and path.state is None
    )


def validate(state: str | None, affiliate: str | None, places: pd.DataFrame,
             highest: DrillPath = NATION) -> tuple[DrillPath, list[str]]:  # fmt: skip
    """A drill path from untrusted URL values, checked against `places` (affiliate_id, name, state).

    Unknown values are dropped with a notice; an affiliate given without its state gets the state filled in;
    an affiliate that is not in the given state is dropped. A path above `highest` (see `top`) is `highest`.
    """
    path, notices = _checked(state, affiliate, places)
    return (highest if _above(path, highest) else path), notices


def _checked(state: str | None, affiliate: str | None, places: pd.DataFrame) -> tuple[DrillPath, list[str]]:
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


def breadcrumb(path: DrillPath, names: dict[str, str], highest: DrillPath = NATION) -> list[tuple[str, DrillPath]]:
    """(label, path) from `highest` (the nation unless `top` says otherwise) down to the current position; the last
    entry is where the user is."""
    crumbs = [("Nation", NATION)]
    if path.state:
        crumbs.append((_state_name(path.state), DrillPath(path.state)))
    if path.affiliate:
        crumbs.append((names.get(path.affiliate, path.affiliate), path))
    return [(label, at) for label, at in crumbs if not _above(at, highest)]


def _state_name(state: str) -> str:
    return geo.state_name(state) if state in geo.STATES else state


def trend_name(path: DrillPath, names: dict[str, str], scope: queries.Scope) -> str:
    """Whose figures the trend line holds: the place of the path, or the lead's own affiliates above its school
    level, since a lead's view of a state or the nation covers only its own schools."""
    if path.affiliate:
        return names.get(path.affiliate, path.affiliate)
    if scope.affiliates is not None:
        return f"your affiliates in {_state_name(path.state)}" if path.state else "your affiliates"
    return _state_name(path.state) if path.state else "Nation"


@dataclass(frozen=True)
class Benchmark:
    """A place above the bars, drawn beside them: its key, axis label and filters, read over every school (or,
    for the affiliate's own total, within the scope, which holds all of its schools)."""

    key: str
    label: str
    filters: queries.Filters
    whole: bool  # read over every school, whatever the user's scope


def benchmarks(path: DrillPath, names: dict[str, str]) -> list[Benchmark]:
    """The benchmarks of the bars at `path`: the affiliate itself (under its schools), its state, the nation."""
    found = []
    if path.affiliate:
        short = names.get(path.affiliate, path.affiliate).removeprefix(NETWORK_PREFIX)
        found.append(
            Benchmark("affiliate", f"{short}, all schools", queries.Filters(affiliates=(path.affiliate,)), False)
        )
    if path.state:
        label = _state_name(path.state) + ("" if path.affiliate else ", all affiliates")
        found.append(Benchmark("state", label, queries.Filters(states=(path.state,)), True))
    found.append(Benchmark("nation", "Nation", queries.Filters(), True))
    return found


def benchmark_bars(rates: dict[str, pd.DataFrame], marks: list[Benchmark], metric: str) -> pd.DataFrame:
    """The benchmarks' national-level rates (one frame per key, by tier) as bars, suppressed by their stored status.

    Same columns as `suppressed_bars`; place_id is 'benchmark:<key>'.
    """
    parts = []
    for mark in marks:
        frame = rates.get(mark.key)
        if frame is None or frame.empty:
            continue
        out = privacy.suppress_rates(frame, groups=[])
        out = out[out["metric"] == metric].assign(place_id=BENCHMARK_PREFIX + mark.key, place=mark.label)
        parts.append(out)
    if not parts:
        return pd.DataFrame(columns=[*BAR_COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    out["n_label"] = out["eligible"].map(_n_label)
    return out[BAR_COLUMNS].reset_index(drop=True)


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


def place_labels(ids: list[str], level: str, names: dict[str, str], partial: bool = False) -> dict[str, str]:
    """id -> axis label; states by code (with '(yours)' when `partial`: a lead's part of the state), others by
    name, with the id added where two names collide."""
    if level == "state":
        return {i: (f"{i} (yours)" if partial else i) for i in ids}
    named = {i: names.get(i, i).removeprefix(NETWORK_PREFIX) for i in ids}
    counts = pd.Series(list(named.values())).value_counts()
    return {i: (f"{n} ({i})" if counts[n] > 1 else n) for i, n in named.items()}


def _n_label(eligible: object) -> str:
    return "n suppressed" if pd.isna(eligible) else f"n = {int(eligible):,} eligible"


BAR_COLUMNS = ["place_id", "place", "school_year", "metric", "tier", "eligible", "met", "rate", "rate_label",
               "suppressed", "n_label"]  # fmt: skip


def suppressed_bars(rates: pd.DataFrame, level: str, metric: str, names: dict[str, str],
                    partial: bool = False) -> pd.DataFrame:  # fmt: skip
    """outcome_rates at `level` (by tier, one or more years) suppressed, then narrowed to `metric`.

    Suppression runs over every metric's rows before narrowing, with the groups in BAR_GROUPS. Columns:
    place_id, place, school_year, metric, tier, eligible, met, rate, rate_label, suppressed, n_label. `partial`
    marks state bars that hold only a lead's part of each state.
    """
    column = PLACE_COLUMN[level]
    out = privacy.suppress_rates(rates, groups=BAR_GROUPS)
    out = out[out["metric"] == metric].rename(columns={column: "place_id"})
    out["place_id"] = out["place_id"].astype(str)
    labels = place_labels(sorted(out["place_id"].unique()), level, names, partial)
    out["place"] = out["place_id"].map(labels)
    out["n_label"] = out["eligible"].map(_n_label)
    return out[BAR_COLUMNS].sort_values(["place", "tier"], ignore_index=True)


def ranked_places(bars: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(places with a rate shown, from the highest to the lowest: the mean of their tiers shown; places with none
    shown, by name). Only shown rates order them, so a hidden rate's place in the order says nothing of it."""
    shown = bars[~bars["suppressed"].astype(bool)]
    score = shown.groupby("place")["rate"].mean()
    rated = sorted(score.index, key=lambda p: (-float(score[p]), p))
    return rated, sorted(set(bars["place"]) - set(rated))


def drawn_places(bars: pd.DataFrame, show_all: bool, most: int = MAX_BARS, ends: int = ENDS) -> list[str]:
    """The places to draw, highest rate first: all of them, or the `ends` highest and lowest rated when there are
    more than `most` (the rest, and those with every rate hidden, are in the table below the chart)."""
    rated, unrated = ranked_places(bars)
    if show_all or len(rated) + len(unrated) <= most:
        return rated + unrated
    return rated[:ends] + rated[-ends:] if len(rated) > 2 * ends else rated


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


def with_benchmarks(bars: pd.DataFrame, marks: pd.DataFrame) -> pd.DataFrame:
    """The places' bars, then the benchmarks', for the table under the chart: a column says which is which."""
    parts = [bars.assign(kind="place"), marks.assign(kind="benchmark")]
    return pd.concat([p for p in parts if not p.empty], ignore_index=True)


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


def bar_figure(bars: pd.DataFrame, metric: str, level: str, marks: pd.DataFrame | None = None,
               places: list[str] | None = None) -> go.Figure:  # fmt: skip
    """Grouped bars: tier 2 and tier 3 rate per place in the order of `places` (default: as in `bars`), after
    the benchmarks in `marks` (hatched, left of a dotted line); a suppressed cell has no bar and a '<10' mark.

    customdata per point is [place_id, rate_label, n_label]; a click's point gives the place id first. The place
    traces come first (tier 2, tier 3), then the benchmark traces, whose `meta` is 'benchmark'.
    """
    places = places if places is not None else list(dict.fromkeys(bars["place"]))
    bars = bars[bars["place"].isin(places)]
    marks = marks if marks is not None else pd.DataFrame(columns=bars.columns)
    bench = list(dict.fromkeys(marks["place"]))
    fig = go.Figure()
    hidden_by_tier: dict[int, list[bool]] = {}
    labels_by_tier: dict[int, list[str]] = {}
    for kind, frame, order in (("place", bars, places), ("benchmark", marks, bench)):
        if not order:
            continue
        labels = [plotly_text(p) for p in order]  # a name's own tags are shown, not applied
        ids = frame.drop_duplicates("place").set_index("place")["place_id"].reindex(order).tolist()
        for tier in TIERS:
            part = frame[frame["tier"] == tier].set_index("place").reindex(order)
            shown = part["suppressed"].eq(False).tolist()  # a place without this tier has neither bar nor mark
            hidden_by_tier.setdefault(tier, []).extend(part["suppressed"].eq(True).tolist())
            labels_by_tier.setdefault(tier, []).extend(part["rate_label"].fillna(privacy.SUPPRESSED).tolist())
            fig.add_bar(
                x=labels,
                y=[float(r) if s else None for r, s in zip(part["rate"], shown, strict=True)],
                name=TIER_NAMES[tier] if kind == "place" else f"{TIER_NAMES[tier]}, benchmark",
                legendgroup=str(tier),
                showlegend=kind == "place",
                offsetgroup=str(tier),
                meta=kind,
                marker={"color": TIER_COLOURS[tier], **({"pattern": {"shape": "/"}} if kind == "benchmark" else {})},
                customdata=part.assign(place_id=ids, rate_label=part["rate_label"].fillna("no data"))[
                    ["place_id", "rate_label", "n_label"]
                ].values.tolist(),
                # Labels on every bar only where they fit; hover always gives the rate and n.
                text=[
                    lab if s and len(places) + len(bench) <= MAX_LABELLED else None
                    for lab, s in zip(part["rate_label"], shown, strict=True)
                ],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{x}: %{customdata[1]} (%{customdata[2]})<extra>" + TIER_NAMES[tier] + "</extra>",
            )
    axis = [plotly_text(p) for p in places + bench]
    _mark_suppressed(fig, axis, hidden_by_tier, labels_by_tier)
    if bench and places:
        fig.add_vline(x=len(places) - 0.5, line={"dash": "dot", "color": "#767676", "width": 1})
    rates = pd.concat([bars, marks])
    fig.update_layout(
        barmode="group",
        yaxis={"title": LABELS[metric], **rate_axis(rates.loc[rates["suppressed"].eq(False), "rate"])},
        xaxis={
            "title": LEVEL_NOUN[level].capitalize() + (" and benchmarks (hatched)" if bench else ""),
            "type": "category",
            "categoryorder": "array",
            "categoryarray": axis,
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
            fig.add_annotation(x=x, y=0, yref="paper", yanchor="bottom", text=mark, showarrow=False,
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
        yaxis={"title": LABELS[metric], **rate_axis(trend.loc[trend["suppressed"].eq(False), "rate"])},
        xaxis={"title": "School year", "type": "category"},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 10, "l": 10, "r": 10},
    )
    return fig
