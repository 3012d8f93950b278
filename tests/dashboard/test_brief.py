"""Briefs (issue 13): the PDF's own text, read back with pypdf, against pandas from the raw tables."""

from __future__ import annotations

import io
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa
from pptx import Presentation
from pypdf import PdfReader

from dashboard import chart_images, disclosure, formatting
from dashboard.briefs import content, pdf, slides
from dashboard.data import queries

YEAR = "2023-24"
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def text_of(data: bytes) -> str:
    """The PDF's text as a reader extracts it, whitespace collapsed to single spaces."""
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    return " ".join(reader.pages[0].extract_text().split())


def _place_rows(raw: dict[str, pd.DataFrame], table: str, place: content.Place, year: str | None) -> pd.DataFrame:
    rows = raw[table].merge(raw["schools"][["school_id", "state", "affiliate_id"]], on="school_id")
    if year is not None:
        rows = rows[rows["school_year"] == year]
    if place.school:
        rows = rows[rows["school_id"] == place.school]
    if place.state:
        rows = rows[rows["state"] == place.state]
    if place.affiliate:
        rows = rows[rows["affiliate_id"] == place.affiliate]
    return rows


@pytest.mark.parametrize("place", [content.Place(), content.Place(state="NC"), content.Place(affiliate="NC-CHARLOTTE")],
                         ids=["nation", "NC", "NC-CHARLOTTE"])  # fmt: skip
def test_a_brief_prints_the_place_s_figures_as_pandas_computes_them(sqlite_engine, raw, place) -> None:
    """Each figure reads as pandas computes it from the raw tables, or, for a state or an affiliate, 'hidden'
    where the stored pattern withholds it to protect a small cell; the nation's are all published exactly."""
    text = text_of(pdf.render(content.build(sqlite_engine, place, YEAR)))
    withheld = [] if place == content.Place() else ["hidden", "–"]

    def shows(prefix: str, value: str) -> None:
        assert any(f"{prefix} {v}" in text for v in [value, *withheld]), (prefix, value)

    counts = _place_rows(raw, "school_years", place, YEAR)
    before = _place_rows(raw, "school_years", place, "2022-23")
    served = int(counts["students_served"].sum())
    change = served - int(before["students_served"].sum())
    assert f"{formatting.compact(served)} Students served {formatting.compact(change)} from 2022-23" in text
    assert f"{formatting.compact(len(counts))} Schools and sites" in text
    for tier, column in ((1, "tier1_students"), (2, "tier2_students"), (3, "tier3_students")):
        shows(content.TIERS[tier], f"{int(counts[column].sum()):,}")
    finances = raw["finances"].merge(raw["affiliates"][["affiliate_id", "state"]], on="affiliate_id")
    finances = finances[(finances["school_year"] == YEAR) & (finances["line"] == "expense")]
    if place.state:
        finances = finances[finances["state"] == place.state]
    if place.affiliate:
        finances = finances[finances["affiliate_id"] == place.affiliate]
    spent = finances["amount_usd"].sum()
    shows("Cost per student served", f"${spent / served:,.0f}")
    shows("Cost per case-managed student", f"${spent / counts['tier3_students'].sum():,.0f}")
    gifts = _place_rows(raw, "partnerships", place, YEAR)
    leveraged = gifts["in_kind_usd"].sum() + gifts["volunteer_hours"].sum() * 33.49
    assert f"In-kind gifts and volunteer time (partners' reports) ${formatting.compact(leveraged)}," in text
    outcomes = _place_rows(raw, "outcomes", place, YEAR)
    for metric in content.RATES:
        rows = outcomes[outcomes["metric"] == metric]
        for tier, label in ((None, "Tiers 2 and 3"), (2, "Tier 2"), (3, "Tier 3")):
            part = rows if tier is None else rows[rows["tier"] == tier]
            met, eligible = int(part["met"].sum()), int(part["eligible"].sum())
            coded = disclosure.coded_range(eligible, met) is not None
            value = disclosure.coded_label(eligible, met) if coded else formatting.percent(met / eligible)
            shows(f"{formatting.LABELS[metric]} {label}", value)


