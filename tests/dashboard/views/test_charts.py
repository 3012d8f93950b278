"""The Overview's state tiles: every state's code is readable on its own tile (WCAG contrast, computed here from
the colour plotly draws), and the ROI sensitivity chart with nothing to show draws no empty axes."""

from __future__ import annotations

import pandas as pd
import plotly.colors

from dashboard.views import charts
from dashboard.views import roi as roi_view


def _wcag_contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    def luminance(rgb: tuple[float, float, float]) -> float:
        c = [v / 255 for v in rgb]
        c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rgb(colour: str) -> tuple[float, float, float]:
    return plotly.colors.unlabel_rgb(colour) if colour.startswith("rgb") else plotly.colors.hex_to_rgb(colour)


def _tile_under(fig, x: float, y: float):
    """The square shape drawn around the point (x, y)."""
    return next(sh for sh in fig.layout.shapes if sh.x0 < x < sh.x1 and sh.y0 < y < sh.y1)


def test_every_state_code_reads_on_its_tile() -> None:
    states = ["TX", "CA", "NC", "GA", "FL", "NY", "WA", "VT"]
    served = [350_000, 300_000, 200_000, 150_000, 90_000, 40_000, 5_000, 0]
    frame = pd.DataFrame({"state": states, "students_served": served})
    fig = charts.state_tile_map(frame, "students_served", "Students served")
    tiles = next(t for t in fig.data if t.customdata is not None and list(t.text) == [s for s in t.text if s in states]
                 and t.marker.colorscale is not None)  # fmt: skip
    scale = [list(stop) for stop in tiles.marker.colorscale]
    assert [c for _, c in scale] == [c for _, c in plotly.colors.make_colorscale(plotly.colors.sequential.Blues)]
    top = tiles.marker.cmax
    assert top == max(served) and tiles.marker.cmin == 0
    expected = plotly.colors.sample_colorscale(scale, [v / top for v in tiles.marker.color])
    for code, x, y, want, text in zip(tiles.text, tiles.x, tiles.y, expected, tiles.textfont.color, strict=True):
        fill = _tile_under(fig, x, y).fillcolor  # what is drawn is the shape; the colour bar reads the points
        assert _rgb(fill) == _rgb(want), (code, fill, want)
        assert _wcag_contrast(_rgb(fill), _rgb(text)) >= 4.5, (code, fill, text)


def test_tiles_are_drawn_to_scale_apart_and_the_colour_bar_lies_under_them() -> None:
    """At 390 px the tiles overlapped (40 px markers on a 27 px grid) and the colour bar took half the width."""
    frame = pd.DataFrame({"state": ["TX", "NC"], "students_served": [20_944.4, 20_944.2]})
    fig = charts.state_tile_map(frame, "students_served", "Students served")
    shapes = list(fig.layout.shapes)
    assert len(shapes) == len(charts.STATE_TILES)  # one square per state, whatever it holds
    for i, a in enumerate(shapes):
        assert a.xref == "x" and a.yref == "y"  # axis units: they shrink with the chart
        for b in shapes[i + 1 :]:
            assert a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0, (a, b)
    for trace in fig.data:
        assert trace.marker.opacity == 0  # the points only carry labels, hover and clicks
        for x, y in zip(trace.x, trace.y, strict=True):
            _tile_under(fig, x, y)
    bar = next(t.marker.colorbar for t in fig.data if t.marker.colorscale is not None)
    assert bar.orientation == "h" and bar.yanchor == "top" and bar.y <= 0
    assert bar.tickformat == "~s"  # 20k, not "20.9444k 20.9442k"
    assert fig.layout.yaxis.scaleanchor == "x"


def test_a_label_reads_on_every_shade_of_the_scale() -> None:
    served = list(range(0, 100_001, 500))  # every shade, a two-hundredth of the scale apart
    frame = pd.DataFrame({"state": [f"S{i}" for i in range(len(served))], "students_served": served})
    fills = plotly.colors.sample_colorscale(plotly.colors.make_colorscale(plotly.colors.sequential.Blues),
                                            [v / max(served) for v in served])  # fmt: skip
    for value, fill, text in zip(
        served, fills, charts.tile_text_colours(frame["students_served"].tolist()), strict=True
    ):
        assert _wcag_contrast(_rgb(fill), _rgb(text)) >= 4.5, (value, fill, text)


def test_a_sensitivity_chart_with_nothing_to_show_draws_no_axes() -> None:
    frame = pd.DataFrame(
        {"assumption": ["lift"], "swing": [0.0], "base_ratio": [2.0], "low_ratio": [2.0], "high_ratio": [2.0],
         "low_value": [0.8], "high_value": [1.2]}
    )  # fmt: skip
    fig = roi_view.tornado(frame)
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    assert "No assumption moves the ratio" in fig.layout.annotations[0].text
