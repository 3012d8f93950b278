"""The Schools page's query layer and logic: scope, peer benchmarks and percentiles against pandas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard import privacy
from dashboard.data import queries
from dashboard.views import schools as schools_view
from tests import published

METRIC = "promoted"


@pytest.fixture(scope="module")
def lead(raw) -> tuple[str, queries.Scope]:
    """The affiliate with the most schools, as an affiliate lead's scope."""
    affiliate = raw["schools"]["affiliate_id"].value_counts().index[0]
    return affiliate, queries.Scope(frozenset({affiliate}))


@pytest.fixture(scope="module")
def latest(raw) -> str:
    return raw["school_years"]["school_year"].max()


def _per_school(raw, metric: str, year: str) -> pd.DataFrame:
    """Per school in `year`: peer keys, state, eligible and met over both tiers, recomputed with pandas."""
    o = raw["outcomes"]
    o = o[(o["metric"] == metric) & (o["school_year"] == year)]
    sums = o.groupby("school_id", as_index=False)[["eligible", "met"]].sum()
    return sums.merge(raw["schools"][["school_id", "affiliate_id", "state", "level", "locale", "title_i"]])


def test_directory_and_rates_hold_only_the_leads_schools(engine, raw, lead) -> None:
    affiliate, scope = lead
    own = set(raw["schools"].loc[raw["schools"]["affiliate_id"] == affiliate, "school_id"])
    directory = schools_view.school_directory(engine, scope)
    assert set(directory["school_id"]) == own
    assert directory["label"].str.fullmatch(r".+ \(.+, [A-Z]{2}\)").all()
    rates = schools_view.school_rates(engine, METRIC, scope)
    assert set(rates["school_id"]) <= own and len(rates) > 0
    o = raw["outcomes"][(raw["outcomes"]["metric"] == METRIC) & raw["outcomes"]["school_id"].isin(own)]
    expected = o.groupby(["school_id", "school_year"])[["eligible", "met"]].sum()
    got = rates.set_index(["school_id", "school_year"])[["eligible", "met"]]
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index(), check_dtype=False)


def test_an_out_of_scope_school_returns_nothing(engine, raw, lead, latest) -> None:
    affiliate, scope = lead
    others = raw["schools"].loc[raw["schools"]["affiliate_id"] != affiliate, "school_id"].tolist()[:3]
    assert schools_view.school_rates(engine, METRIC, scope, school_ids=tuple(others)).empty
    assert schools_view.benchmarks(engine, METRIC, latest, tuple(others), scope).empty
    served = schools_view.students_served(engine, latest, scope)
    assert not set(served["school_id"]) & set(others)
    # the same ids without the scope do have data, so the empty answers above come from the scope
    assert not schools_view.school_rates(engine, METRIC, queries.EVERYTHING, school_ids=tuple(others)).empty


def _expected_label(met: int, eligible: int, status: str) -> str:
    """What a benchmark cell of this decision must print: the exact percent only when shown, a range (never the
    exact percent) when coded, '<10' when small and 'hidden' when hidden to protect another cell."""
    exact = privacy.shown_rate(int(met), int(eligible), top_code_below=0)
    if status == "shown":
        return exact
    if status == "coded":
        label = privacy.shown_rate(int(met), int(eligible))
        assert label[:2] in (">=", "<=") and label != exact
        return label
    return {"small": privacy.SUPPRESSED, "hidden": privacy.HIDDEN_LABEL}[status]


def test_peer_state_and_national_aggregates_match_pandas_where_published(engine, raw, latest) -> None:
    frame = schools_view.benchmark_rates(engine, METRIC, (latest,))
    assert not {"school_id", "name"} & set(frame.columns)  # aggregates only, never a school
    statuses = published.benchmark_statuses(engine, METRIC, latest)
    per_school = _per_school(raw, METRIC, latest)
    per_school = per_school[per_school["eligible"] > 0]
    peer = per_school.groupby(schools_view.PEER_KEYS).agg(schools=("school_id", "nunique"), eligible=("eligible", "sum"),
                                                    met=("met", "sum"))  # fmt: skip
    got = frame[frame["benchmark"] == "peer"].set_index(schools_view.PEER_KEYS)
    assert len(got) == len(peer)
    seen = set()
    for key, row in peer.iterrows():
        status = statuses[published.peer(*key)]
        seen.add(status)
        assert got.loc[key, "schools"] == row["schools"]
        assert got.loc[key, "status"] == status
        assert got.loc[key, "rate_label"] == _expected_label(row["met"], row["eligible"], status)
        if status == "shown":
            assert got.loc[key, "rate"] == pytest.approx(row["met"] / row["eligible"])
        else:
            assert math.isnan(got.loc[key, "rate"]), f"withheld peer cell {key} ({status}) given a rate"
    assert "shown" in seen and len(seen) > 1  # both kinds are checked on the demo network
    state = per_school.groupby("state")[["eligible", "met"]].sum()
    got_state = frame[frame["benchmark"] == "state"].set_index("state")
    for code, row in state.iterrows():
        status = statuses[("state", code)]
        assert got_state.loc[code, "rate_label"] == _expected_label(row["met"], row["eligible"], status)
        if status == "shown":
            assert got_state.loc[code, "rate"] == pytest.approx(row["met"] / row["eligible"])
        else:
            assert math.isnan(got_state.loc[code, "rate"])
    nation = frame[frame["benchmark"] == "nation"]
    assert nation["status"].item() == statuses[("nation", "")] == "shown"
    assert nation["rate"].item() == pytest.approx(per_school["met"].sum() / per_school["eligible"].sum())


