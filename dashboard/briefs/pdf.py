"""A brief as a tagged, one-page, letter-size PDF, laid out by typst.

The figures travel to the template as JSON in `sys.inputs`, never as markup: a school or affiliate name holding
typst syntax prints as text and runs nothing. The trend chart is the Profile page's own plotly figure, drawn as PNG
by kaleido (`chart_images`); where no browser can draw it, the brief prints the trend as a table instead."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import plotly.graph_objects as go
import typst

from dashboard import chart_images
from dashboard.briefs.content import Brief, trend_frame
from dashboard.views import profile as profile_view

TEMPLATE = Path(__file__).with_name("brief.typ")
TREND_FILE = "trend.png"
# Line styles told apart without colour: the brief must read the same printed in greyscale.
DASHES = {"remained_in_school": "solid", "promoted": "dash", "graduated": "dot"}
SYMBOLS = {"remained_in_school": "circle", "promoted": "square", "graduated": "diamond"}


def trend_figure(brief: Brief) -> go.Figure | None:
    """The Profile page's trend chart of the brief's place, styled for print; None when no year is published
    exactly (every point would be a gap)."""
    frame = trend_frame(brief)
    if frame["rate"].notna().sum() == 0:
        return None
    fig = profile_view.trend_figure(frame.astype({"rate": float}), tuple(brief.trend_years))
    for trace, row in zip(fig.data, brief.trend, strict=True):
        trace.update(line={"dash": DASHES[row["key"]], "width": 2.5}, marker={"symbol": SYMBOLS[row["key"]], "size": 7},
                     connectgaps=False)  # fmt: skip
    fig.update_layout(template="plotly_white", font={"size": 12, "color": "#222"}, showlegend=True,
                      margin={"t": 5, "l": 30, "r": 5, "b": 5},
                      legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0})  # fmt: skip
    fig.update_xaxes(title=None, tickangle=-45 if len(brief.trend_years) > 6 else 0, automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def _trend_png(brief: Brief) -> bytes | None:
    """The trend chart as PNG at three times its printed size, or None when there is nothing to draw or no browser
    to draw it. PNG rather than SVG: typst would set an SVG's text in its own fonts, wider than the ones Chromium
    measured, and the year labels ran into each other."""
    fig = trend_figure(brief)
    if fig is None:
        return None
    try:
        return chart_images.image(fig, "png", width=460, height=215, scale=3)
    except chart_images.ChartImageError:
        return None


def render(brief: Brief) -> bytes:
    """The brief as PDF bytes (PDF/UA-1: tagged, titled, in English)."""
    png = _trend_png(brief)
    with tempfile.TemporaryDirectory(prefix="brief_") as root:
        if png is not None:
            (Path(root) / TREND_FILE).write_bytes(png)
        data = json.dumps({**brief.as_dict(), "trend_image": TREND_FILE if png is not None else ""})
        # The template reads no file but the chart: root is the temporary folder that holds only it.
        return typst.compile(TEMPLATE.read_bytes(), root=root, sys_inputs={"brief": data}, pdf_standards="ua-1",
                             ignore_system_fonts=True)  # fmt: skip
