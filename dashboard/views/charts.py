"""Plotly figure builders: plain data in, figures out; one colour per tier and metric everywhere."""

from __future__ import annotations

import math

import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from dashboard import privacy

# Okabe-Ito, safe for the common colour-vision deficiencies.
TIER_COLOURS = {1: "#56B4E9", 2: "#E69F00", 3: "#009E73"}
TIER_NAMES = {1: "Tier 1 (school-wide)", 2: "Tier 2 (targeted groups)", 3: "Tier 3 (case-managed)"}
# One rule for every axis of rates, said under each chart that uses it.
RATE_AXIS_RULE = "The rate axis starts 5 points below the lowest rate shown, so that a point's difference shows."


def rate_axis(rates: pd.Series, top: float = 1.0) -> dict[str, object]:
    """Plotly axis settings for rates (fractions): from a whole 5 points below the lowest of `rates` to `top`,
    ticked every point when the span is 10 points or less (so whole percents never repeat), else every 5."""
    shown = pd.to_numeric(rates, errors="coerce").dropna()
    if shown.empty:
        return {"range": [0, top], "tickformat": ".0%"}
    low = max(0.0, math.floor((float(shown.min()) - 0.01) * 20) / 20)
    return {"range": [low, top], "dtick": 0.01 if 1.0 - low <= 0.1 else 0.05, "tickformat": ".0%"}