def test_each_school_against_its_peers_recomputed_with_pandas(engine, raw, lead, latest) -> None:
    affiliate, scope = lead
    statuses = published.benchmark_statuses(engine, METRIC, latest)
    per_school = _per_school(raw, METRIC, latest)
    # Which schools' own rates are published exactly: the stored decision of each school cell.
    shown = dict(engine.connect().execute(sa.text(
        "SELECT unit_id, status FROM published_cells WHERE measure = :m AND school_year = :y AND unit = 'school' "
        "AND slice = '' AND tier = 0"), {"m": METRIC, "y": latest}).all())  # fmt: skip
    per_school["status"] = per_school["school_id"].map(shown)
    own = per_school[per_school["affiliate_id"] == affiliate]
    chosen = tuple(own.sort_values("eligible", ascending=False)["school_id"].head(6))
    bench = schools_view.benchmarks(engine, METRIC, latest, chosen, scope).set_index("school_id")
    assert set(bench.index) == set(chosen)
    ranked_any = 0
    for school_id, row in bench.iterrows():
        me = per_school[per_school["school_id"] == school_id].iloc[0]
        group = per_school[(per_school["level"] == me["level"]) & (per_school["locale"] == me["locale"])
                           & (per_school["title_i"] == me["title_i"])]  # fmt: skip
        others = group[(group["affiliate_id"] != affiliate) & (group["eligible"] > 0)]
        if len(others) < schools_view.MIN_OTHER_SCHOOLS:
            assert math.isnan(row["peer_rate"]) and row["peer_label"] == schools_view.TOO_FEW
            continue
        status = statuses[published.peer(me["level"], me["locale"], me["title_i"])]
        assert row["peer_label"] == _expected_label(group["met"].sum(), group["eligible"].sum(), status)
        if status == "shown":
            assert row["peer_rate"] == pytest.approx(group["met"].sum() / group["eligible"].sum())
        else:
            assert math.isnan(row["peer_rate"])
        assert row["peer_schools"] == (group["eligible"] > 0).sum()
        state = per_school[per_school["state"] == me["state"]]
        if statuses[("state", me["state"])] == "shown":
            assert row["state_rate"] == pytest.approx(state["met"].sum() / state["eligible"].sum())
        if math.isnan(row["percentile"]):
            continue
        ranked = group[group["status"] == "shown"]
        rates = ranked["met"] / ranked["eligible"]
        mine = me["met"] / me["eligible"]
        expected = 100 * ((rates < mine - 1e-12).sum() + 0.5 * (abs(rates - mine) <= 1e-12).sum()) / len(rates)
        assert row["percentile"] == pytest.approx(expected)
        assert row["ranked"] == len(rates)
        assert (
            row["percentile_text"]
            == f"{schools_view.ordinal(round(expected))} percentile of {len(rates)} {schools_view.RANKED_PEERS}"
        )
        ranked_any += 1
    assert ranked_any >= 2


def test_benchmarks_name_no_school_outside_scope(engine, raw, lead, latest) -> None:
    affiliate, scope = lead
    own = raw["schools"].loc[raw["schools"]["affiliate_id"] == affiliate, "school_id"].tolist()
    other = raw["schools"].loc[raw["schools"]["affiliate_id"] != affiliate, "school_id"].iloc[0]
    bench = schools_view.benchmarks(engine, METRIC, latest, (own[0], other), scope)
    assert bench["school_id"].tolist() == [own[0]]
    names = set(raw["schools"].loc[raw["schools"]["affiliate_id"] != affiliate, "name"])
    assert not {s.split(" (")[0] for s in bench["school"]} & (names - set(raw["schools"].loc[
        raw["schools"]["school_id"].isin(own), "name"]))  # fmt: skip


