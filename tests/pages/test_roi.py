"""The ROI page through AppTest: it runs, shows the published evidence, and its figures match the raw tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import roi

ROOT = Path(__file__).resolve().parents[2]


def _dollars(text: str) -> float:
    """'$1,234.56' -> 1234.56."""
    return float(text.replace("$", "").replace(",", ""))


def _ratio(app: AppTest) -> str:
    return {m.label: m.value for m in app.metric}["Benefit per $1 of cost"]


@pytest.fixture
def app(open_page) -> AppTest:
    return open_page("roi")


@pytest.mark.parametrize("year", [None, "2021-22"])
def test_cost_per_student_matches_the_raw_tables(app: AppTest, raw, year) -> None:
    if year:
        app.query_params["year"] = year
    app.run()
    assert not app.exception
    shown_year = year or sorted(raw["school_years"]["school_year"].unique())[-1]
    finances = raw["finances"].query("school_year == @shown_year and line == 'expense'")
    sy = raw["school_years"].query("school_year == @shown_year")
    expenses = finances["amount_usd"].sum()
    metrics = {m.label: m.value for m in app.metric}
    assert _dollars(metrics["Cost per student served"]) == pytest.approx(
        expenses / sy["students_served"].sum(), abs=0.005
    )
    assert _dollars(metrics["Per case-managed student"]) == pytest.approx(
        expenses / sy["tier3_students"].sum(), abs=0.005
    )
    assert f"school year {shown_year}" in " ".join(h.value for h in app.subheader)


def test_published_estimates_appear(app: AppTest) -> None:
    app.run()
    assert not app.exception
    headings = [m.value for m in app.markdown]
    values = [m.value for m in app.metric if m.label in {"Return per $1", "Finding"}]
    assert values[: len(roi.PUBLISHED_ESTIMATES)] == ["$11.60", "$15.52", "$18.00", "No effect"]
    for estimate in roi.PUBLISHED_ESTIMATES:
        assert f"**{estimate['source']}**" in headings
    captions = " ".join(c.value for c in app.caption)
    assert "57% chance" in captions and "No positive effect on attendance" in captions


def test_changing_the_preset_changes_the_ratio(app: AppTest, raw) -> None:
    app.run()
    assert not app.exception
    first = _ratio(app)
    presets = list(roi.PRESETS)
    assert app.selectbox(key="roi_preset").value == presets[0]
    app.selectbox(key="roi_preset").set_value(presets[2]).run()
    assert not app.exception
    assert app.slider(key="roi_grad_rate_lift_pp").value == pytest.approx(roi.PRESETS[presets[2]].grad_rate_lift_pp)
    assert _ratio(app) != first
    conservative = next(name for name in presets if name.startswith("Conservative"))
    app.selectbox(key="roi_preset").set_value(conservative).run()
    assert not app.exception
    assert _ratio(app) == "$0.00"
    assert app.checkbox(key="roi_count_in_kind").value is True


def test_a_slider_moves_the_ratio_and_marks_the_preset_adjusted(app: AppTest) -> None:
    app.run()
    first = _ratio(app)
    app.slider(key="roi_grad_rate_lift_pp").set_value(1.0).run()
    assert not app.exception
    assert _ratio(app) != first
    assert any("Adjusted from" in c.value for c in app.sidebar.caption)


def test_every_chart_has_its_data_and_a_download(app: AppTest) -> None:
    app.run()
    assert not app.exception
    keys = {b.key for b in app.get("download_button")}
    assert {"dl_roi_tornado", "dl_roi_cost_per_student", "dl_roi_funding_mix", "dl_roi_bridge"} <= keys
    assert len(app.get("plotly_chart")) == 4


def test_the_bridge_runs_from_the_study_s_return_to_the_card_s(app: AppTest) -> None:
    """The waterfall starts at the EMSI preset's published $11.60 and ends at the ratio the page's card shows; its
    steps add up, and the sentence under it names both ends."""
    app.run()
    assert not app.exception
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    (fall,) = [trace for chart in charts for trace in chart["data"] if trace["type"] == "waterfall"]
    assert fall["text"][0] == "$11.60" and fall["text"][-1] == _ratio(app)
    assert fall["y"][0] + sum(fall["y"][1:-1]) == pytest.approx(fall["y"][-1], abs=1e-9)
    sentence = " ".join(m.value for m in app.markdown).replace("\\", "")  # read as shown, without escapes
    assert "11.60" in sentence and _ratio(app).lstrip("$") in sentence
