"""Every chart on every page offers its picture (a PNG with its title, view and source), and the view it names is
the page's own: its title and the filters chosen."""

from __future__ import annotations

import pandas as pd
import pytest

from components import filters

PAGES = ["overview", "outcomes", "partners", "roi", "profile", "schools"]


@pytest.mark.parametrize("name", PAGES)
def test_every_chart_has_a_picture_download(open_page, raw, name) -> None:
    app = open_page(name)
    if name == "schools":  # the Schools page draws its charts for the schools picked
        schools = raw["schools"][raw["schools"]["affiliate_id"] == "NC-CHARLOTTE"]["school_id"].astype(str)
        app.query_params["school"] = list(schools[:2])
    app.run()
    assert not app.exception
    charts = app.get("plotly_chart")
    pictures = [b for b in app.get("download_button") if b.key.startswith("png_")]
    assert charts and len(pictures) == len(charts), (len(charts), [b.key for b in pictures])
    assert all(b.proto.label == "Chart as PNG" for b in pictures)


def test_the_view_named_on_downloads_is_the_page_s_title_and_filters(open_page, raw) -> None:
    app = open_page("overview")
    state = sorted(pd.unique(raw["schools"]["state"]))[0]
    app.query_params.update({"state": state, "title_i": "yes"})
    app.run()
    assert not app.exception
    line = app.session_state[filters.VIEW_KEY]
    year = sorted(raw["school_years"]["school_year"].astype(str).unique())[-1]
    assert line[:2] == ["Impact overview", f"School year {year}"]
    assert any(part.startswith("State: ") for part in line) and "Title I only" in line