@pytest.mark.parametrize(
    ("wanted", "kept", "notices"),
    [
        (["a", "b"], ["a", "b"], 0),
        (["a", "a", "b"], ["a", "b"], 0),
        (["a", "zz", "<script>"], ["a"], 1),
        ([str(i) for i in range(12)], [str(i) for i in range(10)], 1),
        ([], [], 0),
    ],
)
def test_validate_schools_drops_unknown_and_trims_to_ten(wanted, kept, notices) -> None:
    known = ["a", "b", *[str(i) for i in range(12)]]
    got, messages = schools_view.validate_schools(wanted, known)
    assert got == kept
    assert len(messages) == notices


def test_validate_metric_falls_back_with_a_notice() -> None:
    assert schools_view.validate_metric("graduated") == ("graduated", None)
    assert schools_view.validate_metric(None) == ("remained_in_school", None)
    metric, notice = schools_view.validate_metric("DROP TABLE")
    assert metric == "remained_in_school" and notice


@pytest.mark.parametrize(
    ("change", "label"), [(0.05, "▲ up"), (-0.02, "▼ down"), (0.004, "▬ steady"), (None, "– no comparison")]
)
def test_trend_has_a_symbol_and_a_word(change, label) -> None:
    assert schools_view.trend(change if change is not None else float("nan")) == label


def test_percentile_rank_counts_ties_half_and_ordinals() -> None:
    group = pd.DataFrame({"eligible": [10, 20, 10, 40], "met": [5, 10, 9, 10]})  # 50%, 50%, 90%, 25%
    assert schools_view.percentile_rank(5, 10, group) == pytest.approx(100 * (1 + 0.5 * 2) / 4)
    assert schools_view.percentile_rank(9, 10, group) == pytest.approx(100 * (3 + 0.5) / 4)
    assert [schools_view.ordinal(n) for n in (1, 2, 3, 11, 12, 13, 21, 72, 100)] == [
        "1st", "2nd", "3rd", "11th", "12th", "13th", "21st", "72nd", "100th"]  # fmt: skip


def _table(served_status: tuple[str, ...] = ("shown",) * 4) -> pd.DataFrame:
    directory = pd.DataFrame({"school_id": ["A", "B", "C", "D"], "name": ["Ash", "Birch", "Cedar", "Dogwood"],
                              "city": ["X"] * 4, "state": ["NC"] * 4})  # fmt: skip
    served = pd.DataFrame({"school_id": ["A", "B", "C", "D"], "students_served": [300, 250, 120, 90],
                           "students_served_status": list(served_status)})  # fmt: skip
    rates = pd.DataFrame({
        "school_id": ["A", "B", "C", "D", "A", "B", "C", "D"],
        "school_year": ["2023-24"] * 4 + ["2024-25"] * 4,
        "eligible": [200, 150, 100, 90, 210, 160, 6, 80],
        "met": [150, 120, 60, 80, 180, 110, 3, 72],
    })  # fmt: skip
    return schools_view.school_table(
        directory, served, schools_view.suppressed_school_rates(rates), "2024-25", "2023-24"
    )


def test_school_table_hides_small_cells_everywhere_including_the_csv() -> None:
    table = _table().set_index("school_id")
    # C has 6 eligible (primary); the smallest other cell that year, D, is hidden as its complement.
    assert table.loc[["C", "D"], "suppressed"].all()
    assert table.loc[["C", "D"], "rate"].isna().all() and table.loc[["C", "D"], "eligible"].isna().all()
    assert table.loc["A", "rate"] == pytest.approx(180 / 210)
    assert table.loc["A", "change"] == pytest.approx(180 / 210 - 150 / 200)
    assert table.loc["A", "trend"] == "▲ up" and table.loc["B", "trend"] == "▼ down"
    assert table.loc["C", "trend"] == "– no comparison"
    csv = schools_view.export_table(_table()).set_index("School ID")
    assert (csv.loc["C", ["Eligible students", "Rate"]] == privacy.SUPPRESSED).all()
    assert (csv.loc["D", ["Eligible students", "Rate"]] == privacy.HIDDEN_LABEL).all()  # not fewer than 10
    assert csv.loc["A", "Rate"] == "86%"
    html = schools_view.styled_table(_table()).to_html()
    assert html.count("><10</td>") == 2 and html.count(">hidden</td>") == 2  # C, then D: eligible and rate


