"""A brief as one PowerPoint slide whose charts are native (python-pptx chart data, editable in PowerPoint), not
pictures: a fundraiser can restyle them. Figures withheld by suppression are empty points, and the tables beside
the charts read as the pages do ('<10', 'hidden', '>=95%')."""

from __future__ import annotations

import io

from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.util import Inches, Pt

from dashboard.briefs.content import Brief

TOGETHER = "Tiers 2 and 3"


def _text(slide, left, top, width, height, lines: list[tuple[str, int, bool]]) -> None:
    """A text box of (text, size in points, bold) lines."""
    frame = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height)).text_frame
    frame.word_wrap = True
    for i, (text, size, bold) in enumerate(lines):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        paragraph.text = text
        paragraph.font.size, paragraph.font.bold = Pt(size), bold


def _readable(chart, number_format: str) -> None:
    """Type sized for a slide (PowerPoint's default is 18 pt, too large beside the figures), every bar labelled."""
    chart.font.size = Pt(11)
    chart.chart_title.text_frame.paragraphs[0].font.size = Pt(13)
    chart.chart_title.text_frame.paragraphs[0].font.bold = True
    plot = chart.plots[0]
    plot.has_data_labels = True
    labels = plot.data_labels
    labels.number_format, labels.number_format_is_linked = number_format, False
    labels.font.size = Pt(10)


def _trend_chart(slide, brief: Brief) -> None:
    """The place's headline rates per school year as a native line chart; a year not published exactly is a gap."""
    trend = CategoryChartData(number_format="0%")
    trend.categories = brief.trend_years
    for row in brief.trend:
        trend.add_series(row["metric"], row["shares"])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, Inches(8.8), Inches(2.6), Inches(4.0), Inches(3.9),
                                   trend).chart  # fmt: skip
    chart.has_title = True
    chart.chart_title.text_frame.text = f"Headline rates, {brief.trend_years[0]} to {brief.trend_years[-1]}"
    chart.has_legend = True
    chart.legend.position, chart.legend.include_in_layout = XL_LEGEND_POSITION.BOTTOM, False
    shown = [s for row in brief.trend for s in row["shares"] if s is not None]
    chart.value_axis.minimum_scale = max(0.0, (int(min(shown) * 20) / 20)) if shown else 0.0
    chart.value_axis.maximum_scale = 1.0
    chart.value_axis.tick_labels.number_format, chart.value_axis.tick_labels.number_format_is_linked = "0%", False
    chart.font.size = Pt(10)
    chart.chart_title.text_frame.paragraphs[0].font.size = Pt(13)
    chart.chart_title.text_frame.paragraphs[0].font.bold = True


def render(brief: Brief) -> bytes:
    """The brief as .pptx bytes: one 16:9 slide, title, headline figures, outcome and tier charts, notes."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank
    demo = "  |  DEMO DATA: a synthetic network, not real students" if brief.demo else ""
    _text(slide, 0.5, 0.3, 12.3, 0.9, [(f"{brief.place}, school year {brief.year}", 24, True),
                                       (brief.title + demo, 12, False)])  # fmt: skip
    width = 12.3 / max(len(brief.headline), 1)
    for i, card in enumerate(brief.headline):
        change = f"{card['change']} from {brief.previous_year}" if card["change"] else ""
        _text(slide, 0.5 + i * width, 1.35, width - 0.1, 1.1,
              [(card["value"], 24, True), (card["label"], 11, False), (change, 10, False)])  # fmt: skip

    together = [r for r in brief.outcomes if r["tier"] == TOGETHER]
    rates = CategoryChartData(number_format="0%")
    rates.categories = [r["metric"] for r in together]
    for k, column in enumerate(brief.outcome_columns):
        rates.add_series(column, [r["shares"][k] for r in together])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.BAR_CLUSTERED, Inches(0.5), Inches(2.6), Inches(4.5), Inches(3.9),
                                   rates).chart  # fmt: skip
    chart.has_title = True
    chart.chart_title.text_frame.text = f"Outcomes, tiers 2 and 3, {brief.year}"
    chart.has_legend = len(brief.outcome_columns) > 1
    if chart.has_legend:
        chart.legend.position, chart.legend.include_in_layout = XL_LEGEND_POSITION.BOTTOM, False
    chart.value_axis.maximum_scale, chart.value_axis.minimum_scale = 1.0, 0.0
    chart.value_axis.tick_labels.number_format, chart.value_axis.tick_labels.number_format_is_linked = "0%", False
    _readable(chart, "0%")

    tiers = CategoryChartData(number_format="#,##0")
    tiers.categories = [r["tier"] for r in brief.students]
    tiers.add_series("Students served", [r["number"] for r in brief.students])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(5.2), Inches(2.6), Inches(3.4),
                                   Inches(3.9), tiers).chart  # fmt: skip
    chart.has_title, chart.has_legend = True, False
    chart.chart_title.text_frame.text = f"Students served by tier, {brief.year}"
    _readable(chart, "#,##0")
    _trend_chart(slide, brief)
    shown = "; ".join(f"{r['tier']}: {r['students']}" for r in brief.students)
    withheld = [f"{r['metric']} ({column}): {r['values'][k]}" for r in together
                for k, column in enumerate(brief.outcome_columns) if r["shares"][k] is None]  # fmt: skip
    notes = [shown] + ([f"Not drawn, as published: {'; '.join(withheld)}."] if withheld else []) + brief.notes
    _text(slide, 0.5, 6.55, 12.3, 0.9, [(n, 9, False) for n in [*notes, brief.as_of]])
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()
