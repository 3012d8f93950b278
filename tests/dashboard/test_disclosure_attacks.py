"""Attacks on suppression across views, as the audit of issue 12 ran them: each reads only what a view shows.

A view here is what a page renders: queries.outcome_rates for the page's filters and scope, through
privacy.suppress_rates (the labels, counts and rates a chart, card or CSV receives). An attacker combines two
views by subtraction; every test fails while a small cell comes back.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import disclosure, disclosure_audit, privacy
from dashboard.data import contract, queries
from dashboard.data.queries import Filters, Scope

YEARS = ("2021-22", "2022-23")


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """The view as a page shows it: exact counts only where published exactly (NaN where hidden or coded)."""
    out = privacy.suppress_rates(frame, groups=[])
    exact = ~out["suppressed"] & ~out["coded"]
    return out.assign(eligible=out["eligible"].where(exact), met=out["met"].where(exact))


def _affiliates(raw: dict[str, pd.DataFrame]) -> list[str]:
    return sorted(raw["schools"]["affiliate_id"].unique())


def _recovered_small(raw, a_minus_b: pd.Series, keys: pd.DataFrame, truth: pd.DataFrame) -> list:
    """Differences an attacker computed that land under the threshold: a small cell recovered exactly."""
    found = keys.assign(eligible=a_minus_b).dropna(subset=["eligible"])
    found = found[(found["eligible"] >= 0) & (found["eligible"] < privacy.DEFAULT_THRESHOLD)]
    return found.to_dict("records")


def test_tier_filter_never_gives_a_hidden_tier_back(sqlite_engine, raw) -> None:
    """Channel 1: an affiliate's tiers together, tier 2 alone and tier 3 alone (the Overview's ?tier=)."""
    leaks = []
    for affiliate in _affiliates(raw):
        view = Filters(school_years=YEARS, affiliates=(affiliate,))
        together = shown(queries.outcome_rates(sqlite_engine, view, by_tier=False))
        for known, hidden in ((2, 3), (3, 2)):
            one = shown(queries.outcome_rates(sqlite_engine, replace(view, tiers=(known,)), by_tier=False))
            other = queries.outcome_rates(sqlite_engine, replace(view, tiers=(hidden,)), by_tier=False)
            other = privacy.suppress_rates(other, groups=[])
            other = other[["school_year", "metric", "rate_label"]].rename(columns={"rate_label": "other_label"})
            both = together.merge(one, on=["school_year", "metric"], suffixes=("", "_one")).merge(
                other, on=["school_year", "metric"]
            )
            both = both[both["other_label"] == privacy.SUPPRESSED]
            diff = both["eligible"] - both["eligible_one"]
            leaks += _recovered_small(raw, diff, both[["school_year", "metric"]].assign(affiliate=affiliate), None)
    assert leaks == []


def test_a_school_tier_hidden_on_outcomes_stays_hidden_beside_the_schools_page(sqlite_engine, raw) -> None:
    """Channel 3: the Outcomes drill shows a school's tiers apart, the Schools page its tiers together."""
    leaks = []
    for affiliate in _affiliates(raw)[:8]:
        drill = shown(queries.outcome_rates(sqlite_engine, Filters(school_years=YEARS, affiliates=(affiliate,)),
                                            level="school"))  # fmt: skip
        from dashboard.views import schools as schools_view

        together = shown(schools_view.school_rates(sqlite_engine, "graduated", years=YEARS).assign(metric="graduated"))
        for metric in ("graduated",):
            t = drill[drill["metric"] == metric]
            t2 = t[t["tier"] == 2].set_index(["school_id", "school_year"])
            t3 = privacy.suppress_rates(
                queries.outcome_rates(sqlite_engine, Filters(school_years=YEARS, affiliates=(affiliate,)),
                                      level="school"), groups=[])  # fmt: skip
            t3 = t3[(t3["metric"] == metric) & (t3["tier"] == 3) & (t3["rate_label"] == privacy.SUPPRESSED)]
            t3 = t3.set_index(["school_id", "school_year"])
            all_ = together.set_index(["school_id", "school_year"])
            common = t3.index.intersection(t2.index).intersection(all_.index)
            diff = all_.loc[common, "eligible"] - t2.loc[common, "eligible"]
            leaks += [(i, d) for i, d in diff.dropna().items() if 0 <= d < privacy.DEFAULT_THRESHOLD]
    assert leaks == []