def students_by_tier(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars of students served per school year, one colour per tier."""
    fig = go.Figure()
    for tier, part in frame.groupby("tier"):
        fig.add_bar(
            x=part["school_year"],
            y=part["students"].astype("Float64").astype(float),  # a suppressed count is a gap, not a zero
            name=TIER_NAMES[int(tier)],
            marker_color=TIER_COLOURS[int(tier)],
            hovertemplate="%{x}: %{y:,} students<extra>" + TIER_NAMES[int(tier)] + "</extra>",
        )
    fig.update_layout(barmode="stack", yaxis_title="Students served", xaxis_title="School year",
                      legend={"orientation": "h", "y": -0.25}, margin={"t": 10, "l": 10, "r": 10})  # fmt: skip
    return fig


# A tile-grid map of the states: (row, column). No outlines to fetch, every state the same size.
STATE_TILES: dict[str, tuple[int, int]] = {
    "AK": (0, 0), "ME": (0, 11), "VT": (1, 10), "NH": (1, 11),
    "WA": (2, 1), "ID": (2, 2), "MT": (2, 3), "ND": (2, 4), "MN": (2, 5), "IL": (2, 6), "WI": (2, 7),
    "MI": (2, 8), "NY": (2, 9), "RI": (2, 10), "MA": (2, 11),
    "OR": (3, 1), "NV": (3, 2), "WY": (3, 3), "SD": (3, 4), "IA": (3, 5), "IN": (3, 6), "OH": (3, 7),
    "PA": (3, 8), "NJ": (3, 9), "CT": (3, 10),
    "CA": (4, 1), "UT": (4, 2), "CO": (4, 3), "NE": (4, 4), "MO": (4, 5), "KY": (4, 6), "WV": (4, 7),
    "VA": (4, 8), "MD": (4, 9), "DE": (4, 10),
    "AZ": (5, 2), "NM": (5, 3), "KS": (5, 4), "AR": (5, 5), "TN": (5, 6), "NC": (5, 7), "SC": (5, 8), "DC": (5, 9),
    "OK": (6, 4), "LA": (6, 5), "MS": (6, 6), "AL": (6, 7), "GA": (6, 8),
    "HI": (7, 0), "TX": (7, 4), "FL": (7, 9),
}  # fmt: skip


TILE_SCALE = plotly.colors.make_colorscale(plotly.colors.sequential.Blues)  # what "Blues" names in plotly
# Black, not the page's near-black: where the blues cross from light to dark, only black and white both clear
# 4.5:1 (the near-black gives 4.2:1 there).
DARK_TEXT, LIGHT_TEXT = "#000000", "#FFFFFF"


def _luminance(colour: str) -> float:
    """WCAG relative luminance of an 'rgb(r, g, b)' or '#rrggbb' colour."""
    r, g, b = plotly.colors.unlabel_rgb(colour) if colour.startswith("rgb") else plotly.colors.hex_to_rgb(colour)

    def channel(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def tile_fills(shades: list[float]) -> list[str]:
    """The fill, as 'rgb(r, g, b)', of each tile shaded by its value on TILE_SCALE from 0 to the largest value."""
    top = max(shades, default=1.0) or 1.0
    return plotly.colors.sample_colorscale(TILE_SCALE, [min(max(v / top, 0.0), 1.0) for v in shades])


def tile_text_colours(shades: list[float]) -> list[str]:
    """For each tile shaded by its value (0 to the largest), the label colour, dark or white, that reads best on it:
    a dark label on the darkest blues (Texas, California) was unreadable."""
    fills = tile_fills(shades)
    return [DARK_TEXT if contrast(DARK_TEXT, fill) >= contrast(LIGHT_TEXT, fill) else LIGHT_TEXT for fill in fills]


def _tiles(codes: list[str], fills: list[str]) -> list[dict[str, object]]:
    """One square per state in axis units (so tiles shrink with a phone's width instead of overlapping)."""
    return [
        {"type": "rect", "xref": "x", "yref": "y", "layer": "below", "fillcolor": fill,
         "x0": STATE_TILES[c][1] - 0.46, "x1": STATE_TILES[c][1] + 0.46,
         "y0": -STATE_TILES[c][0] - 0.46, "y1": -STATE_TILES[c][0] + 0.46, "line": {"width": 0}}
        for c, fill in zip(codes, fills, strict=True)
    ]  # fmt: skip


# The points that carry each tile's label, hover and click: as large as a tile on a wide screen, and invisible,
# since the tile itself is a shape drawn to scale.
_HIT = {"symbol": "square", "size": 40, "opacity": 0}


def state_tile_map(frame: pd.DataFrame, value: str, label: str) -> go.Figure:
    """A clickable tile map: one square per state, shaded by `value`; states without data in grey.

    `frame` has a `state` column and the value column; the state code rides in customdata. The colour bar lies
    under the tiles, ticked in thousands or millions (20k, 1.5M), so it takes no width from them.
    """
    values = frame.set_index("state")[value]
    status = frame.set_index("state")[f"{value}_status"] if f"{value}_status" in frame else None
    codes = list(STATE_TILES)
    fig = go.Figure()
    shapes: list[dict[str, object]] = []
    hidden = [c for c in codes if c in values.index and pd.isna(values[c])]  # suppressed
    if hidden:
        why = {privacy.SUPPRESSED: "suppressed: too few students to show",
               privacy.HIDDEN_LABEL: "suppressed to protect a smaller count"}  # fmt: skip
        labels = [privacy.SUPPRESSED if status is None else privacy.count_label(status[c]) for c in hidden]
        shapes += _tiles(hidden, ["#D1D5DB"] * len(hidden))
        fig.add_scatter(
            x=[STATE_TILES[c][1] for c in hidden],
            y=[-STATE_TILES[c][0] for c in hidden],
            mode="markers+text",
            text=hidden,
            customdata=[[c, label, why[label]] for c, label in zip(hidden, labels, strict=True)],
            marker=_HIT,
            textfont={"color": "#374151"},
            hovertemplate="%{text}: %{customdata[1]} (%{customdata[2]})<extra></extra>",
            showlegend=False,
        )
    values = values.dropna()
    empty = [c for c in codes if c not in values.index and c not in hidden]
    shapes += _tiles(empty, ["#E5E7EB"] * len(empty))
    fig.add_scatter(
        x=[STATE_TILES[c][1] for c in empty],
        y=[-STATE_TILES[c][0] for c in empty],
        mode="markers+text",
        text=empty,
        marker=_HIT,
        textfont={"color": "#4B5563"},
        hovertemplate="%{text}: no schools<extra></extra>",
        showlegend=False,
    )
    present = [c for c in codes if c in values.index]
    shades = [float(values[c]) for c in present]
    shapes += _tiles(present, tile_fills(shades))
    fig.add_scatter(
        x=[STATE_TILES[c][1] for c in present],
        y=[-STATE_TILES[c][0] for c in present],
        mode="markers+text",
        text=present,
        customdata=[[c] for c in present],
        marker={
            **_HIT,
            "color": shades,
            "colorscale": TILE_SCALE,
            "cmin": 0,
            "cmax": max(shades, default=1.0) or 1.0,
            "colorbar": {
                "title": {"text": label, "side": "top"},
                "orientation": "h",
                "x": 0.5,
                "xanchor": "center",
                "y": -0.02,
                "yanchor": "top",
                "len": 0.7,
                "thickness": 12,
                "tickformat": "~s",
            },
        },
        textfont={"color": tile_text_colours(shades)},
        hovertemplate="%{text}: %{marker.color:,.0f} "
        + label.lower()
        + "<br>Click to open its outcomes<extra></extra>",
        showlegend=False,
    )
    fig.update_layout(shapes=shapes)
    fig.update_xaxes(visible=False, range=[-0.7, 11.7])
    fig.update_yaxes(visible=False, range=[-7.7, 0.7], scaleanchor="x")
    fig.update_layout(
        height=470, margin={"t": 10, "b": 80, "l": 10, "r": 10}, plot_bgcolor="#FFFFFF", clickmode="event+select"
    )
    return fig
