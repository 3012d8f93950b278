"""The Overview page through AppTest: the figures it shows against a pandas recomputation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import formatting
from dashboard.data import users

ROOT = Path(__file__).resolve().parents[2]
UNITS = {"K": 1e3, "M": 1e6, "B": 1e9}


def _number(text: str) -> tuple[float, float]:
    """'1.8M' -> (1_800_000, 50_000): the value and half of its last shown digit."""
    text = text.replace(",", "")
    unit = UNITS.get(text[-1], 1.0)
    digits = text[:-1] if text[-1] in UNITS else text
    step = 10 ** -len(digits.split(".")[1]) if "." in digits else 1
    return float(digits) * unit, step * unit / 2


READER = "overview_reader"


def signed_in(at: AppTest) -> AppTest:
    """The session state a successful sign-in leaves behind (the form itself is tested in tests/components)."""
    at.session_state["authentication_status"] = True
    at.session_state["_auth_signed_in_at"] = datetime.now(UTC)
    at.session_state["username"] = READER
    return at


@pytest.fixture
def app(sqlite_engine, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("DASHBOARD_COOKIE_KEY", "a-test-cookie-key-that-is-long-enough-for-hs256")
    if users.get_user(sqlite_engine, READER) is None:
        users.add_user(sqlite_engine, READER, "Board reader", "reader@example.org", "a long test password", "board")
    st.cache_data.clear()
    st.cache_resource.clear()
    return signed_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=60))


@pytest.mark.parametrize("year", [None, "2021-22"])
def test_kpis_match_the_raw_tables(app: AppTest, raw, year) -> None:
    if year:
        app.query_params["year"] = year
    app.run()
    assert not app.exception
    shown_year = year or sorted(raw["school_years"]["school_year"].unique())[-1]
    sy = raw["school_years"][raw["school_years"]["school_year"] == shown_year]
    expected = {
        "Students served": sy["students_served"].sum(),
        "Case-managed students (tier 3)": sy["tier3_students"].sum(),
        "Schools and sites": len(sy),
        "Volunteers": sy["volunteers"].sum(),
        "Community partners": raw["partnerships"].query("school_year == @shown_year")["partner_id"].nunique(),
    }
    metrics = {m.label: m.value for m in app.metric}
    for label, value in expected.items():
        shown, tolerance = _number(metrics[label])
        assert abs(shown - value) <= tolerance + 1e-9, (label, metrics[label], value)
    o = raw["outcomes"][raw["outcomes"]["school_year"] == shown_year].groupby("metric")[["met", "eligible"]].sum()
    graduated = o.loc["graduated", "met"] / o.loc["graduated", "eligible"]
    assert metrics["Graduated (seniors)"] == f"{round(graduated * 100)}%"


def test_unknown_year_in_the_url_falls_back_with_a_notice(app: AppTest) -> None:
    app.query_params["year"] = "1999-00'; DROP TABLE schools; --"
    app.run()
    assert not app.exception
    assert any("not in the data" in info.value for info in app.sidebar.info)
    assert app.metric[0].value


def test_bad_database_url_shows_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/nowhere")
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    # The database may come back: one line says it is unreachable, and the sign-in form stays up.
    assert at.error and "database is unreachable" in at.error[0].value


def test_state_and_level_filters_from_the_url(app: AppTest, raw) -> None:
    app.query_params["year"] = "2021-22"
    app.query_params["state"] = ["TX", "GA"]
    app.query_params["level"] = "high"
    app.run()
    assert not app.exception
    schools = raw["schools"]
    ids = schools[schools["state"].isin(["TX", "GA"]) & (schools["level"] == "high")]["school_id"]
    sy = raw["school_years"]
    sy = sy[(sy["school_year"] == "2021-22") & sy["school_id"].isin(ids)]
    metrics = {m.label: m.value for m in app.metric}
    shown, tolerance = _number(metrics["Students served"])
    assert abs(shown - sy["students_served"].sum()) <= tolerance
    assert metrics["Schools and sites"] == f"{len(sy):,}"
    assert metrics["States (incl. DC)"] == "2"


def test_unknown_state_is_ignored_and_empty_views_are_explained(app: AppTest) -> None:
    app.query_params["state"] = ["ZZ"]
    app.query_params["title_i"] = "maybe"
    app.run()
    assert not app.exception
    notices = " ".join(info.value for info in app.sidebar.info)
    assert "ZZ" in notices and "Title I" in notices
    # West Virginia's one affiliate closed after 2020-21 and its successor opened in 2022-23.
    app = signed_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=60))  # a copied link: a new session
    app.query_params["state"] = ["WV"]
    app.query_params["year"] = "2021-22"
    app.run()
    assert not app.exception
    assert [i.value for i in app.info] == [
        "No schools match these filters in 2021-22. Clear a filter in the sidebar to see more."
    ]
    assert not app.metric


def test_a_visitor_who_has_not_signed_in_sees_only_the_form(sqlite_engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("DASHBOARD_COOKIE_KEY", "a-test-cookie-key-that-is-long-enough-for-hs256")
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert not at.metric


def test_an_affiliate_leads_small_rates_are_suppressed_on_the_cards(app: AppTest, raw, sqlite_engine) -> None:
    o = raw["outcomes"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    year = sorted(o["school_year"].unique())[-1]
    grads = o[(o["school_year"] == year) & (o["metric"] == "graduated")].groupby("affiliate_id")["eligible"].sum()
    small = grads[(grads > 0) & (grads < 10)]
    assert not small.empty, "the test network should hold an affiliate with fewer than 10 graduation-eligible seniors"
    affiliate = str(small.index[0])
    lead = f"small_lead_{affiliate.lower().replace('-', '_')}"[:40]
    if users.get_user(sqlite_engine, lead) is None:
        users.add_user(sqlite_engine, lead, "Small lead", "small@example.org", "a long test password",
                       "affiliate_lead", [affiliate])  # fmt: skip
    app.session_state["username"] = lead
    app.run()
    assert not app.exception
    metrics = {m.label: m for m in app.metric}
    shown = metrics["Graduated (seniors)"]
    assert shown.value == "<10"
    assert "%" not in str(shown.proto.delta)  # no change shown that would give the hidden rate away
    served = raw["school_years"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    served = served[(served["affiliate_id"] == affiliate) & (served["school_year"] == year)]["students_served"].sum()
    assert _number(metrics["Students served"].value)[0] == pytest.approx(served, rel=0.05)


def test_affiliate_and_tier_filters_narrow_the_figures_and_live_in_the_url(app: AppTest, raw) -> None:
    schools = raw["schools"]
    affiliate = schools["affiliate_id"].value_counts().index[0]
    app.query_params["aff"] = affiliate
    app.query_params["tier"] = "3"
    app.run()
    assert not app.exception
    year = sorted(raw["school_years"]["school_year"].unique())[-1]
    mine = schools.loc[schools["affiliate_id"] == affiliate, "school_id"]
    sy = raw["school_years"]
    served = sy[(sy["school_year"] == year) & sy["school_id"].isin(mine)]["students_served"].sum()
    shown, tolerance = _number({m.label: m.value for m in app.metric}["Students served"])
    assert abs(shown - served) <= tolerance
    o = raw["outcomes"]
    o = o[(o["school_year"] == year) & o["school_id"].isin(mine) & (o["tier"] == 3) & (o["metric"] == "promoted")]
    promoted = {m.label: m.value for m in app.metric}["Promoted (K-11)"]
    if o["eligible"].sum() >= 40:
        assert promoted == f"{round(o['met'].sum() / o['eligible'].sum() * 100)}%"
    in_url = {k: v if isinstance(v, list) else [v] for k, v in app.query_params.items()}
    assert in_url["aff"] == [affiliate] and in_url["tier"] == ["3"]
    tiers = json.loads(app.get("plotly_chart")[1].proto.spec)["data"]
    assert [t["name"] for t in tiers] == ["Tier 3 (case-managed)"]


def test_an_affiliate_outside_the_users_reach_is_dropped_with_a_notice(app: AppTest, sqlite_engine) -> None:
    app.query_params["aff"] = "NOT-AN-AFFILIATE"
    app.run()
    assert not app.exception
    assert any("Ignored unknown affiliate" in i.value for i in app.sidebar.info)


def test_the_span_of_years_narrows_the_trend_and_a_malformed_one_is_dropped(app: AppTest, raw) -> None:
    years = sorted(raw["school_years"]["school_year"].unique())
    app.query_params["span"] = f"{years[2]}..{years[4]}"
    app.run()
    assert not app.exception
    tiers = json.loads(app.get("plotly_chart")[1].proto.spec)["data"]
    assert {x for t in tiers for x in t["x"]} == set(years[2:5])
    served = raw["school_years"].groupby("school_year")["tier1_students"].sum()
    tier1 = next(t for t in tiers if t["name"].startswith("Tier 1"))
    assert [int(v) for v in _plotly_values(tier1["y"])] == [int(served[y]) for y in years[2:5]]
    app.query_params["span"] = "2030-31..1999-00"
    app.run()
    assert not app.exception
    assert any("span of years" in i.value for i in app.sidebar.info)


def _plotly_values(y: object) -> list[float]:
    """Plotly JSON numbers, plain or base64 typed arrays."""
    if isinstance(y, dict) and "bdata" in y:
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    return list(y)


def test_one_small_school_in_view_leaves_no_small_count_in_charts_or_downloads(app: AppTest, raw) -> None:
    year = sorted(raw["school_years"]["school_year"].unique())[-1]
    sy = raw["school_years"].merge(raw["schools"], on="school_id")
    sy = sy[sy["school_year"] == year]
    small = sy[(sy["tier3_students"] > 0) & (sy["tier3_students"] < 10)].iloc[0]
    app.query_params.update({"state": small["state"], "level": small["level"], "locale": small["locale"],
                             "title_i": "yes" if small["title_i"] else "no"})  # fmt: skip
    app.run()
    assert not app.exception
    in_view = sy[(sy["state"] == small["state"]) & (sy["level"] == small["level"])
                 & (sy["locale"] == small["locale"]) & (sy["title_i"] == small["title_i"])]  # fmt: skip
    assert in_view["tier3_students"].sum() < 10  # the view's tier 3 total is itself a small count
    for frame in (df.value for df in app.dataframe):
        for column in ("case_managed", "students"):
            if column in frame.columns:
                shown = pd.to_numeric(frame[column], errors="coerce").dropna()
                assert not ((shown > 0) & (shown < 10)).any(), (column, frame.head())
    spec = json.loads(app.get("plotly_chart")[1].proto.spec)
    tier3 = next(t for t in spec["data"] if t["name"].startswith("Tier 3"))
    assert all(v is None or v >= 10 or v == 0 for v in _plotly_values(tier3["y"]) if v == v)


def test_student_counts_read_their_stored_status_on_cards_and_downloads(app: AppTest, raw) -> None:
    """An affiliate filtered to one level with fewer than 10 case-managed students: the card reads '<10' with no
    change, the downloads carry labels, and every number left is the raw one (a complement reads 'hidden')."""
    sy = raw["school_years"].merge(raw["schools"], on="school_id")
    year = sorted(sy["school_year"].unique())[-1]
    now = sy[sy["school_year"] == year]
    by_slice = now.groupby(["affiliate_id", "level"])["tier3_students"].sum()
    small = by_slice[by_slice.between(1, 9)]
    assert not small.empty, "the test network should hold an affiliate level with fewer than 10 case-managed"
    affiliate, level = small.index[0]
    app.query_params["aff"] = affiliate
    app.query_params["level"] = level
    app.run()
    assert not app.exception
    metrics = {m.label: m for m in app.metric}
    card = metrics["Case-managed students (tier 3)"]
    assert card.value == "<10" and not card.proto.delta
    mine = now[(now["affiliate_id"] == affiliate) & (now["level"] == level)]
    frames = [df.value for df in app.dataframe]
    by_year = next(f for f in frames if "volunteers" in f.columns and "state" not in f.columns)
    row = by_year[by_year["school_year"] == year].iloc[0]
    assert row["case_managed"] == "<10"
    for column, raw_column in (("students_served", "students_served"), ("tier1_students", "tier1_students"),
                               ("tier2_students", "tier2_students"), ("enrollment", "enrollment")):  # fmt: skip
        truth = int(mine[raw_column].sum())
        assert str(row[column]) in ({"<10"} if 0 < truth < 10 else {"hidden", str(truth)}), column
    # Every state with and without a complement: numbers are the raw ones, '<10' small, 'hidden' 10 or more.
    app.query_params.pop("aff")
    app.run()
    assert not app.exception
    by_state = next(df.value for df in app.dataframe if "state" in df.value.columns)
    truth = now[now["level"] == level].groupby("state")["tier3_students"].sum()
    shown = by_state.set_index("state")["case_managed"].astype(str)
    assert (shown[truth.loc[shown.index].between(1, 9)] == "<10").all()
    assert (truth.loc[shown.index[shown == "hidden"]] >= 10).all()
    exact = shown[~shown.isin(["<10", "hidden"])]
    assert (exact.astype(int) == truth.loc[exact.index]).all()


def test_a_lead_is_told_the_view_is_its_own_affiliate_with_its_own_figures(app: AppTest, raw, sqlite_engine) -> None:
    year = sorted(raw["school_years"]["school_year"].unique())[-1]
    sy = raw["school_years"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    sy = sy[sy["school_year"] == year]
    affiliate = sy.groupby("affiliate_id")["students_served"].sum().idxmax()
    lead = "overview_lead"
    if users.get_user(sqlite_engine, lead) is None:
        users.add_user(sqlite_engine, lead, "A lead", "lead@example.org", "a long test password", "affiliate_lead",
                       [affiliate])  # fmt: skip
    app.session_state["username"] = lead
    app.run()
    assert not app.exception
    name = raw["affiliates"].set_index("affiliate_id").loc[affiliate, "name"]
    assert any(f"Your view: {formatting.markdown_text(name)}, your affiliate" in c.value for c in app.caption)
    metrics = {m.label: m.value for m in app.metric}
    assert "States (incl. DC)" not in metrics and "Affiliates and licensed partners" not in metrics
    mine = sy[sy["affiliate_id"] == affiliate]
    shown, tolerance = _number(metrics["Students served"])
    assert abs(shown - mine["students_served"].sum()) <= tolerance
    assert metrics["Schools and sites"] == f"{len(mine):,}"


def test_affiliates_without_a_school_in_the_year_are_marked_and_listed_last(app: AppTest, raw) -> None:
    year = sorted(raw["school_years"]["school_year"].unique())[-1]
    app.query_params["year"] = year
    app.run()
    assert not app.exception
    picker = next(m for m in app.sidebar.multiselect if m.label == "Affiliate")
    sy = raw["school_years"].merge(raw["schools"][["school_id", "affiliate_id"]], on="school_id")
    reporting = set(sy.loc[sy["school_year"] == year, "affiliate_id"])
    listed = raw["affiliates"][raw["affiliates"]["kind"] != "state_office"]
    names = dict(zip(listed["affiliate_id"], listed["name"], strict=True))
    silent = set(names) - reporting
    assert silent, "the demo network has affiliates that closed before the latest year"
    marked = [o for o in picker.options if o.endswith(f" · no schools in {year}")]
    assert sorted(marked) == sorted(f"{names[a]} · no schools in {year}" for a in silent)
    assert picker.options[-len(marked) :] == marked  # those with schools come first
    assert len(picker.options) - len(marked) == len(reporting & set(names))