def test_complementary_hiding_holds_across_pages(sqlite_engine, raw) -> None:
    """Channel 2: Outcomes for a state (affiliates by tier) beside each affiliate's profile (tiers together, and
    each tier), and the state's own figure: no small affiliate tier comes back from any pair."""
    leaks = []
    for state in sorted(raw["schools"]["state"].unique()):
        bars = shown(queries.outcome_rates(sqlite_engine, Filters(school_years=YEARS, states=(state,)),
                                           level="affiliate"))  # fmt: skip
        labels = privacy.suppress_rates(
            queries.outcome_rates(sqlite_engine, Filters(school_years=YEARS, states=(state,)), level="affiliate"),
            groups=[],
        )
        profile = shown(queries.outcome_rates(sqlite_engine, Filters(school_years=YEARS, states=(state,)),
                                              level="affiliate", by_tier=False))  # fmt: skip
        keys = ["affiliate_id", "school_year", "metric"]
        for known, hidden in ((2, 3), (3, 2)):
            k = bars[bars["tier"] == known].set_index(keys)
            h = labels[(labels["tier"] == hidden) & (labels["rate_label"] == privacy.SUPPRESSED)].set_index(keys)
            p = profile.set_index(keys)
            common = h.index.intersection(k.index).intersection(p.index)
            diff = p.loc[common, "eligible"] - k.loc[common, "eligible"]
            leaks += [(i, d) for i, d in diff.dropna().items() if 0 <= d < privacy.DEFAULT_THRESHOLD]
        # The state's total less every shown affiliate: what is left must not be one small affiliate alone.
        state_total = shown(queries.outcome_rates(sqlite_engine, Filters(school_years=YEARS, states=(state,))))
        for (year, tier, metric), _part in bars.groupby(["school_year", "tier", "metric"]):
            hidden_rows = labels[(labels["school_year"] == year) & (labels["tier"] == tier)
                                 & (labels["metric"] == metric) & labels["suppressed"]]  # fmt: skip
            total = state_total[(state_total["school_year"] == year) & (state_total["tier"] == tier)
                                & (state_total["metric"] == metric)]["eligible"]  # fmt: skip
            if len(hidden_rows) == 1 and len(total) and not total.isna().all():
                leaks.append((state, year, tier, metric))
    assert leaks == []


def test_differencing_two_level_filters_gives_no_slice_back(sqlite_engine, raw) -> None:
    """Channel 4: an affiliate with every level, and with every level but one: the difference is that level."""
    leaks = []
    levels = list(contract.LEVELS)
    for affiliate in _affiliates(raw):
        base = Filters(school_years=YEARS, affiliates=(affiliate,))
        every = shown(queries.outcome_rates(sqlite_engine, base, by_tier=False)).set_index(["school_year", "metric"])
        for left_out in levels:
            rest = tuple(v for v in levels if v != left_out)
            part = shown(queries.outcome_rates(sqlite_engine, replace(base, levels=rest), by_tier=False))
            part = part.set_index(["school_year", "metric"])
            common = every.index.intersection(part.index)
            diff = (every.loc[common, "eligible"] - part.loc[common, "eligible"]).dropna()
            leaks += [(affiliate, left_out, i, d) for i, d in diff.items() if 0 < d < privacy.DEFAULT_THRESHOLD]
    assert leaks == []


def test_a_view_made_of_several_cells_is_hidden_when_any_part_is(sqlite_engine) -> None:
    """The rule for views the pattern does not publish: a sum of published cells, shown only if every part is."""
    keys = ["state", "school_year", "metric", "tier"]
    frame = queries.outcome_rates(sqlite_engine, Filters(school_years=YEARS, levels=("high", "middle")),
                                  level="state").set_index(keys)  # fmt: skip
    parts = [queries.outcome_rates(sqlite_engine, Filters(school_years=YEARS, levels=(v,)), level="state")
             .set_index(keys) for v in ("high", "middle")]  # fmt: skip
    both = parts[0].index.intersection(parts[1].index)
    assert len(both) > 0
    expected = np.where((parts[0].loc[both, "status"] == "shown") & (parts[1].loc[both, "status"] == "shown"),
                        disclosure.SHOWN, disclosure.HIDDEN)  # fmt: skip
    assert (frame.loc[both, "status"].to_numpy() == expected).all()
    assert (frame.loc[both, "eligible"] == parts[0].loc[both, "eligible"] + parts[1].loc[both, "eligible"]).all()
    only_one = frame.index.difference(both)
    for index in only_one:  # one part: its own decision
        part = parts[0] if index in parts[0].index else parts[1]
        assert frame.loc[index, "status"] == part.loc[index, "status"]
    unit, slices = queries.view_cells(Filters(levels=("high", "middle")), queries.EVERYTHING, "state")
    assert (unit, slices) == ("state", ["level:high", "level:middle"])
    # A lead's national view is its own affiliate's cells; two attributes at a state sum school cells.
    assert queries.view_cells(Filters(), Scope(frozenset({"X"})), "national") == ("affiliate", [""])
    assert queries.view_cells(Filters(levels=("high",), locales=("city",)), queries.EVERYTHING, "state")[0] == "school"


