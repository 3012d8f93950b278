"""Small-cell suppression: concrete cases plus properties over random frames."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import privacy
from dashboard.privacy import SUPPRESSED, suppress_counts, suppress_rates


def rates_frame(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    """A frame with a 'group' key and eligible/met counts."""
    return pd.DataFrame(rows, columns=["group", "eligible", "met"])


def hidden_keys(out: pd.DataFrame, cols: list[str]) -> set[tuple[str, ...]]:
    """Key tuples of the suppressed rows."""
    return {tuple(row) for row in out.loc[out["suppressed"], cols].itertuples(index=False)}


def test_primary_suppression_hides_small_and_empty_cells() -> None:
    frame = rates_frame([("a", 9, 4), ("a", 10, 5), ("b", 0, 0), ("b", 200, 100), ("b", 300, 150)])
    out = suppress_rates(frame, groups=[])
    assert out["suppressed"].tolist() == [True, False, True, False, False]
    assert out["eligible"].isna().tolist() == [True, False, True, False, False]
    assert out["met"].isna().tolist() == [True, False, True, False, False]
    assert out["rate"].isna().tolist() == [True, False, True, False, False]
    assert out.loc[[0, 2], "rate_label"].tolist() == [SUPPRESSED, SUPPRESSED]


def test_output_types_and_labels() -> None:
    frame = rates_frame([("a", 50, 25), ("a", 60, 20), ("a", 300, 3)])
    out = suppress_rates(frame, groups=[["group"]])
    assert str(out["eligible"].dtype) == "Int64"
    assert str(out["met"].dtype) == "Int64"
    assert out["rate"].dtype == float
    assert out["suppressed"].dtype == bool
    assert out["rate_label"].tolist() == ["50%", "33%", "1%"]  # 300 students is not coded
    assert out["rate"].tolist() == pytest.approx([0.5, 20 / 60, 0.01])
    assert out["eligible"].tolist() == [50, 60, 300]
    assert out["met"].tolist() == [25, 20, 3]


def test_label_follows_custom_threshold() -> None:
    frame = rates_frame([("a", 4, 2), ("a", 3, 1), ("a", 5, 5)])
    out = suppress_rates(frame, groups=[], threshold=5, top_code_below=5)
    assert out["rate_label"].tolist() == ["<5", "<5", "100%"]
    assert SUPPRESSED == "<10"


def test_top_and_bottom_coding_ranges_widen_as_groups_shrink() -> None:
    rows = [("a", 20, 19), ("a", 20, 1), ("a", 20, 17), ("a", 40, 40), ("a", 39, 0), ("a", 10, 10), ("a", 15, 15),
            ("a", 300, 300), ("a", 250, 245)]  # fmt: skip
    out = suppress_rates(rates_frame(rows), groups=[])
    assert out["rate_label"].tolist() == [">=90%", "<=10%", "85%", ">=95%", "<=10%", ">=80%", ">=80%", "100%", ">=98%"]
    assert out["rate"].tolist() == pytest.approx([0.9, 0.1, 0.85, 0.95, 0.1, 0.8, 0.8, 1.0, 0.98])
    assert not out["suppressed"].any()
    # Coded cells keep their size but not the count that would reveal the exact rate.
    assert out["eligible"].tolist() == [20, 20, 20, 40, 39, 10, 15, 300, 250]
    assert out["met"].isna().tolist() == [True, True, False, True, True, True, True, False, True]


def test_a_coded_label_beside_its_count_never_names_the_value() -> None:
    """Channel 5 of the disclosure audit: '>=95%' beside 10-19 students could only mean all of them."""
    for n in range(10, 401):
        for met in range(n + 1):
            label = privacy.shown_rate(met, n)
            counts = counts_behind(label, n)
            if counts is None:
                # An exact label is the rate itself: whole percents, or tenths where whole ones would read all or none.
                shown = float(label.removesuffix("%"))
                assert abs(shown - met / n * 100) <= (0.05 if "." in label else 0.5) + 1e-9, (n, met, label)
                assert label not in ("0%", "100%") or met in (0, n), (n, met, label)
                assert n >= 300 or 1 <= met <= n - 1, (n, met, label)
                continue
            assert met in counts and len(counts) >= 3, (n, met, label, counts)


def test_complementary_in_one_group_hides_smallest_other_cell() -> None:
    frame = rates_frame([("a", 5, 1), ("a", 30, 10), ("a", 12, 6), ("a", 50, 20), ("b", 20, 10), ("b", 30, 5)])
    out = suppress_rates(frame, groups=[["group"]])
    assert out["suppressed"].tolist() == [True, False, True, False, False, False]


def test_no_complement_when_two_cells_already_hidden() -> None:
    frame = rates_frame([("a", 5, 1), ("a", 6, 1), ("a", 12, 6), ("a", 50, 20)])
    out = suppress_rates(frame, groups=[["group"]])
    assert out["suppressed"].tolist() == [True, True, False, False]


def test_single_cell_group_is_left_alone() -> None:
    out = suppress_rates(rates_frame([("a", 5, 1), ("b", 30, 10)]), groups=[["group"]])
    assert out["suppressed"].tolist() == [True, False]


def test_empty_grouping_means_whole_frame() -> None:
    frame = rates_frame([("a", 5, 1), ("b", 30, 10), ("c", 20, 10)])
    assert suppress_rates(frame, groups=[["group"]])["suppressed"].tolist() == [True, False, False]
    assert suppress_rates(frame, groups=[[]])["suppressed"].tolist() == [True, False, True]


def test_complementary_across_crossing_groupings() -> None:
    sizes = {
        ("A", "X"): 5, ("A", "Y"): 20, ("A", "Z"): 50,
        ("B", "X"): 15, ("B", "Y"): 30, ("B", "Z"): 60,
        ("C", "X"): 25, ("C", "Y"): 35, ("C", "Z"): 70,
    }  # fmt: skip
    frame = pd.DataFrame(
        [(school, sub, n, n // 2) for (school, sub), n in sizes.items()],
        columns=["school", "subgroup", "eligible", "met"],
    )
    out = suppress_rates(frame, groups=[["school"], ["subgroup"]])
    # A,X is small -> A,Y hides it within school A; then X and Y columns each have one hidden cell -> B,X and B,Y.
    assert hidden_keys(out, ["school", "subgroup"]) == {("A", "X"), ("A", "Y"), ("B", "X"), ("B", "Y")}
    for cols in (["school"], ["subgroup"]):
        counts = out.groupby(cols)["suppressed"].sum()
        assert set(counts) <= {0, 2, 3}


def test_multi_column_grouping() -> None:
    frame = pd.DataFrame(
        {"year": [1, 1, 1, 2, 2], "tier": [1, 1, 2, 1, 1], "eligible": [3, 20, 40, 50, 60], "met": [1, 10, 20, 25, 30]}
    )
    out = suppress_rates(frame, groups=[["year", "tier"]])
    assert out["suppressed"].tolist() == [True, True, False, False, False]


def test_input_is_not_modified_and_index_and_extra_columns_kept() -> None:
    frame = rates_frame([("a", 5, 1), ("a", 30, 10), ("a", 40, 10)])
    frame.index = [10, 20, 20]
    frame["note"] = ["x", "y", "z"]
    before = frame.copy()
    out = suppress_rates(frame, groups=[["group"]])
    pd.testing.assert_frame_equal(frame, before)
    assert out.index.tolist() == [10, 20, 20]
    assert out["note"].tolist() == ["x", "y", "z"]
    assert out["suppressed"].tolist() == [True, True, False]


def test_custom_column_names() -> None:
    frame = pd.DataFrame({"k": ["a", "a", "a"], "n": [5, 30, 40], "k_met": [1, 10, 10]})
    out = suppress_rates(frame, groups=[["k"]], n_col="n", met_col="k_met")
    assert out["n"].isna().tolist() == [True, True, False]
    assert out["k_met"].isna().tolist() == [True, True, False]


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError):
        suppress_rates(rates_frame([("a", 10, 11)]), groups=[])
    with pytest.raises(ValueError):
        suppress_rates(rates_frame([("a", -1, 0)]), groups=[])
    with pytest.raises(KeyError):
        suppress_rates(rates_frame([("a", 10, 1)]), groups=[["school"]])
    with pytest.raises(ValueError):
        suppress_counts(rates_frame([("a", 10, 1)]), value_cols=[], groups=[])


def test_empty_frame() -> None:
    out = suppress_rates(rates_frame([]), groups=[["group"]])
    assert len(out) == 0
    assert {"rate", "rate_label", "suppressed"} <= set(out.columns)


def test_counts_primary_ignores_true_zeros() -> None:
    frame = pd.DataFrame({"group": ["a"] * 4, "girls": [0, 3, 12, 40], "boys": [0, 20, 9, 30]})
    out = suppress_counts(frame, ["girls", "boys"], groups=[])
    # Row 0 is all zeros (not small); rows 1 and 2 each hold one small count.
    assert out["suppressed"].tolist() == [False, True, True, False]
    assert out["girls"].isna().tolist() == [False, True, True, False]
    assert out["boys"].isna().tolist() == [False, True, True, False]
    assert str(out["girls"].dtype) == "Int64"
    assert out.loc[3, "girls"] == 40


def test_counts_complement_uses_first_value_column() -> None:
    frame = pd.DataFrame({"group": ["a"] * 4, "students": [5, 30, 12, 50], "staff": [20, 1, 20, 20]})
    out = suppress_counts(frame, ["students"], groups=[["group"]])
    assert out["suppressed"].tolist() == [True, False, True, False]
    assert out["staff"].tolist() == [20, 1, 20, 20]  # not a value column: untouched
    out = suppress_counts(frame, ["staff", "students"], groups=[["group"]])
    # Rows 0 and 1 are primary (5 students, 1 staff): two hidden, so no complement is needed.
    assert out["suppressed"].tolist() == [True, True, False, False]


@st.composite
def random_rates(draw: st.DrawFn) -> pd.DataFrame:
    """2-8 rows keyed by 'group' and 'sub', eligible 0..60, met <= eligible."""
    n = draw(st.integers(min_value=2, max_value=8))
    rows = []
    for _ in range(n):
        eligible = draw(st.integers(min_value=0, max_value=60))
        met = draw(st.integers(min_value=0, max_value=eligible))
        rows.append((draw(st.sampled_from("abc")), draw(st.sampled_from("xy")), eligible, met))
    return pd.DataFrame(rows, columns=["group", "sub", "eligible", "met"])


def expected_single_grouping(frame: pd.DataFrame, threshold: int) -> list[bool]:
    """Reference for one grouping: primary cells, plus the smallest shown cell of groups with one hidden cell."""
    hidden = [int(n) < threshold for n in frame["eligible"]]
    by_group: dict[str, list[int]] = {}
    for pos, key in enumerate(frame["group"]):
        by_group.setdefault(key, []).append(pos)
    for positions in by_group.values():
        if len(positions) > 1 and sum(hidden[p] for p in positions) == 1:
            shown = [p for p in positions if not hidden[p]]
            hidden[min(shown, key=lambda p: (int(frame["eligible"].iloc[p]), p))] = True
    return hidden


def counts_behind(label: str, n: int) -> list[int] | None:
    """Every count of n students a coded label ('>=95%', '<=20%') can stand for, read as a reader would; None when
    the label is an exact rate or a suppression."""
    if not label.startswith((">=", "<=")):
        return None
    share = int(label[2:-1]) / 100
    if label.startswith(">="):
        return [m for m in range(n + 1) if m / n >= share - 1e-9]
    return [m for m in range(n + 1) if m / n <= share + 1e-9]


def assert_no_lone_hidden_cell(out: pd.DataFrame, cols: list[str]) -> None:
    """No group of two or more cells hides exactly one, which the group total would give away."""
    parts = [out] if not cols else [part for _, part in out.groupby(cols)]
    for part in parts:
        assert len(part) == 1 or part["suppressed"].sum() != 1, part


@settings(max_examples=300, deadline=None)
@given(frame=random_rates(), threshold=st.integers(min_value=1, max_value=20))
def test_rates_properties(frame: pd.DataFrame, threshold: int) -> None:
    groupings = [["group"], ["sub"]]
    before = frame.copy()
    out = suppress_rates(frame, groups=groupings, threshold=threshold)
    pd.testing.assert_frame_equal(frame, before)
    label = f"<{threshold}"

    for i in range(len(frame)):
        eligible, met = int(frame["eligible"].iloc[i]), int(frame["met"].iloc[i])
        row = out.iloc[i]
        if eligible < threshold:
            assert row["suppressed"]
        if row["suppressed"]:
            assert pd.isna(row["eligible"]) and pd.isna(row["met"]) and math.isnan(row["rate"])
            assert row["rate_label"] == (label if eligible < threshold else privacy.HIDDEN_LABEL)
            continue
        # Shown values are the input, or a coded bound on the correct side of the true rate.
        assert eligible >= threshold and eligible > 0
        assert row["eligible"] == eligible
        true_rate = met / eligible
        counts = counts_behind(row["rate_label"], eligible)
        if counts is not None:  # coded: the range holds the truth and never pins it
            assert met in counts and pd.isna(row["met"])
            assert len(counts) >= 3
            assert row["rate"] == pytest.approx(int(row["rate_label"][2:-1]) / 100)  # drawn at the range's edge
        else:
            assert row["met"] == met
            assert row["rate"] == pytest.approx(true_rate)
            assert row["rate_label"] == f"{true_rate:.0%}"
            # Uncoded, a rate is never within one student of all or none on fewer than 300 students.
            assert eligible >= 300 or eligible < 10 or 1 <= met <= eligible - 1

    for cols in groupings:
        assert_no_lone_hidden_cell(out, cols)
    if (frame["eligible"] >= threshold).all():
        assert not out["suppressed"].any()


@settings(max_examples=300, deadline=None)
@given(frame=random_rates(), threshold=st.integers(min_value=1, max_value=20))
def test_rates_single_grouping_matches_reference(frame: pd.DataFrame, threshold: int) -> None:
    out = suppress_rates(frame, groups=[["group"]], threshold=threshold)
    assert out["suppressed"].tolist() == expected_single_grouping(frame, threshold)


@settings(max_examples=200, deadline=None)
@given(frame=random_rates())
def test_rates_whole_frame_grouping(frame: pd.DataFrame) -> None:
    out = suppress_rates(frame, groups=[[]])
    assert_no_lone_hidden_cell(out, [])


@settings(max_examples=300, deadline=None)
@given(frame=random_rates(), threshold=st.integers(min_value=1, max_value=20))
def test_counts_properties(frame: pd.DataFrame, threshold: int) -> None:
    value_cols = ["eligible", "met"]
    groupings = [["group"], ["sub"]]
    out = suppress_counts(frame, value_cols, groups=groupings, threshold=threshold)
    for i in range(len(frame)):
        values = [int(frame[c].iloc[i]) for c in value_cols]
        if any(0 < v < threshold for v in values):
            assert out["suppressed"].iloc[i]
        if out["suppressed"].iloc[i]:
            assert all(pd.isna(out[c].iloc[i]) for c in value_cols)
        else:
            assert [out[c].iloc[i] for c in value_cols] == values
    for cols in groupings:
        assert_no_lone_hidden_cell(out, cols)


def test_a_single_rate_is_suppressed_coded_or_shown() -> None:
    assert privacy.shown_rate(3, 9) == "<10"
    assert privacy.shown_rate(0, 0) == "<10"
    assert privacy.shown_rate(20, 20) == ">=90%"
    assert privacy.shown_rate(0, 39) == "<=10%"
    assert privacy.shown_rate(40, 40) == ">=95%"
    assert privacy.shown_rate(300, 300) == "100%"
    assert privacy.shown_rate(13, 20) == "65%"
    assert privacy.shown_rate(3, 9, threshold=5) == "33%"
    assert privacy.shown_rate(9, 9, threshold=5) == "100%"  # under 10 no range holds three counts


def test_published_counts_apply_the_stored_status_and_decide_nothing() -> None:
    frame = pd.DataFrame({
        "state": ["AA", "BB", "CC", "DD"],
        "students_served": [5, 500, 3, 40],  # 3 marked shown: the stored decision stands, nothing is re-decided
        "students_served_status": ["small", "hidden", "shown", "shown"],
        "case_managed": [1, 60, 0, 7],
        "case_managed_status": ["small", "shown", "shown", "small"],
        "schools": [1, 2, 3, 4],
    })  # fmt: skip
    out = privacy.published_counts(frame)
    assert out["students_served"].isna().tolist() == [True, True, False, False]
    assert out["case_managed"].isna().tolist() == [True, False, False, True]
    assert out["suppressed"].tolist() == [True, True, False, True]
    assert out["schools"].tolist() == [1, 2, 3, 4]  # not a count of students
    labelled = privacy.with_labels(out)
    assert labelled["students_served"].tolist() == ["<10", "hidden", 3, 40]  # hidden protects another: not '<10'
    assert labelled["case_managed"].tolist() == ["<10", 60, 0, "<10"]
    assert not [c for c in labelled.columns if c.endswith("_status")]
    with pytest.raises(KeyError, match="stored status"):
        privacy.published_counts(frame.drop(columns="case_managed_status"))
    assert [privacy.count_label(s) for s in ("shown", "small", "hidden", None)] == [None, "<10", "hidden", "hidden"]
