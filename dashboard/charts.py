"""Plotly figure builders: plain data in, figures out; one colour per tier and metric everywhere."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# Okabe-Ito, safe for the common colour-vision deficiencies.
TIER_COLOURS = {1: "#56B4E9", 2: "#E69F00", 3: "#009E73"}
TIER_NAMES = {1: "Tier 1 (school-wide)", 2: "Tier 2 (targeted groups)", 3: "Tier 3 (case-managed)"}


def students_by_tier(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars of students served per school year, one colour per tier."""
    fig = go.Figure()
    for tier, part in frame.groupby("tier"):
        fig.add_bar(
            x=part["school_year"],
            y=part["students"],
            name=TIER_NAMES[int(tier)],
            marker_color=TIER_COLOURS[int(tier)],
            hovertemplate="%{x}: %{y:,} students<extra>" + TIER_NAMES[int(tier)] + "</extra>",
        )
    fig.update_layout(barmode="stack", yaxis_title="Students served", xaxis_title="School year",
                      legend={"orientation": "h", "y": -0.25}, margin={"t": 10, "l": 10, "r": 10})  # fmt: skip
    return fig