def _random_network(draw) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A small random network: states, affiliates, schools with attributes, one year of one metric."""
    n_schools = draw(st.integers(min_value=2, max_value=14))
    rows, outcomes = [], []
    for i in range(n_schools):
        state = draw(st.sampled_from(["AA", "BB"]))
        rows.append({
            "school_id": f"S{i}", "state": state, "affiliate_id": f"{state}-{draw(st.integers(0, 2))}",
            "level": draw(st.sampled_from(["high", "middle"])), "locale": draw(st.sampled_from(["city", "rural"])),
            "title_i": draw(st.booleans()),
        })  # fmt: skip
        for tier in (2, 3):
            eligible = draw(st.integers(min_value=0, max_value=60))
            met = draw(st.integers(min_value=0, max_value=eligible))
            outcomes.append({"school_id": f"S{i}", "school_year": "2022-23", "tier": tier, "metric": "graduated",
                             "eligible": eligible, "met": met})  # fmt: skip
    schools = pd.DataFrame(rows)
    school_years = pd.DataFrame({
        "school_id": schools["school_id"], "school_year": "2022-23", "enrollment": 500,
        "tier1_students": 100, "tier2_students": 20, "tier3_students": 10,
    })  # fmt: skip
    return pd.DataFrame(outcomes), school_years, schools


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_networks_leave_no_cell_alone_and_the_audit_brackets_the_truth(data) -> None:
    """Random hierarchies with tiers and slices: no relation keeps exactly one suppressed cell, every small cell
    stays small, and every interval the audit finds holds the true value (the programs are a sound attacker)."""
    outcomes, school_years, schools = _random_network(data.draw)
    table = disclosure.cells(disclosure.leaves(outcomes, school_years, schools))
    table["status"] = disclosure.decide(table, schools, 10, audit_rounds=0)
    rate = disclosure.is_rate(table["measure"])
    small = np.where(rate, table["size"] < 10, (table["size"] > 0) & (table["size"] < 10))
    assert (table.loc[small, "status"] == disclosure.SMALL).all()
    members = disclosure.relations(table, schools)
    suppressed = table["status"].isin([disclosure.SMALL, disclosure.HIDDEN]).to_numpy()
    per_relation = pd.Series(suppressed[members["cell"].to_numpy()]).groupby(members["relation"].to_numpy()).sum()
    pickable = np.where(rate, table["size"] >= 10, table["size"] > 0)
    lonely = per_relation[per_relation == 1].index
    for relation in lonely:  # only where nothing else of the relation could be hidden
        cells = members.loc[members["relation"] == relation, "cell"].to_numpy()
        assert not (pickable[cells] & ~suppressed[cells]).any(), relation
    truth = table.set_index(disclosure.KEYS)
    for finding in disclosure_audit.audit(table, schools, 10).exposed:
        size, met = truth.loc[finding.key, ["size", "met"]]
        # An end the audit did not need (a coded cell's size, one end of its met) is NaN: nothing to check.
        for (lo, hi), value in ((finding.size_range, size), (finding.met_range, met)):
            assert np.isnan(lo) or lo - 1e-6 <= value, finding
            assert np.isnan(hi) or value <= hi + 1e-6, finding


def test_the_audit_finds_a_cell_left_alone_in_its_relation() -> None:
    """The audit can fail: one small tier beside a shown total and a shown other tier is exposed."""
    outcomes = pd.DataFrame([
        {"school_id": "S0", "school_year": "2022-23", "tier": 2, "metric": "graduated", "eligible": 40, "met": 30},
        {"school_id": "S0", "school_year": "2022-23", "tier": 3, "metric": "graduated", "eligible": 6, "met": 3},
    ])  # fmt: skip
    schools = pd.DataFrame([{"school_id": "S0", "state": "AA", "affiliate_id": "AA-0", "level": "high",
                             "locale": "city", "title_i": True}])  # fmt: skip
    school_years = pd.DataFrame([{"school_id": "S0", "school_year": "2022-23", "enrollment": 500,
                                  "tier1_students": 100, "tier2_students": 40, "tier3_students": 20}])  # fmt: skip
    table = disclosure.cells(disclosure.leaves(outcomes, school_years, schools))
    table["status"] = np.where(table["size"] < 10, disclosure.SMALL, disclosure.SHOWN)  # no complement at all
    exposed = disclosure_audit.audit(table, schools, 10).exposed
    assert {f.key[2] for f in exposed if f.key[1] == "graduated"} >= {"school"}
    table["status"] = disclosure.decide(table, schools, 10, audit_rounds=30, audit=disclosure_audit.audit_system)
    assert disclosure_audit.audit(table, schools, 10).exposed == []


def _graduation_cells(counts: dict[str, tuple[tuple[int, int], ...]], schools: pd.DataFrame) -> pd.DataFrame:
    """The published cells of one school year's graduation, from each school's (eligible, met) in tiers 2 and 3,
    with no student counts."""
    outcomes = pd.DataFrame([
        {"school_id": k, "school_year": "2022-23", "tier": tier, "metric": "graduated", "eligible": e, "met": m}
        for k, tiers in counts.items() for tier, (e, m) in zip((2, 3), tiers, strict=True)
    ])  # fmt: skip
    no_counts = pd.DataFrame(
        columns=["school_id", "school_year", "enrollment", *(f"tier{t}_students" for t in (1, 2, 3))]
    )
    return disclosure.cells(disclosure.leaves(outcomes, no_counts, schools))


def test_a_school_alone_in_its_peer_group_is_protected_through_the_peer_group() -> None:
    """A peer group (the nation's schools of one level, locale and Title I status) is the sum of its schools and
    nothing else: S0 is the only middle city school outside Title I, so its group is S0 under another name. The
    pattern decided at load time (no audit rounds) must already leave no small cell the audit can narrow."""
    place = {"S0": ("BB", "BB-1", "middle", "city", False), "S1": ("AA", "AA-0", "middle", "rural", False),
             "S2": ("BB", "BB-0", "high", "city", False), "S3": ("AA", "AA-1", "high", "city", False),
             "S4": ("BB", "BB-1", "high", "rural", False), "S5": ("AA", "AA-1", "high", "rural", True)}  # fmt: skip
    schools = pd.DataFrame(
        [dict(zip(("state", "affiliate_id", "level", "locale", "title_i"), v, strict=True), school_id=k)
         for k, v in place.items()])  # fmt: skip
    counts = {"S0": ((8, 2), (8, 7)), "S1": ((53, 45), (5, 2)), "S2": ((9, 4), (20, 5)), "S3": ((15, 11), (14, 4)),
              "S4": ((3, 2), (2, 1)), "S5": ((9, 7), (5, 2))}  # fmt: skip
    table = _graduation_cells(counts, schools)
    table["status"] = disclosure.decide(table, schools, 10)
    assert disclosure_audit.audit(table, schools, 10).exposed == []


def test_two_small_tiers_under_a_published_total_do_not_protect_each_other() -> None:
    """S0's tiers hold 9 and 9 students: both small, so they hide each other in the tier relation. But S0's total
    of 18 and both tiers' "fewer than 10" leave one answer, 9 and 9, and all of tier 3 met the outcome (9 of 9 from
    the total's met). The pattern decided at load time must hide a cell of 10 or more beside them."""
    schools = pd.DataFrame([
        {"school_id": "S0", "state": "AA", "affiliate_id": "AA-0", "level": "high", "locale": "city", "title_i": True},
        {"school_id": "S1", "state": "AA", "affiliate_id": "AA-0", "level": "high", "locale": "rural", "title_i": True},
        {"school_id": "S2", "state": "AA", "affiliate_id": "AA-1", "level": "high", "locale": "city", "title_i": True},
    ])  # fmt: skip
    counts = {"S0": ((9, 8), (9, 9)), "S1": ((40, 30), (30, 20)), "S2": ((60, 50), (25, 20))}
    table = _graduation_cells(counts, schools)
    table["status"] = disclosure.decide(table, schools, 10)
    assert disclosure_audit.audit(table, schools, 10).exposed == []
    total = table[(table["unit"] == "school") & (table["unit_id"] == "S0") & (table["tier"] == 0)]
    assert total["status"].item() == disclosure.HIDDEN  # 18 students: hidden only to protect its two tiers


def test_coded_schools_under_an_exact_total_are_not_left_all_of_them() -> None:
    """S0 reads '>=98%' (150 of 150 graduated), S1 is exact (190 of 200), and their affiliate's 340 of 350 is exact
    (300 students or more are never coded). The affiliate less S1 is 150 of 150: S0's range proved all of them,
    tier by tier too. The pattern decided at load time must leave the coded cells their range."""
    schools = pd.DataFrame([
        {"school_id": "S0", "state": "AA", "affiliate_id": "AA-0", "level": "high", "locale": "city", "title_i": True},
        {"school_id": "S1", "state": "AA", "affiliate_id": "AA-0", "level": "high", "locale": "rural", "title_i": True},
    ])  # fmt: skip
    table = _graduation_cells({"S0": ((100, 100), (50, 50)), "S1": ((120, 115), (80, 75))}, schools)
    table["status"] = disclosure.decide(table, schools, 10)
    s0 = table[(table["unit"] == "school") & (table["unit_id"] == "S0")]
    assert (s0["status"] != disclosure.SHOWN).all(), "every S0 cell is coded or withheld, never exact"
    assert disclosure_audit.audit(table, schools, 10).exposed == []
    nation = table[(table["unit"] == "nation") & (table["slice"] == "")]
    assert (nation["status"] == disclosure.SHOWN).all(), "the nation's own figures stay published"


@pytest.mark.parametrize("n", [10, 19, 20, 39, 40, 99, 100, 299])
def test_coded_ranges_hold_three_counts(n: int) -> None:
    lo, hi = disclosure.coded_range(n, n)
    assert hi == n and hi - lo + 1 >= 3
    lo, hi = disclosure.coded_range(n, 0)
    assert lo == 0 and hi - lo + 1 >= 3


# Student counts: what the Overview, the Map and the affiliate profile show of students served, combined.

COUNT_YEAR = "2022-23"


def _exact(values: pd.Series) -> pd.Series:
    """A displayed count as a number where the page shows one exactly, else NaN ('<10', 'hidden', blank)."""
    return pd.to_numeric(values.astype(str).str.replace(",", ""), errors="coerce")


def overview_by_state(engine, view: Filters, year: str) -> pd.DataFrame:
    """The Overview's 'Students served by state' CSV for a board member (as app_pages/overview.py builds it)."""
    frame = queries.kpi_totals(engine, view.with_years(year), queries.EVERYTHING, "state")
    return privacy.with_labels(privacy.published_counts(frame))


def map_places(engine, view: Filters, year: str) -> pd.DataFrame:
    """The Map's places (affiliate and school popups, and its CSV) for a board member."""
    from dashboard.views import map as map_view

    return map_view.places(queries.map_schools(engine, view, queries.EVERYTHING, year),
                           queries.map_affiliates(engine, view, queries.EVERYTHING, year), None)  # fmt: skip


def profile_schools(engine, affiliate: str, year: str) -> pd.Series:
    """The profile's schools table: students served per school as shown, keyed by school id."""
    from dashboard.views import profile as profile_view

    listed = queries.affiliate_school_list(engine, affiliate, year)
    table, _silent = profile_view.schools_table(listed)
    ids = listed.loc[listed["students_served"].notna(), "school_id"].to_numpy()
    return pd.Series(table["Students served"].to_numpy(), index=ids)


def _raw_served(raw, year: str) -> pd.DataFrame:
    sy = raw["school_years"]
    return sy[sy["school_year"] == year].merge(raw["schools"], on="school_id")


def test_the_map_with_and_without_a_level_filter_and_the_profile_give_no_school_count_back(sqlite_engine, raw) -> None:
    """An affiliate's students served and case-managed students (its Map popup) less its schools shown on the Map,
    on the Map filtered to one level, or (served) on its profile: no suppressed school may be the only one left."""
    served = _raw_served(raw, COUNT_YEAR)
    truth = served.set_index("school_id")[["students_served", "tier3_students"]].rename(
        columns={"tier3_students": "case_managed"})  # fmt: skip
    leaks, attacked = [], 0
    for affiliate in _affiliates(raw):
        mine = Filters(affiliates=(affiliate,))
        places = map_places(sqlite_engine, mine, COUNT_YEAR)
        views = [places] + [
            map_places(sqlite_engine, replace(mine, levels=(level,)), COUNT_YEAR)
            for level in sorted(served.loc[served["affiliate_id"] == affiliate, "level"].unique())
        ]
        profile = profile_schools(sqlite_engine, affiliate, COUNT_YEAR)
        for column in ("students_served", "case_managed"):
            total = _exact(places.loc[places["layer"] == "affiliate", column])
            if total.empty or total.isna().all():
                continue
            assert int(total.iloc[0]) == truth.loc[served.loc[served["affiliate_id"] == affiliate, "school_id"],
                                                   column].sum()  # fmt: skip
            known = pd.Series(np.nan, index=places.loc[places["layer"] == "school", "place_id"].to_numpy())
            for view in views:
                on_map = view[view["layer"] == "school"].set_index("place_id")[column]
                known = known.fillna(_exact(on_map).reindex(known.index))
            if column == "students_served":
                known = known.fillna(_exact(profile).reindex(known.index))
            assert (known.dropna() == truth.loc[known.dropna().index, column]).all()  # the true figures
            unknown = known.index[known.isna()]
            attacked += len(unknown) > 0
            if len(unknown) == 1:
                recovered = int(total.iloc[0] - known.sum())
                assert recovered == truth.loc[unknown[0], column]  # the attack is real
                leaks.append((affiliate, column, unknown[0], recovered))
    assert attacked > 0  # some school was suppressed: the attack had something to find
    assert leaks == []


def test_a_state_on_the_overview_less_its_affiliates_on_the_map_gives_none_back(sqlite_engine, raw) -> None:
    """The Overview's students served and case-managed by state less the state's affiliates shown on the Map."""
    served = _raw_served(raw, COUNT_YEAR).rename(columns={"tier3_students": "case_managed"})
    by_state = overview_by_state(sqlite_engine, Filters(), COUNT_YEAR).set_index("state")
    leaks = []
    for state in sorted(served["state"].unique()):
        places = map_places(sqlite_engine, Filters(states=(state,)), COUNT_YEAR)
        for column in ("students_served", "case_managed"):
            truth = served.groupby("affiliate_id")[column].sum()
            total = _exact(by_state.loc[[state], column]).iloc[0]
            if np.isnan(total):
                continue
            assert total == served.loc[served["state"] == state, column].sum()
            shown_affiliates = _exact(places[places["layer"] == "affiliate"].set_index("place_id")[column])
            assert (shown_affiliates.dropna() == truth.loc[shown_affiliates.dropna().index]).all()
            unknown = shown_affiliates.index[shown_affiliates.isna()]
            if len(unknown) == 1:
                leaks.append((state, column, unknown[0], int(total - shown_affiliates.sum())))
    assert leaks == []


def test_a_level_filter_gives_no_affiliate_or_state_count_back(sqlite_engine, raw) -> None:
    """The Map's affiliates and the Overview's states with every level, and with every level but one: the
    difference is that level's students, which must not come back when it is fewer than 10."""
    served = _raw_served(raw, COUNT_YEAR).rename(columns={"tier3_students": "case_managed"})
    levels = list(contract.LEVELS)
    leaks = []
    for column in ("students_served", "case_managed"):
        every_map = map_places(sqlite_engine, Filters(), COUNT_YEAR)
        every_map = _exact(every_map[every_map["layer"] == "affiliate"].set_index("place_id")[column])
        every_state = _exact(overview_by_state(sqlite_engine, Filters(), COUNT_YEAR).set_index("state")[column])
        for left_out in levels:
            rest = Filters(levels=tuple(v for v in levels if v != left_out))
            part = map_places(sqlite_engine, rest, COUNT_YEAR)
            part = _exact(part[part["layer"] == "affiliate"].set_index("place_id")[column])
            diff = (every_map - part.reindex(every_map.index).fillna(0)).dropna()
            leaks += [("affiliate_id", i, column, left_out, d) for i, d in diff.items()
                      if 0 < d < privacy.DEFAULT_THRESHOLD]  # fmt: skip
            state_part = _exact(overview_by_state(sqlite_engine, rest, COUNT_YEAR).set_index("state")[column])
            diff = (every_state - state_part.reindex(every_state.index).fillna(0)).dropna()
            leaks += [("state", i, column, left_out, d) for i, d in diff.items() if 0 < d < privacy.DEFAULT_THRESHOLD]
    assert served.groupby(["affiliate_id", "level"])["case_managed"].sum().between(1, 9).any()  # cells to protect
    for kind, place, column, level, d in leaks:  # each difference is a true small slice: the attack is real
        assert served[(served[kind] == place) & (served["level"] == level)][column].sum() == d
    assert leaks == []