def test_students_served_reads_its_stored_status() -> None:
    """The stored decision, not the size: B is small, C hidden to protect it, D (90) shown."""
    table = _table(("shown", "small", "hidden", "shown")).set_index("school_id")
    assert table.loc[["B", "C"], "students_served"].isna().all() and table.loc[["B", "C"], "served_hidden"].all()
    assert table.loc["D", "students_served"] == 90 and not table.loc["D", "served_hidden"]
    csv = schools_view.export_table(_table(("shown", "small", "hidden", "shown"))).set_index("School ID")
    assert csv["Students served"].to_dict() == {"A": "300", "B": privacy.SUPPRESSED, "C": privacy.HIDDEN_LABEL,
                                                "D": "90"}  # fmt: skip
    shown = schools_view.styled_table(_table(("shown", "small", "hidden", "shown"))).data.set_index("School")
    assert shown.loc["Birch", "Students served"] == schools_view.HIDDEN_VALUE  # drawn as '<10'
    assert shown.loc["Cedar", "Students served"] == schools_view.COMPLEMENT_VALUE  # drawn as 'hidden'


def test_figures_carry_labels_not_hidden_numbers() -> None:
    rates = schools_view.suppressed_school_rates(pd.DataFrame({
        "school_id": ["A", "B", "A", "B"], "school_year": ["2023-24", "2023-24", "2024-25", "2024-25"],
        "eligible": [100, 5, 120, 200], "met": [80, 4, 90, 150]}))  # fmt: skip
    directory = pd.DataFrame({"school_id": ["A", "B"], "label": ["Ash (X, NC)", "Birch (X, NC)"]})
    lines = schools_view.trend_lines(rates, directory, ["B", "A"])
    assert lines["school"].iloc[0] == "Birch (X, NC)"
    national = pd.DataFrame({"school_year": ["2023-24", "2024-25"], "rate": [math.nan, 0.81],
                             "rate_label": [privacy.HIDDEN_LABEL, "81%"]})  # fmt: skip
    fig = schools_view.line_figure(lines, national, "promoted", ["2023-24", "2024-25"])
    traces = {t.name: t for t in fig.data}
    assert list(traces["Birch (X, NC)"].y) == [None, 0.75]  # 2023-24 hidden: a gap, not a number
    assert traces["Birch (X, NC)"].customdata[0][1] == "<10"
    nation = traces["Nation (all schools)"]
    assert list(nation.y) == [None, 0.81] and list(nation.customdata) == ["hidden", "81%"]


def test_every_column_of_numbers_is_sent_as_numbers_whatever_the_size() -> None:
    shown = schools_view.styled_table(_table()).data
    numbers = ["Students served", "Eligible students", "Rate", "Change (pts)", "Peer rate", "Gap to peers (pts)",
               "Percentile"]  # fmt: skip
    assert all(pd.api.types.is_float_dtype(shown[c]) for c in numbers)
    csv = schools_view.export_table(_table())
    assert pd.api.types.is_float_dtype(csv["Change (pts)"])  # 3.9, not the text '+3.9


def test_peer_standing_of_every_school_agrees_with_the_benchmarks_of_a_chosen_few(engine) -> None:
    year = schools_view.network_rates(engine, METRIC)["school_year"].max()
    network = schools_view.network_rates(engine, METRIC, (year,))
    aggregates = schools_view.benchmark_rates(engine, METRIC, network=network)
    for scope in (queries.EVERYTHING, queries.Scope(frozenset({network.merge(schools_view.school_directory(
            engine))["affiliate_id"].value_counts().index[0]}))):  # fmt: skip
        directory = schools_view.school_directory(engine, scope)
        rates = schools_view.suppressed_school_rates(schools_view.school_rates(engine, METRIC, scope, years=(year,)))
        standing = schools_view.peer_standing(directory, rates, network, aggregates, year, scope.affiliates is not None)
        standing = standing.set_index("school_id")
        chosen = tuple(standing.index[:40])
        bench = schools_view.benchmarks(engine, METRIC, year, chosen, scope, rates=rates, network=network,
                                        directory=directory, aggregates=aggregates).set_index("school_id")  # fmt: skip
        assert standing.loc[list(chosen), "peer_rate"].equals(bench["peer_rate"].loc[list(chosen)])
        np.testing.assert_allclose(standing.loc[list(chosen), "percentile"], bench["percentile"].loc[list(chosen)])
        assert standing.loc[list(chosen), "percentile"].notna().sum() >= 5  # some are ranked, not all left out


def test_an_admins_school_rates_taken_from_the_network_rows_equal_the_query(engine) -> None:
    network = schools_view.network_rates(engine, METRIC)
    pd.testing.assert_frame_equal(
        schools_view.school_rates(engine, METRIC, network=network), schools_view.school_rates(engine, METRIC)
    )
    assert schools_view.school_rates(engine, METRIC, queries.Scope(frozenset({"x"})), network=network).empty, (
        "a lead's rates never come from the whole network"
    )
