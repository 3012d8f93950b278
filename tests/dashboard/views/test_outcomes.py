"""The Outcomes page's plain logic: drill levels, URL validation, breadcrumb, suppression and figures."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import privacy
from dashboard.data import queries
from dashboard.privacy import SUPPRESSED
from dashboard.views import outcomes as outcomes_view
from dashboard.views.outcomes import NATION, DrillPath

PLACES = pd.DataFrame(
    {
        "affiliate_id": ["NC-CHARLOTTE", "NC-DURHAM", "TX-HOUSTON"],
        "name": ["Communities In Schools of Charlotte", "Communities In Schools of Durham", "CIS Houston"],
        "state": ["NC", "NC", "TX"],
    }
)


def test_drill_levels_go_state_affiliate_school() -> None:
    assert NATION.level == "state"
    assert NATION.child("NC") == DrillPath("NC")
    assert DrillPath("NC").level == "affiliate"
    assert DrillPath("NC").child("NC-CHARLOTTE") == DrillPath("NC", "NC-CHARLOTTE")
    assert DrillPath("NC", "NC-CHARLOTTE").level == "school"
    assert DrillPath("NC", "NC-CHARLOTTE").child("370000000001") is None


def test_filters_and_query_params_follow_the_path() -> None:
    path = DrillPath("NC", "NC-CHARLOTTE")
    assert path.filters(("2023-24",)) == queries.Filters(
        school_years=("2023-24",), states=("NC",), affiliates=("NC-CHARLOTTE",)
    )
    assert NATION.filters() == queries.Filters()
    assert path.query_params() == {"state": "NC", "affiliate": "NC-CHARLOTTE"}
    assert NATION.query_params() == {}


@pytest.mark.parametrize(
    ("state", "affiliate", "expected", "notices"),
    [
        (None, None, NATION, 0),
        ("NC", None, DrillPath("NC"), 0),
        ("NC", "NC-DURHAM", DrillPath("NC", "NC-DURHAM"), 0),
        (None, "TX-HOUSTON", DrillPath("TX", "TX-HOUSTON"), 0),  # state filled in from the affiliate
        ("ZZ", None, NATION, 1),
        ("ZZ", "NC-DURHAM", NATION, 1),
        ("NC", "NOPE", DrillPath("NC"), 1),
        ("NC", "TX-HOUSTON", DrillPath("NC"), 1),  # affiliate of another state
        ("'; DROP TABLE schools; --", None, NATION, 1),
    ],
)
def test_validate_clears_unknown_values_with_a_notice(state, affiliate, expected, notices) -> None:
    path, messages = outcomes_view.validate(state, affiliate, PLACES)
    assert path == expected
    assert len(messages) == notices


def test_breadcrumb_labels_and_targets() -> None:
    names = outcomes_view.affiliate_names(PLACES)
    assert outcomes_view.breadcrumb(NATION, names) == [("Nation", NATION)]
    crumbs = outcomes_view.breadcrumb(DrillPath("NC", "NC-CHARLOTTE"), names)
    assert [label for label, _ in crumbs] == ["Nation", "North Carolina", "Communities In Schools of Charlotte"]
    assert [target for _, target in crumbs] == [NATION, DrillPath("NC"), DrillPath("NC", "NC-CHARLOTTE")]


def _rates(rows: list[tuple[str, int, str, int, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["affiliate_id", "tier", "metric", "eligible", "met"])
    frame.insert(1, "school_year", "2023-24")
    frame["rate"] = frame["met"] / frame["eligible"]
    return frame


def test_bars_are_suppressed_with_complements_and_never_zero() -> None:
    rates = _rates(
        [
            ("A", 3, "graduated", 5, 5),  # primary: fewer than 10
            ("B", 3, "graduated", 200, 150),
            ("C", 3, "graduated", 100, 60),  # smallest other cell: complementary suppression
            ("A", 2, "graduated", 300, 240),
            ("B", 2, "graduated", 400, 300),
            ("C", 2, "graduated", 500, 450),
            ("A", 3, "promoted", 100, 90),
        ]
    )
    bars = outcomes_view.suppressed_bars(rates, "affiliate", "graduated", {"A": "Alpha", "B": "Beta", "C": "Gamma"})
    assert set(bars["metric"]) == {"graduated"}
    tier3 = bars[bars["tier"] == 3].set_index("place_id")
    # A's is small; C's is hidden only to protect it, and says so rather than '<10' (it holds 100 students).
    assert tier3.loc["A", "rate_label"] == SUPPRESSED and tier3.loc["C", "rate_label"] == privacy.HIDDEN_LABEL
    assert tier3.loc[["A", "C"], "eligible"].isna().all() and tier3.loc[["A", "C"], "rate"].isna().all()
    assert tier3.loc["B", "rate"] == pytest.approx(0.75)
    assert tier3.loc["B", "n_label"] == "n = 200 eligible"
    assert not bars.loc[bars["tier"] == 2, "suppressed"].any()
    assert bars["place"].tolist()[:2] == ["Alpha", "Alpha"]

    fig = outcomes_view.bar_figure(bars, "graduated", "affiliate")
    t3 = next(t for t in fig.data if t.name.startswith("Tier 3"))
    y = dict(zip(t3.x, t3.y, strict=True))
    assert y["Alpha"] is None and y["Gamma"] is None  # no bar, rather than a bar at 0
    assert y["Beta"] == pytest.approx(0.75)
    assert [c[0] for c in t3.customdata] == ["A", "B", "C"]
    # Alpha is small and reads "<10"; Gamma protects it and reads "hidden".
    assert sorted(a.text for a in fig.layout.annotations) == [SUPPRESSED, privacy.HIDDEN_LABEL]
    assert len(fig.layout.annotations) == 2
    assert all("n " in c[2] for c in t3.customdata)

    exported = outcomes_view.export_frame(bars)
    assert exported.loc[exported["suppressed"], "eligible"].isna().all()
    assert exported.loc[exported["suppressed"], "met"].isna().all()
    assert outcomes_view.suppressed_places(bars) == ["Tier 3 at Alpha", "Tier 3 at Gamma"]


def test_top_coded_small_cells_show_the_coded_rate() -> None:
    rates = _rates([("A", 3, "graduated", 20, 20), ("B", 3, "graduated", 300, 150)])
    bars = outcomes_view.suppressed_bars(rates, "affiliate", "graduated", {})
    row = bars.set_index("place_id").loc["A"]
    assert row["rate_label"] == ">=90%" and row["rate"] == pytest.approx(0.90) and pd.isna(row["met"])


def test_one_mark_where_both_tiers_of_a_place_are_hidden() -> None:
    # two small cells per tier, so no complement is needed: A and C hidden in both tiers, B shown
    small = [(p, t, "graduated", 5, 2) for p in ("A", "C") for t in (2, 3)]
    rates = _rates([*small, ("B", 2, "graduated", 300, 150), ("B", 3, "graduated", 300, 100)])
    bars = outcomes_view.suppressed_bars(rates, "affiliate", "graduated", {})
    fig = outcomes_view.bar_figure(bars, "graduated", "affiliate")
    assert [(a.x, a.text) for a in fig.layout.annotations] == [(0, SUPPRESSED), (2, SUPPRESSED)]
    assert all(y is None for t in fig.data for x, y in zip(t.x, t.y, strict=True) if x == "A")


def test_school_labels_stay_unique_when_names_repeat() -> None:
    labels = outcomes_view.place_labels(["1", "2", "3"], "school", {"1": "Park", "2": "Park", "3": "Oak"})
    assert labels == {"1": "Park (1)", "2": "Park (2)", "3": "Oak"}
    assert outcomes_view.place_labels(["NC"], "state", {}) == {"NC": "NC"}
    assert outcomes_view.place_labels(["X"], "affiliate", {"X": "Communities In Schools of Durham"}) == {"X": "Durham"}


def test_trend_hides_a_small_tier_and_its_complement() -> None:
    rows = []
    for year, (e2, e3) in {"2022-23": (300, 200), "2023-24": (300, 6)}.items():
        rows += [(year, 2, "graduated", e2, e2 // 2), (year, 3, "graduated", e3, e3 // 2)]
    rates = pd.DataFrame(rows, columns=["school_year", "tier", "metric", "eligible", "met"])
    trend = outcomes_view.suppressed_trend(rates, "graduated")
    hidden = trend.loc[trend["suppressed"], ["school_year", "tier"]].values.tolist()
    assert hidden == [["2023-24", 2], ["2023-24", 3]]
    fig = outcomes_view.trend_figure(trend, "graduated")
    assert [t.y for t in fig.data] == [(0.5, None), (0.5, None)]


def test_the_spread_names_the_lowest_and_highest_shown_rate_per_tier() -> None:
    bars = pd.DataFrame({
        "place": ["A", "B", "C", "A", "B", "C"],
        "tier": [2, 2, 2, 3, 3, 3],
        "rate": [0.91, 0.97, None, 0.80, 0.95, 0.99],
        "rate_label": ["91%", "97%", "<10", "80%", "95%", ">=95%"],
        "suppressed": [False, False, True, False, False, False],
    })  # fmt: skip
    text = outcomes_view.spread(bars)
    assert "tier 2 from 91% (A) to 97% (B)" in text
    assert "tier 3 from 80% (A) to 95% (B)" in text  # C's coded >=95% is not a number to quote
