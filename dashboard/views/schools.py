"""The Schools page without Streamlit: schools side by side, against peers, state and nation.

A school's peer group is every school in the network with the same level, locale and Title I status. Peer,
state and national figures are aggregates over the whole network and never name a school; the schools named
are only those in the user's scope. Every rate is sum(met) / sum(eligible) over tiers 2 and 3 together, and
every per-school rate has gone through `privacy.suppress_rates`, so a small cell reaches the page as '<10'.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import sqlalchemy as sa
from pandas.io.formats.style import Styler

from dashboard import disclosure, privacy
from dashboard.data import contract, queries
from dashboard.data.db import published_cells, school_years, schools
from dashboard.formatting import LABELS, markdown_text, percent, percents, plotly_text, points

MAX_SCHOOLS = 10
PEER_KEYS = ["level", "locale", "title_i"]
# A benchmark is hidden when fewer schools than this outside the user's own contribute to it: otherwise the
# user could subtract its own schools from the aggregate and read another school's figure.
MIN_OTHER_SCHOOLS = 3
# The set a percentile ranks among, named wherever a percentile is: it holds fewer schools than the peer rate's.
RANKED_PEERS = "peer schools with a published rate"
TOO_FEW = "too few schools"  # a benchmark withheld because too few schools outside the user's own take part
STEADY_BAND = 0.01  # a change within one percentage point either way counts as steady
TRENDS = {"up": "▲ up", "down": "▼ down", "steady": "▬ steady", "none": "– no comparison"}
# Per-school rows of one year sum to the scope's rate for that year (shown on the Overview), so a single
# hidden school could be recovered by subtraction: complementary suppression runs within each year.
RATE_GROUPS = [["school_year"]]
# Colour-blind-safe qualitative palette (Carto Safe) for up to ten schools; marker symbols differ as well.
SCHOOL_COLOURS = ["#88CCEE", "#CC6677", "#DDCC77", "#117733", "#332288", "#AA4499", "#44AA99", "#999933",
                  "#882255", "#661100"]  # fmt: skip
SCHOOL_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x", "star", "hexagon",
                  "pentagon"]  # fmt: skip
# A horizontal legend over the plot, left-aligned; Plotly makes room for it however many rows it wraps to.
TOP_LEGEND = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0}
NARROW_SPAN = 0.06  # rates spanning less than this get ticks with a decimal
BENCHMARK_STYLE = {
    "school": ("circle", "#0072B2", 14),
    "peer": ("diamond", "#E69F00", 12),
    "state": ("square", "#009E73", 11),
    "nation": ("line-ns-open", "#222222", 18),
}


def school_directory(engine: sa.Engine, scope: queries.Scope = queries.EVERYTHING) -> pd.DataFrame:
    """Schools in scope: school_id, name, city, state, affiliate_id, level, locale, title_i, label."""
    s = schools.c
    stmt = (
        sa.select(s.school_id, s.name, s.city, s.state, s.affiliate_id, s.level, s.locale, s.title_i)
        .where(*queries.school_conditions(queries.Filters(), scope))
        .order_by(s.name, s.city, s.school_id)
    )
    frame = queries.read_frame(engine, stmt)
    frame["title_i"] = frame["title_i"].astype(bool)
    # 'Brookside High School (Houston, TX)'
    frame["label"] = frame["name"] + " (" + frame["city"] + ", " + frame["state"] + ")"
    return frame


def narrowed(directory: pd.DataFrame, states: tuple[str, ...], affiliates: tuple[str, ...]) -> pd.DataFrame:
    """The directory's schools in the chosen states and affiliates (none chosen: all)."""
    keep = pd.Series(True, index=directory.index)
    if states:
        keep &= directory["state"].isin(states)
    if affiliates:
        keep &= directory["affiliate_id"].isin(affiliates)
    return directory[keep]


def validate_schools(wanted: Iterable[str], known: Iterable[str], limit: int = MAX_SCHOOLS) -> tuple[list[str], list[str]]:  # fmt: skip
    """School ids from the URL kept if known (in scope), in order, without repeats, at most `limit`; notices."""
    allowed = set(known)
    kept = list(dict.fromkeys(w for w in wanted if w in allowed))
    unknown = [w for w in dict.fromkeys(wanted) if w not in allowed]
    notices = []
    if unknown:
        shown = ", ".join(unknown[:3]) + (", …" if len(unknown) > 3 else "")
        notices.append(f"Ignored {len(unknown)} school id(s) not in your schools: {markdown_text(shown[:80])}")
    if len(kept) > limit:
        notices.append(f"Up to {limit} schools can be compared; kept the first {limit} of {len(kept)}.")
        kept = kept[:limit]
    return kept, notices


def validate_metric(wanted: str | None, metrics: Iterable[str] = contract.METRICS) -> tuple[str, str | None]:
    """The outcome metric from the URL, or the first one with a notice when it is unknown."""
    options = list(metrics)
    if wanted is None or wanted in options:
        return wanted or options[0], None
    return options[0], f"Outcome '{markdown_text(wanted[:40])}' is not known; showing {LABELS[options[0]]} instead."