def test_a_small_count_stays_suppressed_in_the_brief(sqlite_engine, raw) -> None:
    """The affiliate-year with the fewest case-managed students: under 10, so the brief reads '<10' and never the
    number, as the pages do."""
    per = raw["school_years"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    per = per.groupby(["affiliate_id", "school_year"])["tier3_students"].sum()
    (affiliate, year), smallest = per.idxmin(), int(per.min())
    assert 0 < smallest < 10
    text = text_of(pdf.render(content.build(sqlite_engine, content.Place(affiliate=affiliate), year)))
    assert f"{content.TIERS[3]} <10" in text
    assert f"{content.TIERS[3]} {smallest}" not in text


def test_a_lead_s_brief_is_of_its_own_affiliate_only(sqlite_engine) -> None:
    lead = queries.Scope(frozenset({"NC-CHARLOTTE"}))
    assert content.place_for(queries.Filters(), lead) == content.Place(affiliate="NC-CHARLOTTE")
    with pytest.raises(content.BriefError, match="in your view"):
        content.build(sqlite_engine, content.Place(affiliate="GA-MACON"), YEAR, lead)
    with pytest.raises(content.BriefError, match="one of its affiliates or schools"):
        content.build(sqlite_engine, content.Place(state="NC"), YEAR, lead)


def test_markup_in_a_name_prints_as_text() -> None:
    """Names reach the template as data, not markup: typst syntax in a name is printed, not run."""
    hostile = '#set page(fill: red) *bold* <label> $x$ #panic("run")'
    brief = content.Brief(title="t", place=hostile, year=YEAR, previous_year=None, demo=True, as_of="as of")
    text = text_of(pdf.render(brief))
    assert hostile in text
    assert "DEMO DATA" in text


def test_the_command_writes_a_brief_and_refuses_an_unknown_place_in_one_line(sqlite_engine, tmp_path) -> None:
    url = str(sqlite_engine.url)
    out = tmp_path / "nc.pdf"
    run = [sys.executable, "-m", "dashboard", "brief", "--year", YEAR, "--database-url", url]
    done = subprocess.run([*run, "--state", "NC", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "North Carolina" in text_of(out.read_bytes())
    slide = tmp_path / "nc.pptx"
    done = subprocess.run([*run, "--state", "NC", "--format", "pptx", "--out", str(slide)], capture_output=True,
                          text=True, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "North Carolina" in _charts(slide.read_bytes())[f"Outcomes, tiers 2 and 3, {YEAR}"]
    refused = subprocess.run([*run, "--state", "ZZ", "--out", str(tmp_path / "x.pdf")], capture_output=True,
                             text=True, cwd=ROOT)  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: no schools in state 'ZZ'"
    assert not (tmp_path / "x.pdf").exists()


def _charts(data: bytes) -> dict[str, dict[str, list]]:
    """Per native chart of the one slide (by title): {series name: values}, plus 'categories'."""
    deck = Presentation(io.BytesIO(data))
    assert len(deck.slides) == 1
    out = {}
    for shape in deck.slides[0].shapes:
        if shape.has_chart:
            plot = shape.chart.plots[0]
            series = {s.name: list(s.values) for s in plot.series}
            out[shape.chart.chart_title.text_frame.text] = {"categories": list(plot.categories), **series}
    return out


def test_the_slide_s_charts_are_native_and_hold_pandas_figures(sqlite_engine, raw) -> None:
    """The nation's slide: editable chart data (not pictures), each rate and tier count as pandas computes it."""
    charts = _charts(slides.render(content.build(sqlite_engine, content.Place(), YEAR)))
    rates = charts[f"Outcomes, tiers 2 and 3, {YEAR}"]
    outcomes = raw["outcomes"][raw["outcomes"]["school_year"] == YEAR]
    expected = [formatting.LABELS[m] for m in content.RATES]
    assert rates["categories"] == expected
    for metric, value in zip(content.RATES, rates["The whole network"], strict=True):
        rows = outcomes[outcomes["metric"] == metric]
        assert value == pytest.approx(rows["met"].sum() / rows["eligible"].sum(), abs=1e-12)
    tiers = charts[f"Students served by tier, {YEAR}"]
    counts = raw["school_years"][raw["school_years"]["school_year"] == YEAR]
    assert tiers["Students served"] == [float(counts[f"tier{t}_students"].sum()) for t in (1, 2, 3)]


def test_a_withheld_figure_is_an_empty_point_on_the_slide(sqlite_engine, raw) -> None:
    """An affiliate-year with fewer than 10 case-managed students: its tier 3 bar is empty, never the number; a tier
    its stored decision shows is pandas' count, and one it withholds is empty too."""
    per = raw["school_years"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    sums = per.groupby(["affiliate_id", "school_year"])[[f"tier{t}_students" for t in (1, 2, 3)]].sum()
    with sqlite_engine.connect() as conn:
        shown = {(a, y, t) for a, y, t in conn.execute(sa.text(
            "SELECT unit_id, school_year, tier FROM published_cells WHERE measure = 'students' AND unit = 'affiliate' "
            "AND slice = '' AND tier IN (1, 2) AND status = 'shown'")).all()}  # fmt: skip
    small = sums[(sums["tier3_students"] > 0) & (sums["tier3_students"] < 10)]
    (affiliate, year) = small["tier3_students"].idxmin()
    data = slides.render(content.build(sqlite_engine, content.Place(affiliate=affiliate), year))
    tiers = _charts(data)[f"Students served by tier, {year}"]["Students served"]
    assert tiers[2] is None
    for tier in (1, 2):
        expected = float(sums.loc[(affiliate, year), f"tier{tier}_students"])
        assert tiers[tier - 1] == (expected if (affiliate, year, tier) in shown else None)
    text = " ".join(p.text for s in Presentation(io.BytesIO(data)).slides[0].shapes if s.has_text_frame
                    for p in s.text_frame.paragraphs)  # fmt: skip
    assert f"{content.TIERS[3]}: <10" in text


def test_the_return_is_not_given_where_the_graduates_are_withheld(sqlite_engine, raw) -> None:
    """The model's ratio is linear in the graduates: for the affiliate-year with the fewest seniors (under 10, so
    withheld), the brief gives no ratio, while the nation's brief gives its range."""
    seniors = raw["outcomes"][raw["outcomes"]["metric"] == "graduated"]
    seniors = seniors.merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    per = seniors.groupby(["affiliate_id", "school_year"])["eligible"].sum()
    per = per[per > 0]
    (affiliate, year), fewest = per.idxmin(), int(per.min())
    assert fewest < 10
    text = text_of(pdf.render(content.build(sqlite_engine, content.Place(affiliate=affiliate), year)))
    assert "Our model's benefit per $1 not given: this place's graduation figure is withheld" in text
    nation = text_of(pdf.render(content.build(sqlite_engine, content.Place(), year)))
    assert "Our model's benefit per $1 $" in nation


def _published(label: str) -> bool:
    """Whether a rate as printed is a published figure (87%) rather than withheld or a range."""
    return label.endswith("%") and not label.startswith(("<", ">"))


def test_the_trend_holds_the_place_s_published_rates_in_pdf_and_slide(sqlite_engine, raw) -> None:
    """NC's headline rates per school year: each point drawn (the PDF's chart figure, the slide's line chart) is
    pandas' met / eligible over NC's rows; a year withheld or shown as a range is a gap in both, never a value."""
    place = content.Place(state="NC")
    brief = content.build(sqlite_engine, place, YEAR)
    outcomes = _place_rows(raw, "outcomes", place, None)
    figure = {trace.name: list(trace.y) for trace in pdf.trend_figure(brief).data}
    line = _charts(slides.render(brief))[f"Headline rates, {brief.trend_years[0]} to {brief.trend_years[-1]}"]
    up_to = sorted(y for y in outcomes["school_year"].unique() if y <= YEAR)
    assert line["categories"] == brief.trend_years == up_to[-len(brief.trend_years) :]
    drawn = 0
    for row in brief.trend:
        label = row["metric"]
        for k, year in enumerate(brief.trend_years):
            part = outcomes[(outcomes["metric"] == row["key"]) & (outcomes["school_year"] == year)]
            shown = row["values"][k]
            if _published(shown):
                truth = part["met"].sum() / part["eligible"].sum()
                assert shown == formatting.percent(truth)
                assert figure[label][k] == pytest.approx(truth, abs=1e-12)
                assert line[label][k] == pytest.approx(truth, abs=1e-12)
                drawn += 1
            else:
                assert figure[label][k] is None and line[label][k] is None, (label, year, shown)
    assert drawn >= len(brief.trend_years)  # NC publishes most of its years: the check above ran
    page = PdfReader(io.BytesIO(pdf.render(brief))).pages[0]
    assert len(page.images) == 1  # the chart, drawn by kaleido


def test_without_a_browser_the_pdf_prints_the_trend_as_a_table(sqlite_engine, monkeypatch) -> None:
    brief = content.build(sqlite_engine, content.Place(state="NC"), YEAR)

    def no_browser(*args, **kwargs):
        raise chart_images.ChartImageError("chart images need Chromium")

    monkeypatch.setattr(chart_images, "image", no_browser)
    data = pdf.render(brief)
    assert len(PdfReader(io.BytesIO(data)).pages[0].images) == 0
    text = text_of(data)
    for row in brief.trend:
        assert f"{row['metric']} {' '.join(row['values'])}" in text


def test_a_lead_s_brief_of_one_of_its_schools(sqlite_engine, raw) -> None:
    """A Charlotte high school, for Charlotte's lead: its own counts and rates as pandas computes them from its
    rows, beside Charlotte, North Carolina and the nation; costs left to the affiliate's brief. Another
    affiliate's school is refused."""
    lead = queries.Scope(frozenset({"NC-CHARLOTTE"}))
    years = raw["school_years"].merge(raw["schools"], on="school_id")
    mine = years[(years["affiliate_id"] == "NC-CHARLOTTE") & (years["level"] == "high")]
    both = mine[mine["school_year"].isin([YEAR, "2022-23"])].groupby("school_id").size()
    school = str(both[both == 2].index[0])
    place = content.Place(school=school)
    brief = content.build(sqlite_engine, place, YEAR, lead)
    text = text_of(pdf.render(brief))
    name = raw["schools"].set_index("school_id").loc[school, "name"]
    affiliate = raw["affiliates"].set_index("affiliate_id").loc["NC-CHARLOTTE", "name"]
    assert f"{name}, school year {YEAR}" in text
    assert brief.outcome_columns == [name, affiliate, "North Carolina", "Nation"]
    counts, before = _place_rows(raw, "school_years", place, YEAR), _place_rows(raw, "school_years", place, "2022-23")
    served = int(counts["students_served"].sum())
    change = served - int(before["students_served"].sum())
    assert f"{formatting.compact(served)} Students served {formatting.compact(change)} from 2022-23" in text
    assert "Schools and sites" not in text  # one school: a count of 1 says nothing
    for tier, column in ((1, "tier1_students"), (2, "tier2_students"), (3, "tier3_students")):
        value = int(counts[column].sum())
        assert any(f"{content.TIERS[tier]} {v}" in text for v in (f"{value:,}", "hidden", "<10"))
        if value < 10:
            assert f"{content.TIERS[tier]} {value:,}" not in text
    outcomes = _place_rows(raw, "outcomes", place, YEAR)
    for row in (r for r in brief.outcomes if r["tier"] == "Tiers 2 and 3"):
        metric = next(m for m in content.RATES if formatting.LABELS[m] == row["metric"])
        part = outcomes[outcomes["metric"] == metric]
        if _published(row["values"][0]):
            assert row["values"][0] == formatting.percent(part["met"].sum() / part["eligible"].sum())
        else:
            assert row["shares"][0] is None
    assert f"Costs and return kept by {affiliate} for all its schools" in text
    elsewhere = raw["schools"][raw["schools"]["affiliate_id"] != "NC-CHARLOTTE"]["school_id"].iloc[0]
    with pytest.raises(content.BriefError, match="in your view"):
        content.build(sqlite_engine, content.Place(school=str(elsewhere)), YEAR, lead)
