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
    fills = plotly.colors.sample_colorscale(scale, [v / top for v in tiles.marker.color])
    for code, fill, text in zip(tiles.text, fills, tiles.textfont.color, strict=True):
        assert _wcag_contrast(_rgb(fill), _rgb(text)) >= 4.5, (code, fill, text)


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