def school_rates(
    engine: sa.Engine,
    metric: str,
    scope: queries.Scope = queries.EVERYTHING,
    school_ids: tuple[str, ...] = (),
    years: tuple[str, ...] = (),
    network: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per school in scope x school year: eligible and met for `metric`, tiers 2 and 3 together.

    A school outside the scope returns no rows, whatever ids are asked for. With every school in scope, `network`
    (network_rates of the same years) holds these rows already and they are taken from it.
    """
    if network is not None and scope.affiliates is None and not school_ids:
        return network[["school_id", "school_year", "eligible", "met", "status"]].reset_index(drop=True)
    r = published_cells.c
    filters = queries.Filters(school_years=years, schools=school_ids)
    stmt = (
        sa.select(r.unit_id.label("school_id"), r.school_year, r.size.label("eligible"), r.met, r.status)
        .select_from(published_cells.join(schools, schools.c.school_id == r.unit_id))
        .where(*_school_cells(metric), *queries.school_conditions(filters, scope),
               *queries.year_condition(r.school_year, filters))
        .order_by(r.unit_id, r.school_year)
    )  # fmt: skip
    frame = queries.read_frame(engine, stmt)
    frame[["eligible", "met"]] = frame[["eligible", "met"]].astype("int64")
    return frame


def _school_cells(metric: str) -> list[sa.ColumnElement[bool]]:
    """The published cells of schools' `metric`, tiers together: what this page shows of each school."""
    r = published_cells.c
    return [r.measure == metric, r.unit == "school", r.slice == "", r.tier == 0]


def students_served(engine: sa.Engine, year: str, scope: queries.Scope = queries.EVERYTHING) -> pd.DataFrame:
    """Schools in scope with a row in `year`: school_id, students_served, students_served_status (stored)."""
    sy = school_years.c
    stmt = (
        sa.select(sy.school_id, sy.students_served)
        .select_from(school_years.join(schools))
        .where(sy.school_year == year, *queries.school_conditions(queries.Filters(), scope))
        .order_by(sy.school_id)
    )
    frame = queries.read_frame(engine, stmt)
    frame["students_served"] = frame["students_served"].astype("int64")
    statuses = queries.count_status(engine, queries.Filters(school_years=(year,)), scope, "school")
    return queries.with_count_status(frame, statuses[["school_id", "students_served_status"]])


def school_keys(engine: sa.Engine) -> pd.DataFrame:
    """Every school of the network with its peer keys and state: school_id, level, locale, title_i, state."""
    s = schools.c
    keys = queries.read_frame(engine, sa.select(s.school_id, s.level, s.locale, s.title_i, s.state))
    keys["title_i"] = keys["title_i"].astype(bool)
    return keys


def network_rates(
    engine: sa.Engine, metric: str, years: tuple[str, ...] = (), keys: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every school of the network x school year with `metric`: school_id, school_year, peer keys, state, eligible
    and met, ordered like school_rates. `keys` is school_keys, read when not given.

    What the peer, state and national benchmarks and the percentile ranks are computed from; never shown as it is.
    """
    r = published_cells.c
    # Two narrow reads joined here: the school attributes once per school, not once per school and year.
    stmt = (
        sa.select(r.unit_id.label("school_id"), r.school_year, r.size.label("eligible"), r.met, r.status)
        .where(*_school_cells(metric), *queries.year_condition(r.school_year, queries.Filters(years)))
        .order_by(r.unit_id, r.school_year)
    )
    rates = queries.read_frame(engine, stmt)
    rates[["eligible", "met"]] = rates[["eligible", "met"]].astype("int64")
    if keys is None:
        keys = school_keys(engine)
    frame = rates.merge(keys, on="school_id", how="inner", validate="many_to_one")
    return frame[["school_id", "school_year", "level", "locale", "title_i", "state", "eligible", "met", "status"]]


def benchmark_rates(
    engine: sa.Engine, metric: str, years: tuple[str, ...] = (), network: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Network-wide aggregates of `metric`, never naming a school: one row per benchmark x group x year, as
    published (the nation's peer-group cells, the state cells and the nation's cell, tiers together).

    Columns: benchmark ('peer', 'state', 'nation'), level, locale, title_i (peer rows), state (state rows),
    school_year, schools (contributing: with an eligible student), eligible, met, status (the stored decision),
    rate (fraction; NaN unless the cell is shown exactly) and rate_label ('87%', '>=95%', '<10' or 'hidden').
    `network` is network_rates, read when not given; only its school counts are taken from it.
    """
    if network is None:
        network = network_rates(engine, metric, years)
    contributing = network[network["eligible"] > 0]
    groupings = {"peer": ["level", "locale", "title_i"], "state": ["state"], "nation": []}
    parts = []
    for name, keys in groupings.items():
        counts = contributing.groupby([*keys, "school_year"], as_index=False).agg(schools=("eligible", "size"))
        parts.append(counts.assign(benchmark=name))
    frame = pd.concat(parts, ignore_index=True)
    for col in ("level", "locale", "state"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    frame["title_i"] = frame["title_i"].map(lambda v: None if pd.isna(v) else bool(v)).astype(object)
    peer = frame["benchmark"] == "peer"
    frame["slice"] = ""
    frame.loc[peer, "slice"] = [disclosure.peer_name(lv, lc, t) for lv, lc, t in
                                zip(frame.loc[peer, "level"], frame.loc[peer, "locale"], frame.loc[peer, "title_i"],
                                    strict=True)]  # fmt: skip
    frame["place"] = frame["state"].where(frame["benchmark"] == "state", "")
    years_read = tuple(sorted(network["school_year"].unique())) or years
    cells = _benchmark_cells(engine, metric, years_read)
    # Every contributing group has its published cell; one without would read 'hidden' rather than be summed here.
    frame = frame.merge(cells, on=["benchmark", "slice", "place", "school_year"], how="left", validate="one_to_one")
    frame["status"] = frame["status"].fillna(disclosure.HIDDEN)
    frame[["schools", "eligible", "met"]] = frame[["schools", "eligible", "met"]].fillna(0).astype("int64")
    shown = frame["status"] == disclosure.SHOWN
    frame["rate"] = (frame["met"] / frame["eligible"].where(frame["eligible"] > 0)).where(shown)
    frame["rate_label"] = [
        privacy.published_rate(m, e, st)
        for m, e, st in zip(frame["met"], frame["eligible"], frame["status"], strict=True)
    ]
    cols = ["benchmark", "level", "locale", "title_i", "state", "school_year", "schools", "eligible", "met", "status",
            "rate", "rate_label"]  # fmt: skip
    return frame[cols]


def _benchmark_cells(engine: sa.Engine, metric: str, years: tuple[str, ...]) -> pd.DataFrame:
    """The published cells the benchmarks read, tiers together: benchmark ('peer', 'state', 'nation'), slice, place
    (the state of a state cell, else ''), school_year, eligible, met, status."""
    r = published_cells.c
    nation = sa.and_(r.unit == "nation", sa.or_(r.slice == "", r.slice.like("peer:%")))
    stmt = sa.select(r.unit, r.state, r.slice, r.school_year, r.size.label("eligible"), r.met, r.status).where(
        r.measure == metric, r.tier == 0, sa.or_(nation, sa.and_(r.unit == "state", r.slice == "")),
        *queries.year_condition(r.school_year, queries.Filters(years)),
    )  # fmt: skip
    cells = queries.read_frame(engine, stmt)
    cells["benchmark"] = np.where(cells["unit"] == "state", "state",
                                  np.where(cells["slice"] == "", "nation", "peer"))  # fmt: skip
    cells["place"] = cells["state"].where(cells["unit"] == "state", "")
    return cells[["benchmark", "slice", "place", "school_year", "eligible", "met", "status"]]


def _peer_distribution(network: pd.DataFrame, year: str) -> pd.DataFrame:
    """Per ranked school of the network in `year` (its rate published exactly): peer keys, eligible, met; no ids.

    Only shown rates rank, so a percentile is a function of rates anyone may read: a hidden or coded rate's place
    among its peers is never told.
    """
    ranked = network[(network["school_year"] == year) & (network["status"] == disclosure.SHOWN)]
    return ranked[["level", "locale", "title_i", "eligible", "met"]].reset_index(drop=True)


def percentile_rank(met: int, eligible: int, peers: pd.DataFrame) -> float:
    """Percent of `peers` (eligible, met; the school among them) below the school's rate, ties counted half.

    Rates are compared exactly by cross-multiplying counts, so equal rates tie whatever their rounding.
    """
    lhs = peers["met"].to_numpy() * eligible
    rhs = met * peers["eligible"].to_numpy()
    below = int((lhs < rhs).sum())
    equal = int((lhs == rhs).sum())
    return 100.0 * (below + 0.5 * equal) / len(peers)


def peer_standing(
    directory: pd.DataFrame,
    year_rates: pd.DataFrame,
    network: pd.DataFrame,
    aggregates: pd.DataFrame,
    year: str,
    restricted: bool,
) -> pd.DataFrame:
    """Every school of `directory` (the scope) with a rate in `year` against its peer group, as `benchmarks` does
    for a few chosen schools, for all of them at once.

    `year_rates` is suppressed_school_rates of the year; `network` network_rates and `aggregates` benchmark_rates
    (of that year or more). Columns: school_id, peer_rate (fraction; NaN when too few schools outside the user's
    own or when the peer cell is not shown exactly), peer_label (what the page prints for it: '87%', '>=95%',
    'hidden', '<10', or '' when too few schools), gap (school minus peer, in percentage points, where both are
    exact), percentile (0-100, ties half; NaN when not ranked) and ranked (the peer schools with a published rate,
    what it ranks among).
    """
    rates = year_rates[year_rates["school_year"] == year]
    own = directory.merge(rates.loc[rates["eligible"].fillna(1) > 0, ["school_id"]], on="school_id")
    peers = aggregates[(aggregates["benchmark"] == "peer") & (aggregates["school_year"] == year)]
    out = directory[["school_id", *PEER_KEYS]].merge(
        rates[["school_id", "eligible", "met", "rate", "suppressed", "coded"]], on="school_id"
    )
    out = out.merge(peers[[*PEER_KEYS, "schools", "rate", "rate_label"]]
                    .rename(columns={"rate": "peer_rate", "rate_label": "peer_label"}), on=PEER_KEYS, how="left")  # fmt: skip
    own_in_group = own.groupby(PEER_KEYS).size().rename("own").reset_index() if restricted else None
    if own_in_group is not None:
        out = out.merge(own_in_group, on=PEER_KEYS, how="left")
        out["own"] = out["own"].fillna(0).astype("int64")
    else:
        out["own"] = 1
    out["schools"] = out["schools"].fillna(0).astype("int64")
    enough = (out["schools"] - out["own"] >= MIN_OTHER_SCHOOLS).to_numpy()
    out.loc[~enough, "peer_rate"] = math.nan
    out["peer_label"] = out["peer_label"].where(enough, "").fillna("")
    exact = ~out["suppressed"].astype(bool) & ~out["coded"].astype(bool)
    out["gap"] = ((out["rate"] - out["peer_rate"]) * 100).where(exact)
    distribution = _peer_distribution(network, year)
    distribution = distribution.assign(rate=distribution["met"] / distribution["eligible"])
    out["percentile"] = math.nan
    out["ranked"] = 0
    for key, group in distribution.groupby(PEER_KEYS):
        # Equal fractions divide to the same double, so float ties are exact ties, as percentile_rank's products.
        ranked = np.sort(group["rate"].to_numpy())
        at = (out[PEER_KEYS] == pd.Series(dict(zip(PEER_KEYS, key, strict=True)))).all(axis=1).to_numpy()
        out.loc[at, "ranked"] = len(ranked)
        rankable = at & exact.to_numpy() & enough
        rankable &= (len(ranked) - out["own"].to_numpy()) >= MIN_OTHER_SCHOOLS
        mine = (out.loc[rankable, "met"].astype(float) / out.loc[rankable, "eligible"].astype(float)).to_numpy()
        below = np.searchsorted(ranked, mine, side="left")
        equal = np.searchsorted(ranked, mine, side="right") - below
        out.loc[rankable, "percentile"] = 100.0 * (below + 0.5 * equal) / len(ranked)
    return out[["school_id", "peer_rate", "peer_label", "gap", "percentile", "ranked"]].reset_index(drop=True)


def ordinal(n: int) -> str:
    """1 -> '1st', 22 -> '22nd', 13 -> '13th'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def suppressed_school_rates(rates: pd.DataFrame) -> pd.DataFrame:
    """school_rates suppressed within each year; adds rate, rate_label, suppressed and coded (top/bottom coded)."""
    return privacy.suppress_rates(rates, groups=RATE_GROUPS)


def trend(change: float | None) -> str:
    """'▲ up', '▼ down', '▬ steady' (within STEADY_BAND) or '– no comparison'."""
    if change is None or pd.isna(change):
        return TRENDS["none"]
    if change > STEADY_BAND:
        return TRENDS["up"]
    if change < -STEADY_BAND:
        return TRENDS["down"]
    return TRENDS["steady"]


def _exact(frame: pd.DataFrame) -> pd.Series:
    """The rate where it is shown exactly (not suppressed, not coded), else NaN: what changes are taken from."""
    return frame["rate"].where(~frame["suppressed"] & ~frame["coded"])


def school_table(
    directory: pd.DataFrame,
    served: pd.DataFrame,
    rates: pd.DataFrame,
    year: str,
    previous_year: str | None,
    standing: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every school in scope with a row in `year`: served, eligible, rate, change and trend, its standing among
    peers (`peer_standing`, left blank when not given), best rate first.

    `rates` is suppressed_school_rates over the scope. Students served is blanked where its stored status
    (students_served_status) suppresses it; served_label is then its label ('<10' or 'hidden').
    Columns: school_id, school, city, state, students_served, served_hidden, served_label, eligible, rate,
    rate_label, suppressed, change, trend, peer_rate, peer_label, gap, percentile, ranked. Suppressed values are
    <NA>/NaN, never a number.
    """
    served = privacy.published_counts(served[["school_id", "students_served", "students_served_status"]])
    served = served.rename(columns={"suppressed": "served_hidden"})
    served["served_label"] = served["students_served_status"].map(privacy.count_label)
    current = rates[rates["school_year"] == year].assign(exact=lambda f: _exact(f))
    before = rates[rates["school_year"] == previous_year].assign(before=lambda f: _exact(f))
    out = (
        served.merge(directory[["school_id", "name", "city", "state"]], on="school_id")
        .merge(current[["school_id", "eligible", "rate", "rate_label", "suppressed", "exact"]], on="school_id", how="left")
        .merge(before[["school_id", "before"]], on="school_id", how="left")
    )  # fmt: skip
    out["rate_label"] = out["rate_label"].fillna("no data")
    out["suppressed"] = out["suppressed"].fillna(False).astype(bool)
    out["change"] = out["exact"] - out["before"]
    out["trend"] = out["change"].map(trend)
    out = out.rename(columns={"name": "school"}).sort_values(
        ["rate", "school"], ascending=[False, True], na_position="last"
    )
    if standing is None:
        standing = pd.DataFrame(columns=["school_id", "peer_rate", "peer_label", "gap", "percentile", "ranked"])
    out = out.merge(standing, on="school_id", how="left")
    for col in ("peer_rate", "gap", "percentile"):
        out[col] = out[col].astype(float)
    out["ranked"] = out["ranked"].fillna(0).astype("int64")
    out["peer_label"] = out["peer_label"].fillna("").astype(str)
    cols = ["school_id", "school", "city", "state", "students_served", "served_hidden", "served_label", "eligible",
            "rate", "rate_label", "suppressed", "change", "trend", "peer_rate", "peer_label", "gap", "percentile",
            "ranked"]  # fmt: skip
    return out[cols].reset_index(drop=True)


def export_table(table: pd.DataFrame) -> pd.DataFrame:
    """The school table as text for the CSV: '<10' or 'hidden' in place of every hidden value, rates as shown."""
    out = pd.DataFrame({
        "School ID": table["school_id"],
        "School": table["school"],
        "City": table["city"],
        "State": table["state"],
        "Students served": [lab if h else f"{int(v)}" for v, h, lab in zip(table["students_served"], table["served_hidden"], table["served_label"], strict=True)],
        "Eligible students": [_hidden_label(r) if s else ("" if pd.isna(v) else f"{int(v)}") for v, s, r in zip(table["eligible"], table["suppressed"], table["rate_label"], strict=True)],
        "Rate": table["rate_label"],
        "Change (pts)": (table["change"] * 100).round(1),
        "Trend": table["trend"],
        "Peer rate": table["peer_label"],
        "Gap to peers (pts)": table["gap"].round(1),
        "Percentile among peers": table["percentile"].round(0).astype("Int64"),
        f"Ranked among ({RANKED_PEERS})": table["ranked"],
    })  # fmt: skip
    return out


def _hidden_label(rate_label: str) -> str:
    """'hidden' for a school hidden only to protect another (it has 10 or more eligible), else '<10'."""
    return privacy.HIDDEN_LABEL if rate_label == privacy.HIDDEN_LABEL else privacy.SUPPRESSED


def _points(change: float) -> str:
    return "" if pd.isna(change) else points(change * 100)


# st.dataframe draws an empty cell as 'None' whatever a Styler says, so hidden and missing values travel as these
# stand-ins, below every real value (they sort last, descending), and the Styler writes their label over them.
HIDDEN_VALUE = -1.0
NO_DATA_VALUE = -2.0
COMPLEMENT_VALUE = -3.0  # hidden only to protect another school: 'hidden', not '<10'
NO_CHANGE_VALUE = -1000.0  # change in points: below any real change


# A Styler is sent cell by cell: 0.35 s per rerun for 3,500 schools, 5.6 s for 35,000 (measured); above this many
# rows the page asks for a narrower view and offers the CSV.
MAX_TABLE_ROWS = 5_000
NOT_RANKED_VALUE = -1.0  # percentile and peer rate: none shown ('–')
TABLE_ORDER = ["School", "Rate", "Change (pts)", "Trend", "Peer rate", "Gap to peers (pts)", "Percentile",
               "Eligible students", "Students served", "City", "State"]  # fmt: skip


def styled_table(table: pd.DataFrame) -> Styler:
    """The school table for st.dataframe: numeric columns (so they sort as numbers), hidden cells read '<10'.

    Change and gap are in percentage points. No hidden figure is sent: its cell holds a negative stand-in. Meant for
    at most MAX_TABLE_ROWS rows.
    """
    shown = pd.DataFrame({
        "School": table["school"],
        "City": table["city"],
        "State": table["state"],
        "Students served": table["students_served"].astype("Float64").fillna(HIDDEN_VALUE).astype(float),
        "Eligible students": table["eligible"].astype("Float64").fillna(HIDDEN_VALUE).astype(float),
        "Rate": table["rate"].astype(float),
        "Change (pts)": (table["change"].astype(float) * 100).round(1).fillna(NO_CHANGE_VALUE),
        "Trend": table["trend"],
        "Peer rate": table["peer_rate"].astype(float).fillna(NOT_RANKED_VALUE),
        "Gap to peers (pts)": table["gap"].astype(float).round(1).fillna(NO_CHANGE_VALUE),
        "Percentile": table["percentile"].astype(float).round(0).fillna(NOT_RANKED_VALUE),
    })  # fmt: skip
    no_data = table["rate_label"] == "no data"
    shown.loc[table["suppressed"], "Rate"] = HIDDEN_VALUE
    complement = table["rate_label"] == privacy.HIDDEN_LABEL
    shown.loc[complement, ["Rate", "Eligible students"]] = COMPLEMENT_VALUE
    shown.loc[no_data, ["Rate", "Eligible students"]] = NO_DATA_VALUE
    # A count hidden only to protect another reads 'hidden', not '<10'.
    shown.loc[table["served_label"] == privacy.HIDDEN_LABEL, "Students served"] = COMPLEMENT_VALUE
    counts = ["Students served", "Eligible students"]
    # Top/bottom coded rates read as their range ('>=95%'), not as the coded number behind them.
    coded = (
        ~table["suppressed"] & ~no_data & (table["rate_label"] != pd.Series(percents(table["rate"]), index=table.index))
    )
    # The rate and how it stands first, so that a phone shows them beside the name; places last, the state only when
    # the schools are in more than one.
    shown = shown[[c for c in TABLE_ORDER if c != "State" or table["state"].nunique() > 1]]
    styler = shown.style.format(lambda v: _stand_in(v) or f"{int(v):,}", subset=counts)
    styler = styler.format(
        lambda v: "–" if v == NO_CHANGE_VALUE else points(v), subset=["Change (pts)", "Gap to peers (pts)"]
    )
    styler = styler.format(lambda v: _stand_in(v) or percent(v), subset=["Rate"])
    styler = styler.format(lambda v: "–" if v == NOT_RANKED_VALUE else percent(v), subset=["Peer rate"])
    styler = styler.format(lambda v: "–" if v == NOT_RANKED_VALUE else ordinal(int(v)), subset=["Percentile"])
    for label, rows in table[coded].groupby("rate_label").groups.items():
        styler = styler.format(lambda _v, text=label: text, subset=pd.IndexSlice[list(rows), ["Rate"]])
    # A peer cell withheld by the published decision reads as that decision ('hidden', '>=95%'), not as a dash.
    withheld = table["peer_rate"].isna() & (table["peer_label"] != "")
    for label, rows in table[withheld].groupby("peer_label").groups.items():
        styler = styler.format(lambda _v, text=label: text, subset=pd.IndexSlice[list(rows), ["Peer rate"]])
    return styler  # fmt: skip


def _stand_in(value: float) -> str | None:
    return {HIDDEN_VALUE: privacy.SUPPRESSED, NO_DATA_VALUE: "no data", COMPLEMENT_VALUE: privacy.HIDDEN_LABEL}.get(
        value
    )


def benchmarks(
    engine: sa.Engine,
    metric: str,
    year: str,
    school_ids: tuple[str, ...],
    scope: queries.Scope = queries.EVERYTHING,
    rates: pd.DataFrame | None = None,
    network: pd.DataFrame | None = None,
    directory: pd.DataFrame | None = None,
    aggregates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each chosen school (in scope) against its peer group, its state and the nation in `year`.

    `rates` (suppressed_school_rates over the scope), `network` (network_rates), `directory` (school_directory
    of the scope) and `aggregates` (benchmark_rates) are read or summed when not given.
    Columns: school_id, school, state, peer_group, rate, rate_label, suppressed, then per benchmark (peer, state,
    national) its _rate (fraction; NaN unless published exactly), _schools and _label (what is printed: '87%',
    '>=95%', 'hidden', '<10', 'no data' or TOO_FEW, the last when fewer than MIN_OTHER_SCHOOLS schools outside the
    user's own take part), and percentile, ranked, percentile_text.
    """
    if directory is None:
        directory = school_directory(engine, scope)
    if rates is None:
        rates = suppressed_school_rates(school_rates(engine, metric, scope, years=(year,)))
    if network is None:
        network = network_rates(engine, metric, (year,))
    if aggregates is None:
        aggregates = benchmark_rates(engine, metric, network=network[network["school_year"] == year])
    chosen = directory[directory["school_id"].isin(school_ids)]
    if chosen.empty:
        return pd.DataFrame(columns=["school_id", "school", "state", "peer_group", "rate", "rate_label", "suppressed",
                                     "peer_rate", "peer_schools", "peer_label", "state_rate", "state_schools",
                                     "state_label", "national_rate", "national_schools", "national_label",
                                     "percentile", "ranked", "percentile_text"])  # fmt: skip
    year_rates = rates[rates["school_year"] == year]
    own = directory.merge(year_rates[year_rates["eligible"].fillna(1) > 0][["school_id"]], on="school_id")
    agg = aggregates[aggregates["school_year"] == year]
    distribution = _peer_distribution(network, year)
    restricted = scope.affiliates is not None
    rows = []
    for school in chosen.itertuples(index=False):
        mine = year_rates[year_rates["school_id"] == school.school_id]
        peer_mask = (
            (own["level"] == school.level) & (own["locale"] == school.locale) & (own["title_i"] == school.title_i)
        )
        own_peers = int(peer_mask.sum()) if restricted else 1
        own_state = int((own["state"] == school.state).sum()) if restricted else 1
        peer = agg[(agg["benchmark"] == "peer") & (agg["level"] == school.level) & (agg["locale"] == school.locale)
                   & (agg["title_i"] == school.title_i)]  # fmt: skip
        state = agg[(agg["benchmark"] == "state") & (agg["state"] == school.state)]
        nation = agg[agg["benchmark"] == "nation"]
        peer_rate, peer_schools, peer_label = _benchmark(peer, own_peers)
        state_rate, state_schools, state_label = _benchmark(state, own_state)
        national_rate, national_schools, national_label = _benchmark(nation, len(own) if restricted else 1)
        ranked = distribution[(distribution["level"] == school.level) & (distribution["locale"] == school.locale)
                              & (distribution["title_i"] == school.title_i)]  # fmt: skip
        percentile = math.nan
        exact = not mine.empty and not bool(mine["suppressed"].iloc[0]) and not bool(mine["coded"].iloc[0])
        enough = peer_label != TOO_FEW and peer_schools > 0
        if exact and enough and len(ranked) - own_peers >= MIN_OTHER_SCHOOLS:
            percentile = percentile_rank(int(mine["met"].iloc[0]), int(mine["eligible"].iloc[0]), ranked)
        rows.append({
            "school_id": school.school_id,
            "school": school.label,
            "state": school.state,
            "peer_group": peer_group_label(school.level, school.locale, school.title_i),
            "rate": float(mine["rate"].iloc[0]) if not mine.empty else math.nan,
            "rate_label": mine["rate_label"].iloc[0] if not mine.empty else "no data",
            "suppressed": bool(mine["suppressed"].iloc[0]) if not mine.empty else False,
            "peer_rate": peer_rate,
            "peer_schools": peer_schools,
            "peer_label": peer_label,
            "state_rate": state_rate,
            "state_schools": state_schools,
            "state_label": state_label,
            "national_rate": national_rate,
            "national_schools": national_schools,
            "national_label": national_label,
            "percentile": percentile,
            "ranked": len(ranked),
            "percentile_text": percentile_text(percentile, len(ranked), mine, enough),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _benchmark(rows: pd.DataFrame, own: int) -> tuple[float, int, str]:
    """(rate, schools, label) of one aggregate row of benchmark_rates. The rate is NaN unless the cell is published
    exactly; the label is 'no data' without a row and TOO_FEW when too few schools outside the user's own take part."""
    if rows.empty:
        return math.nan, 0, "no data"
    schools_in = int(rows["schools"].iloc[0])
    if schools_in - own < MIN_OTHER_SCHOOLS:
        return math.nan, schools_in, TOO_FEW
    return float(rows["rate"].iloc[0]), schools_in, str(rows["rate_label"].iloc[0])


def percentile_text(percentile: float, ranked: int, mine: pd.DataFrame, enough_peers: bool) -> str:
    """'72nd percentile of 41 peer schools', or why there is no percentile."""
    if mine.empty:
        return "no data this year"
    if bool(mine["suppressed"].iloc[0]):
        return "not ranked: rate suppressed (<10)"
    if bool(mine["coded"].iloc[0]):
        return "not ranked: small group, rate shown as a range"
    if not enough_peers or math.isnan(percentile):
        return "not ranked: too few peer schools"
    return f"{ordinal(round(percentile))} percentile of {ranked} {RANKED_PEERS}"


def peer_group_label(level: str, locale: str, title_i: bool) -> str:
    """'High, city, Title I'."""
    return f"{level.replace('_', ' ').capitalize()}, {locale}, {'Title I' if title_i else 'not Title I'}"


def benchmark_export(bench: pd.DataFrame) -> pd.DataFrame:
    """The comparison as text for people and CSV: rates as percentages, hidden values as labels."""
    return pd.DataFrame({
        "School": bench["school"],
        "Peer group": bench["peer_group"],
        "School rate": bench["rate_label"],
        "Percentile among peers": bench["percentile_text"],
        "Peer group rate": _benchmark_labels(bench, "peer"),
        "Peer schools": bench["peer_schools"],
        "State rate": _benchmark_labels(bench, "state"),
        "National rate": _benchmark_labels(bench, "national"),
    })  # fmt: skip


def _benchmark_labels(bench: pd.DataFrame, kind: str) -> list[str]:
    """'85%', '>=95%', 'hidden', '<10' (the published cell's decision), 'no data' (no school has the outcome) or
    TOO_FEW (withheld so no school can be read off)."""
    return list(bench[f"{kind}_label"])


def trend_lines(rates: pd.DataFrame, directory: pd.DataFrame, school_ids: list[str]) -> pd.DataFrame:
    """The chosen schools' suppressed rates over the years, labelled: school_id, school, school_year, rate, ..."""
    names = directory.set_index("school_id")["label"]
    out = rates[rates["school_id"].isin(school_ids)].copy()
    out["school"] = out["school_id"].map(names)
    out["order"] = out["school_id"].map({s: i for i, s in enumerate(school_ids)})
    out["n_label"] = [("n suppressed" if s else f"n = {int(e):,} eligible")
                      for e, s in zip(out["eligible"], out["suppressed"], strict=True)]  # fmt: skip
    cols = ["school_id", "school", "school_year", "eligible", "met", "rate", "rate_label", "suppressed", "n_label"]
    return out.sort_values(["order", "school_year"])[cols].reset_index(drop=True)


def national_line(aggregates: pd.DataFrame) -> pd.DataFrame:
    """The national rate per year from benchmark_rates: school_year, rate (NaN where not shown exactly), rate_label."""
    nation = aggregates[aggregates["benchmark"] == "nation"]
    return nation[["school_year", "rate", "rate_label"]].sort_values("school_year")


def line_figure(lines: pd.DataFrame, national: pd.DataFrame, metric: str, years: list[str]) -> go.Figure:
    """One line per school across years (suppressed years are gaps), the national rate dashed for reference."""
    fig = go.Figure()
    for i, (school, part) in enumerate(lines.groupby("school", sort=False)):
        fig.add_scatter(
            x=part["school_year"].tolist(),
            y=[None if s else float(r) for r, s in zip(part["rate"], part["suppressed"], strict=True)],
            mode="lines+markers",
            name=plotly_text(school),
            line={"color": SCHOOL_COLOURS[i % len(SCHOOL_COLOURS)]},
            marker={"symbol": SCHOOL_SYMBOLS[i % len(SCHOOL_SYMBOLS)], "size": 8},
            customdata=list(zip(part["school_id"], part["rate_label"], part["n_label"], strict=True)),
            hovertemplate="%{x}: %{customdata[1]} (%{customdata[2]})<extra>" + school + "</extra>",
        )
    fig.add_scatter(
        x=national["school_year"].tolist(),
        y=[None if pd.isna(r) else float(r) for r in national["rate"]],
        mode="lines",
        name="Nation (all schools)",
        line={"color": "#555555", "dash": "dash"},
        customdata=list(national["rate_label"]),
        hovertemplate="%{x}: %{customdata}<extra>Nation</extra>",
    )
    fig.update_layout(
        yaxis={"title": LABELS[metric], "tickformat": ".0%"},
        xaxis={"title": "School year", "type": "category", "categoryorder": "array", "categoryarray": years},
        legend=TOP_LEGEND,
        margin={"t": 10, "l": 10, "r": 10},
    )
    return fig


def benchmark_figure(bench: pd.DataFrame, metric: str) -> go.Figure:
    """A dot plot: per school a row with its rate, its peer group's, its state's and the nation's."""
    fig = go.Figure()
    schools_shown = list(bench["school"])
    series = {
        "school": ("This school", bench["rate"].where(~bench["suppressed"].astype(bool)), bench["rate_label"]),
        "peer": ("Peer group", bench["peer_rate"], _benchmark_labels(bench, "peer")),
        "state": ("State", bench["state_rate"], _benchmark_labels(bench, "state")),
        "nation": ("Nation", bench["national_rate"], _benchmark_labels(bench, "national")),
    }
    for key, (name, values, labels) in series.items():
        symbol, colour, size = BENCHMARK_STYLE[key]
        fig.add_scatter(
            x=[None if pd.isna(v) else float(v) for v in values],
            y=[plotly_text(s) for s in schools_shown],
            mode="markers",
            name=name,
            marker={"symbol": symbol, "color": colour, "size": size, "line": {"width": 2, "color": colour}},
            customdata=list(zip(labels, bench["percentile_text"], strict=True)),
            hovertemplate="%{y}<br>" + name + ": %{customdata[0]}<br>%{customdata[1]}<extra></extra>",
        )
    for school, label, suppressed in zip(bench["school"], bench["rate_label"], bench["suppressed"], strict=True):
        if suppressed:
            fig.add_annotation(x=0, y=school, xanchor="left", text=label, showarrow=False,
                               hovertext="suppressed: fewer than 10 eligible students, or hidden so a total cannot reveal one")  # fmt: skip
    values = pd.concat([pd.to_numeric(v, errors="coerce") for _, v, _ in series.values()]).dropna()
    narrow = len(values) > 0 and values.max() - values.min() < NARROW_SPAN
    fig.update_layout(
        # Whole percents would repeat on a narrow axis (96%, 96%, 97%), so a narrow one gets a decimal.
        xaxis={"title": LABELS[metric], "tickformat": ".1%" if narrow else ".0%"},
        yaxis={"title": None, "autorange": "reversed", "automargin": True},
        # Above the plot: below it, a legend wrapped to two rows on a phone ran over the axis title.
        legend=TOP_LEGEND,
        height=140 + 48 * len(schools_shown),
        margin={"t": 10, "l": 10, "r": 10},
    )
    return fig


def lines_export(lines: pd.DataFrame) -> pd.DataFrame:
    """The lines as text for people and CSV: one row per school and year, hidden values as '<10'."""
    return pd.DataFrame({
        "School ID": lines["school_id"],
        "School": lines["school"],
        "School year": lines["school_year"],
        "Eligible students": [privacy.SUPPRESSED if s else f"{int(e)}" for e, s in zip(lines["eligible"], lines["suppressed"], strict=True)],
        "Rate": lines["rate_label"],
    })  # fmt: skip


def without_data(lines: pd.DataFrame, school_ids: list[str], names: dict[str, str]) -> list[str]:
    """Labels of the chosen schools that have no row for the metric in any year (e.g. graduation at an elementary)."""
    present = set(lines["school_id"])
    return [names[s] for s in school_ids if s not in present]


def without_data_this_year(bench: pd.DataFrame) -> bool:
    """Whether none of the chosen schools has the outcome in the year (nothing to set against benchmarks)."""
    return bool((bench["rate_label"] == "no data").all())
