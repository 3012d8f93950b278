"""The demo network reproduces the published figures, keeps the contract, and is deterministic.

Every total here is recomputed with pandas straight from the generated CSV files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.data import contract, geo

# DESIGN.md, "Published figures the demo data must reproduce": typed in again here on purpose,
from dashboard.tools import demo

# so a change to the generator's targets can't silently change what the test expects.
PUBLISHED = {
    "2019-20": {"organisations": 121, "states": 27, "schools": 2900, "students_served": 1_700_000, "staff": 4100,
                "partners": 8000, "volunteers": 30_000,
                "rates": {"remained_in_school": 99, "promoted": 97, "graduated": 96, "attendance_goal": 81,
                          "academic_goal": 88, "behavior_goal": 85}},
    "2020-21": {"organisations": 117, "states": 27, "schools": 2860, "students_served": 1_610_000, "case_managed": 146_400},
    "2021-22": {"organisations": 114, "affiliates": 111, "licensed_partners": 3, "states": 26, "schools": 3270,
                "students_served": 1_800_000, "case_managed": 185_300,
                "rates": {"remained_in_school": 99, "promoted": 97, "graduated": 95}},
    "2022-23": {"states": 28, "schools": 3460, "students_served": 2_000_000},
}  # fmt: skip
STUDENT_COUNTS = {"students_served", "case_managed"}


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("national")
    demo.write_csv(demo.generate(scale=1), out)
    return {name: pd.read_csv(out / f"{name}.csv", dtype={"school_id": str}) for name in contract.TABLES}


def _totals(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    sy = t["school_years"].merge(t["schools"][["school_id", "affiliate_id", "state"]], on="school_id")
    sy = sy.merge(t["affiliates"][["affiliate_id", "kind"]], on="affiliate_id")
    orgs = sy[sy["kind"].isin(["affiliate", "licensed_partner"])]
    out = pd.DataFrame(
        {
            "organisations": orgs.groupby("school_year")["affiliate_id"].nunique(),
            "affiliates": orgs[orgs["kind"] == "affiliate"].groupby("school_year")["affiliate_id"].nunique(),
            "licensed_partners": orgs[orgs["kind"] == "licensed_partner"]
            .groupby("school_year")["affiliate_id"]
            .nunique(),
            "states": sy.groupby("school_year")["state"].nunique(),
            "schools": sy.groupby("school_year")["school_id"].nunique(),
            "students_served": sy.groupby("school_year")["students_served"].sum(),
            "case_managed": sy.groupby("school_year")["tier3_students"].sum(),
            "staff": sy.groupby("school_year")["site_coordinators"].sum(),
            "volunteers": sy.groupby("school_year")["volunteers"].sum(),
            "partners": t["partnerships"].groupby("school_year")["partner_id"].nunique(),
        }
    )
    return out


@pytest.mark.parametrize("year", sorted(PUBLISHED))
def test_published_counts(national: dict[str, pd.DataFrame], year: str) -> None:
    totals = _totals(national).loc[year]
    for figure, expected in PUBLISHED[year].items():
        if figure == "rates":
            continue
        if figure in STUDENT_COUNTS:
            assert abs(totals[figure] - expected) <= 0.005 * expected, (figure, totals[figure], expected)
        else:
            assert totals[figure] == expected, (figure, totals[figure], expected)


@pytest.mark.parametrize("year", [y for y in sorted(PUBLISHED) if "rates" in PUBLISHED[y]])
def test_published_rates_for_tiers_2_and_3(national: dict[str, pd.DataFrame], year: str) -> None:
    o = national["outcomes"]
    o = o[(o["school_year"] == year) & o["tier"].isin([2, 3])]
    sums = o.groupby("metric")[["met", "eligible"]].sum()
    for metric, expected in PUBLISHED[year]["rates"].items():
        rate = sums.loc[metric, "met"] / sums.loc[metric, "eligible"]
        assert round(rate * 100) == expected, (metric, rate)


def test_los_angeles_graduates_99_percent_in_its_last_five_years(national: dict[str, pd.DataFrame]) -> None:
    schools = national["schools"]
    la = national["affiliates"].query("city == 'Los Angeles' and state == 'CA' and kind == 'affiliate'")["affiliate_id"]
    assert len(la) == 1
    ids = schools[schools["affiliate_id"].isin(la)]["school_id"]
    o = national["outcomes"]
    grad = o[o["school_id"].isin(ids) & (o["metric"] == "graduated")].groupby("school_year")[["met", "eligible"]].sum()
    last_five = grad.sort_index().tail(5)
    assert len(last_five) == 5
    assert ((last_five["met"] / last_five["eligible"]) >= 0.99).all()


def test_ten_school_years_and_a_million_rows(national: dict[str, pd.DataFrame]) -> None:
    assert sorted(national["school_years"]["school_year"].unique()) == list(contract.SCHOOL_YEARS)
    assert sum(len(f) for f in national.values()) >= 950_000


def test_contract_rules_hold(national: dict[str, pd.DataFrame]) -> None:
    o, sy = national["outcomes"], national["school_years"]
    assert ((o["met"] >= 0) & (o["met"] <= o["eligible"])).all()
    for tier in ("tier1_students", "tier2_students", "tier3_students"):
        assert (sy[tier] <= sy["students_served"]).all()
    assert (sy["students_served"] <= sy["enrollment"]).all()
    for name in ("affiliates", "schools", "partners"):
        frame = national[name]
        inside = [
            geo.in_state(s, la, lo)
            for s, la, lo in zip(frame["state"], frame["latitude"], frame["longitude"], strict=True)
        ]
        assert all(inside), name
        assert frame.iloc[:, 0].is_unique
    assert set(sy["school_id"]) <= set(national["schools"]["school_id"])
    assert set(national["schools"]["affiliate_id"]) <= set(national["affiliates"]["affiliate_id"])
    assert set(national["partnerships"]["partner_id"]) <= set(national["partners"]["partner_id"])
    ids = national["schools"]["school_id"]
    assert ids.str.fullmatch(r"[A-Za-z0-9_-]{1,40}").all()
    for name, (key, _) in contract.TABLES.items():
        assert not national[name].duplicated(list(key)).any(), name


def test_same_seed_same_tables_other_seed_other_tables(tmp_path: Path) -> None:
    a, b, c = demo.generate(0.1, seed=7), demo.generate(0.1, seed=7), demo.generate(0.1, seed=8)
    for name in contract.TABLES:
        pd.testing.assert_frame_equal(a.tables()[name], b.tables()[name])
    assert not a.schools.equals(c.schools)
    one, two = tmp_path / "one", tmp_path / "two"
    demo.write_csv(a, one)
    demo.write_csv(b, two)
    for name in contract.TABLES:
        assert (one / f"{name}.csv").read_bytes() == (two / f"{name}.csv").read_bytes()


def _km(lat1, lon1, lat2, lon2):
    """Haversine distance in kilometres, for columns of degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def test_schools_lie_near_their_affiliate_and_are_named_after_no_far_city(national: dict[str, pd.DataFrame]) -> None:
    schools = national["schools"].merge(
        national["affiliates"][["affiliate_id", "city", "latitude", "longitude"]],
        on="affiliate_id",
        suffixes=("", "_home"),
    )
    away = _km(schools["latitude"], schools["longitude"], schools["latitude_home"], schools["longitude_home"])
    assert away.max() <= 50, schools.loc[away.idxmax(), ["name", "city", "city_home"]].tolist()
    assert (schools["city"] == schools["city_home"]).mean() > 0.5  # most in the affiliate's own city
    # No school carries the name of one of its state's affiliate cities that lies far from it ("Asheville Madison
    # Middle School" in Charlotte, 170 km away).
    homes = national["affiliates"][["state", "city", "latitude", "longitude"]].drop_duplicates(["state", "city"])
    named = schools.merge(homes, on="state", suffixes=("", "_named"))
    named = named[[n.startswith(f"{c} ") for n, c in zip(named["name"], named["city_named"], strict=True)]]
    far = _km(named["latitude"], named["longitude"], named["latitude_named"], named["longitude_named"]) > 60
    assert not far.any(), named.loc[far, ["name", "city", "affiliate_id"]].head().to_dict("records")
    assert len(named) > len(schools) / 5  # a third are named after their city
