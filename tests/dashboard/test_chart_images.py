"""Chart pictures for export: the page's figure with its title, view and source on the picture, drawn by kaleido."""

from __future__ import annotations

import html
import re
import struct

import pandas as pd
import plotly.graph_objects as go

from dashboard import chart_images
from dashboard.views import charts

HOSTILE = "Oak <b>High</b> & <img src=x onerror=alert(1)>"


def _figure() -> go.Figure:
    frame = pd.DataFrame(
        {"school_year": ["2023-24", "2024-25"] * 2, "tier": [1, 1, 2, 2], "students": [90, 120, 30, 41]}
    )
    return charts.students_by_tier(frame)


def test_the_dressed_copy_carries_title_view_and_source_and_leaves_the_page_s_figure_alone() -> None:
    fig = _figure()
    before = fig.to_json()
    out = chart_images.dressed(fig, f"Students served by tier: {HOSTILE}", "School year 2024-25; State: NC",
                               "Source: schools' reports.")  # fmt: skip
    assert fig.to_json() == before
    title = out.layout.title.text
    assert "School year 2024-25; State: NC" in title and "<img" not in title and "&lt;img src=x" in title
    assert [a.text for a in out.layout.annotations] == ["Source: schools' reports."]
    assert out.layout.xaxis.tickangle == 0  # year labels side by side, never run together


def test_the_picture_holds_its_title_view_and_source_as_text(chromium) -> None:
    """Drawn by kaleido as SVG, the picture's own text holds the title, the view and the source line."""
    out = chart_images.dressed(_figure(), f"Students served by tier at {HOSTILE}", "School year 2024-25",
                               "Source: schools' reports. Demo data.")  # fmt: skip
    svg = chart_images.image(out, "svg").decode("utf-8")
    printed = html.unescape(re.sub(r"<[^>]+>", "", svg))  # the text a reader sees, the tags plotly drew removed
    for text in (f"Students served by tier at {HOSTILE}", "School year 2024-25",
                 "Source: schools' reports. Demo data.", "2023-24", "2024-25"):  # fmt: skip
        assert text in printed, text
    assert "<img" not in svg and "<b>" not in svg  # the name's tags are printed, never drawn


def test_a_png_is_twice_its_css_size_for_print(chromium) -> None:
    png = chart_images.image(_figure(), "png", width=600, height=300)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1200, 600)


def test_without_a_browser_the_error_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    assert chart_images.browser_path() is None
    renderer = chart_images._Renderer()
    try:
        renderer.draw(_figure(), "png", 100, 100, 1)
    except chart_images.ChartImageError as exc:
        assert "Chromium" in str(exc)
    else:
        raise AssertionError("drew a chart without a browser")
