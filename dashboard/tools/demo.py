"""A synthetic network, deterministic and placed in real US cities, calibrated to the published figures.

National totals per school year equal the network's published numbers (DESIGN.md): organisations,
states, schools, staff, partners and volunteers exactly; students to within rounding; outcome
rates for tier 2 and 3 together to the whole percent.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dashboard.data import contract, geo, rollup
from dashboard.data import db as dbm

YEARS = contract.SCHOOL_YEARS
N_YEARS = len(YEARS)

# Per school year, 2015-16 .. 2024-25. Published values (DESIGN.md) stand where they exist;
# the rest follow plausible trends around them.
ORGANISATIONS = [126, 125, 123, 122, 121, 117, 114, 115, 116, 117]
SCHOOLS = [2300, 2450, 2600, 2750, 2900, 2860, 3270, 3460, 3520, 3580]
STUDENTS_SERVED = [
    1_350_000,
    1_450_000,
    1_550_000,
    1_620_000,
    1_700_000,
    1_610_000,
    1_800_000,
    2_000_000,
    2_050_000,
    2_100_000,
]
CASE_MANAGED = [118_000, 125_000, 132_000, 138_500, 144_000, 146_400, 185_300, 196_000, 200_500, 204_000]
STAFF = [3300, 3500, 3700, 3900, 4100, 4000, 4500, 4750, 4850, 4950]
PARTNERS = [6800, 7100, 7400, 7700, 8000, 7300, 7600, 8100, 8300, 8500]
VOLUNTEERS = [26_000, 27_000, 28_000, 29_000, 30_000, 18_000, 24_000, 28_500, 30_500, 31_500]
RATES = {
    "remained_in_school": [0.98, 0.98, 0.99, 0.99, 0.99, 0.98, 0.99, 0.99, 0.99, 0.99],
    "promoted": [0.96, 0.96, 0.97, 0.97, 0.97, 0.96, 0.97, 0.97, 0.98, 0.98],
    "graduated": [0.92, 0.93, 0.94, 0.95, 0.96, 0.94, 0.95, 0.95, 0.96, 0.96],
    "attendance_goal": [0.77, 0.78, 0.79, 0.80, 0.81, 0.74, 0.76, 0.78, 0.79, 0.80],
    "academic_goal": [0.85, 0.86, 0.86, 0.87, 0.88, 0.84, 0.85, 0.86, 0.87, 0.87],
    "behavior_goal": [0.82, 0.83, 0.84, 0.84, 0.85, 0.82, 0.83, 0.84, 0.85, 0.85],
}

# 25 states and DC hold schools every year; WV's one affiliate closes after 2020-21 and a new
# one opens in 2022-23, when CO joins: 26 + DC, then 25 + DC in 2021-22, then 27 + DC.
CORE_STATES = {
    "TX": 20, "NC": 18, "GA": 12, "FL": 8, "CA": 6, "PA": 6, "SC": 5, "WA": 6, "MI": 5, "VA": 5,
    "NY": 3, "NJ": 3, "IL": 2, "OH": 2, "KY": 2, "TN": 2, "AL": 2, "LA": 2, "IA": 2, "KS": 2,
    "NE": 1, "NV": 2, "AZ": 2, "OK": 2, "DE": 1, "DC": 1,
}  # fmt: skip
GAP_STATE, NEW_STATE = "WV", "CO"
LICENSED_PARTNER_STATES = ("TX", "GA", "NC")
STATE_OFFICE_STATES = ("TX", "NC", "GA", "FL", "CA", "PA", "SC", "WA", "MI", "VA")
LOS_ANGELES = "CA-LOS-ANGELES"

LEVEL_SHARES = {
    "elementary": 0.45,
    "middle": 0.2,
    "high": 0.22,
    "multi_level": 0.05,
    "alternative": 0.04,
    "community_site": 0.04,
}
LEVEL_SIZE = {
    "elementary": 450,
    "middle": 600,
    "high": 700,
    "multi_level": 400,
    "alternative": 120,
    "community_site": 30,
}
SENIOR_SHARE = {
    "elementary": 0.0,
    "middle": 0.0,
    "high": 0.25,
    "multi_level": 0.08,
    "alternative": 0.3,
    "community_site": 0.1,
}
GOAL_SHARE = {"attendance_goal": (0.3, 0.6), "academic_goal": (0.4, 0.8), "behavior_goal": (0.2, 0.5)}
TIER1_SUPPORTS = ("enrichment", "family_engagement", "college_career_prep", "basic_needs")
PARTNER_CATEGORY_SHARES = {
    "business": 0.3, "nonprofit": 0.25, "faith_based": 0.12, "government": 0.08,
    "higher_education": 0.07, "healthcare": 0.08, "philanthropy": 0.05, "civic": 0.05,
}  # fmt: skip
REVENUE_SHARES = {
    "government": 0.35,
    "foundation": 0.2,
    "corporate": 0.12,
    "individual": 0.13,
    "events": 0.08,
    "in_kind": 0.12,
}
COST_PER_STUDENT = 140.0
NEAR_KM = 40.0  # an affiliate's schools outside its own city lie within this of it (a county or two)

NAME_WORDS = [
    "Lincoln",
    "Washington",
    "Jefferson",
    "Roosevelt",
    "Kennedy",
    "King",
    "Carver",
    "Douglass",
    "Tubman",
    "Chavez",
    "Parks",
    "Franklin",
    "Madison",
    "Jackson",
    "Garfield",
    "Grant",
    "Hamilton",
    "Monroe",
    "Adams",
    "Wilson",
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Willow",
    "Magnolia",
    "Riverside",
    "Lakeview",
    "Hillcrest",
    "Westwood",
    "Eastside",
    "Northside",
    "Southside",
    "Central",
    "Valley",
    "Park",
    "Meadow",
    "Sunset",
    "Highland",
    "Fairview",
    "Brookside",
    "Greenfield",
    "Oakwood",
    "Pinecrest",
    "Heritage",
    "Pioneer",
    "Liberty",
    "Union",
    "Mesa",
    "Prairie",
    "Harbor",
    "Bayview",
    "Summit",
    "Crossroads",
    "Horizon",
    "Discovery",
]
LEVEL_SUFFIX = {
    "elementary": "Elementary School", "middle": "Middle School", "high": "High School",
    "multi_level": "Academy", "alternative": "Alternative Learning Center", "community_site": "Community Center",
}  # fmt: skip
PARTNER_SUFFIX = {
    "business": ("Bank", "Grocers", "Auto Group", "Credit Union", "Builders", "Insurance"),
    "nonprofit": ("Boys & Girls Club", "YMCA", "Food Bank", "Youth Alliance", "Literacy Council"),
    "faith_based": ("Community Church", "Baptist Church", "Methodist Church", "Interfaith Council"),
    "government": ("Parks Department", "Public Library", "Health Department", "Police Athletic League"),
    "higher_education": ("Community College", "State University", "Technical College"),
    "healthcare": ("Medical Center", "Family Clinic", "Dental Partners", "Behavioral Health"),
    "philanthropy": ("Community Foundation", "Family Foundation", "United Way"),
    "civic": ("Rotary Club", "Kiwanis Club", "Lions Club", "Junior League"),
}


@dataclass(frozen=True)
class Network:
    """The eight contract tables of one generated network."""

    affiliates: pd.DataFrame
    schools: pd.DataFrame
    partners: pd.DataFrame
    school_years: pd.DataFrame
    outcomes: pd.DataFrame
    supports: pd.DataFrame
    partnerships: pd.DataFrame
    finances: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in contract.TABLES}


def allocate(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split an integer total over weights by largest remainder, each share at least `minimum`."""
    weights = np.asarray(weights, dtype=float)
    base = np.full(len(weights), minimum, dtype=np.int64)
    rest = total - base.sum()
    if rest < 0:
        raise ValueError(f"cannot give {len(weights)} shares a minimum of {minimum} out of {total}")
    if rest == 0 or weights.sum() == 0:
        return base
    exact = weights / weights.sum() * rest
    floor = np.floor(exact).astype(np.int64)
    short = int(rest - floor.sum())
    order = np.argsort(-(exact - floor), kind="stable")
    floor[order[:short]] += 1
    return base + floor


def _pick_cities(state: str, count: int, rng: np.random.Generator) -> list[tuple[str, float, float]]:
    cities = [(c, lat, lon) for c, st, lat, lon, _ in geo.us_cities() if st == state]
    if count <= len(cities):
        return cities[:count]
    return cities + [cities[i] for i in rng.integers(0, len(cities), count - len(cities))]


def _affiliates(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """The affiliates and, per affiliate, the first and last year index it holds schools."""
    rows: list[dict] = []
    spans: list[tuple[int, int]] = []

    def add(state: str, kind: str, city: str, lat: float, lon: float, span: tuple[int, int], aid: str | None = None):
        aid = aid or f"{state}-{city.upper().replace(' ', '-').replace('.', '')}"[:36]
        suffix = 2
        base = aid
        while any(r["affiliate_id"] == aid for r in rows):
            aid, suffix = f"{base}-{suffix}", suffix + 1
        label = {"affiliate": "Communities In Schools of", "licensed_partner": "Student Success Partners of",
                 "state_office": "Communities In Schools State Office,"}[kind]  # fmt: skip
        name = f"{label} {city}" if kind != "state_office" else f"{label} {geo.state_name(state)}"
        rows.append({"affiliate_id": aid, "name": name, "kind": kind, "state": state, "city": city,
                     "latitude": round(lat, 5), "longitude": round(lon, 5)})  # fmt: skip
        spans.append(span)

    everyone = (0, N_YEARS - 1)
    for state, count in CORE_STATES.items():
        cities = _pick_cities(state, count + 1, rng)
        if state == "CA":  # the first CA affiliate is Los Angeles (seed 003)
            la = next(c for c in geo.us_cities() if c[0] == "Los Angeles" and c[1] == "CA")
            cities = [(la[0], la[2], la[3])] + [c for c in cities if c[0] != "Los Angeles"]
        for i in range(count):
            city, lat, lon = cities[i]
            add(state, "affiliate", city, lat, lon, everyone, LOS_ANGELES if (state == "CA" and i == 0) else None)
    (g1, g2), (n1,) = _pick_cities(GAP_STATE, 2, rng), _pick_cities(NEW_STATE, 1, rng)
    add(GAP_STATE, "affiliate", g1[0], g1[1], g1[2], (0, 5))
    add(GAP_STATE, "affiliate", g2[0], g2[1], g2[2], (7, N_YEARS - 1))
    add(NEW_STATE, "affiliate", n1[0], n1[1], n1[2], (7, N_YEARS - 1))

    # Exits and entries among core affiliates so that organisations per year match ORGANISATIONS.
    lps = len(LICENSED_PARTNER_STATES)
    n_core = sum(CORE_STATES.values())
    special_active = np.array([sum(s <= y <= e for s, e in spans[n_core:]) for y in range(N_YEARS)])
    core_target = np.array(ORGANISATIONS) - lps - special_active
    closable = [
        i for i, r in enumerate(rows[:n_core]) if CORE_STATES[r["state"]] >= 3 and r["affiliate_id"] != LOS_ANGELES
    ]
    rng.shuffle(closable)
    if core_target[0] != n_core:
        raise AssertionError(f"CORE_STATES holds {n_core} affiliates; {core_target[0]} are needed in {YEARS[0]}")
    core_active = n_core
    core_spans = [list(s) for s in spans[:n_core]]
    new_rows: list[int] = []
    for y in range(1, N_YEARS):
        change = int(core_target[y] - core_active)
        if change < 0:
            for _ in range(-change):
                core_spans[closable.pop()][1] = y - 1
        for _ in range(max(change, 0)):
            state = list(CORE_STATES)[int(rng.integers(0, 10))]
            city, lat, lon = _pick_cities(state, CORE_STATES[state] + 3 + len(new_rows), rng)[-1]
            add(state, "affiliate", city, lat, lon, (y, N_YEARS - 1))
            new_rows.append(len(rows) - 1)
        core_active = int(core_target[y])
    spans[:n_core] = [tuple(s) for s in core_spans]
    for state in LICENSED_PARTNER_STATES:
        city, lat, lon = _pick_cities(state, CORE_STATES[state] + 6, rng)[-1]
        add(state, "licensed_partner", city, lat, lon, everyone)
    for state in STATE_OFFICE_STATES:
        city, lat, lon = _pick_cities(state, 1, rng)[0]
        add(state, "state_office", city, lat, lon, (1, 0))  # holds no schools
    return pd.DataFrame(rows), np.array(spans)


def _school_counts(spans: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Schools per affiliate per year (affiliates x years), summing to SCHOOLS x scale."""
    n_aff = len(spans)
    weight = rng.lognormal(0.0, 0.8, n_aff)
    growth = rng.normal(1.03, 0.04, n_aff)
    counts = np.zeros((n_aff, N_YEARS), dtype=np.int64)
    for y in range(N_YEARS):
        active = (spans[:, 0] <= y) & (y <= spans[:, 1])
        counts[active, y] = allocate(round(SCHOOLS[y] * scale), weight[active] * growth[active] ** y, minimum=1)
    return counts


def _calibrated_met(eligible: np.ndarray, logit_base: np.ndarray, target: float) -> np.ndarray:
    """met = round(eligible x p) with p = sigmoid(base + shift), the shift found so sum(met)/sum(eligible) = target."""
    lo, hi = -10.0, 10.0
    for _ in range(40):
        shift = (lo + hi) / 2
        met = np.rint(eligible / (1 + np.exp(-(logit_base + shift))))
        if met.sum() / eligible.sum() < target:
            lo = shift
        else:
            hi = shift
    return np.minimum(np.rint(eligible / (1 + np.exp(-(logit_base + hi)))), eligible).astype(np.int64)


def _school_places(rng: np.random.Generator, states: np.ndarray, homes: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """(city, latitude, longitude) per school: its affiliate's home city (`homes`: city, latitude, longitude per
    school), or for about 4 in 10 another city of the state within NEAR_KM of it, picked by the square root of
    population, as a real affiliate's schools are."""
    city = homes["city"].to_numpy(dtype=object).copy()
    lat = homes["latitude"].to_numpy(dtype=float).copy()
    lon = homes["longitude"].to_numpy(dtype=float).copy()
    by_state: dict[str, list[tuple[str, float, float, int]]] = {}
    for c, st, la, lo, pop in geo.us_cities():
        by_state.setdefault(st, []).append((c, la, lo, pop))
    neighbours: dict[tuple[str, str], tuple[list, np.ndarray]] = {}
    for st in np.unique(states):
        where = np.flatnonzero(states == st)
        # Two draws per school, in the order the generator has always made them, so every other column of the
        # network (and the published figures it reproduces) stays as it was.
        pick = rng.random(len(where))
        own = rng.random(len(where)) < 0.6
        for j, i in enumerate(where):
            key = (st, city[i])
            if key not in neighbours:
                near = [c for c in by_state[st] if c[0] != city[i] and _km(lat[i], lon[i], c[1], c[2]) <= NEAR_KM]
                weight = np.cumsum(np.sqrt([c[3] for c in near], dtype=float))
                neighbours[key] = (near, weight / weight[-1] if len(near) else weight)
            near, cumulative = neighbours[key]
            if not own[j] and near:
                c = near[min(int(np.searchsorted(cumulative, pick[j], side="right")), len(near) - 1)]
                city[i], lat[i], lon[i] = c[0], c[1], c[2]
    return city, lat, lon


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2, dl = np.radians(lat1), np.radians(lat2), np.radians(lon2 - lon1)
    cos = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dl)
    return float(6371.0 * np.arccos(np.clip(cos, -1.0, 1.0)))


def generate(scale: float = 1.0, seed: int = 2024) -> Network:
    """The whole network at the given scale (1 = the published national figures)."""
    rng = np.random.default_rng(seed)
    affiliates, spans = _affiliates(rng)
    counts = _school_counts(spans, scale, rng)
    n_aff = len(affiliates)
    has_schools = counts.max(axis=1)

    # Schools: affiliate a's k-th school is open in year y when k < counts[a, y].
    aff_idx = np.repeat(np.arange(n_aff), has_schools)
    k_idx = np.concatenate([np.arange(n) for n in has_schools])
    n_sch = len(aff_idx)
    levels = np.array(list(LEVEL_SHARES))
    level = levels[rng.choice(len(levels), n_sch, p=list(LEVEL_SHARES.values()))]
    sch_state = affiliates["state"].to_numpy()[aff_idx]
    homes = affiliates[["city", "latitude", "longitude"]].iloc[aff_idx]
    city_name, lat, lon = _school_places(rng, sch_state, homes)
    lat = np.round(lat + rng.uniform(-0.03, 0.03, n_sch), 5)
    lon = np.round(lon + rng.uniform(-0.03, 0.03, n_sch), 5)
    fips = np.array([geo.STATES[s][1] for s in sch_state])
    school_id = np.char.add(
        np.char.add(fips.astype(str), np.char.zfill(aff_idx.astype(str), 4)), np.char.zfill(k_idx.astype(str), 6)
    )
    words = np.array(NAME_WORDS)[rng.integers(0, len(NAME_WORDS), n_sch)]
    suffix = np.array([LEVEL_SUFFIX[lv] for lv in level])
    names = [
        f"{w} {s}" if k % 3 else f"{c} {w} {s}" for w, s, c, k in zip(words, suffix, city_name, k_idx, strict=True)
    ]
    schools = pd.DataFrame(
        {
            "school_id": school_id,
            "name": names,
            "affiliate_id": affiliates["affiliate_id"].to_numpy()[aff_idx],
            "state": sch_state,
            "city": city_name,
            "latitude": lat,
            "longitude": lon,
            "level": level,
            "title_i": rng.random(n_sch) < 0.8,
            "locale": np.array(contract.LOCALES)[rng.choice(4, n_sch, p=[0.4, 0.25, 0.15, 0.2])],
        }
    )

    # School years.
    open_mask = k_idx[:, None] < counts[aff_idx]  # schools x years
    s_idx, y_idx = np.nonzero(open_mask)
    size = np.array([LEVEL_SIZE[lv] for lv in level]) * rng.lognormal(0, 0.5, n_sch)
    raw = size[s_idx] * rng.lognormal(0, 0.1, len(s_idx))
    served = np.zeros(len(s_idx), dtype=np.int64)
    tier3 = np.zeros_like(served)
    staff_units = np.zeros_like(served)
    volunteers = np.zeros_like(served)
    t3_share = rng.uniform(0.06, 0.12, len(s_idx))
    for y in range(N_YEARS):
        m = y_idx == y
        served[m] = allocate(round(STUDENTS_SERVED[y] * scale), raw[m], minimum=5)
        tier3[m] = allocate(round(CASE_MANAGED[y] * scale), served[m] * t3_share[m])
        staff_units[m] = allocate(round(STAFF[y] * scale * 2), served[m], minimum=1)
        volunteers[m] = allocate(round(VOLUNTEERS[y] * scale), served[m] * rng.lognormal(0, 0.5, m.sum()))
    tier3 = np.minimum(tier3, served)
    tier2 = np.minimum(np.rint(served * rng.uniform(0.1, 0.2, len(s_idx))).astype(np.int64), served - tier3)
    enrollment = np.ceil(served / rng.uniform(0.35, 0.95, len(s_idx))).astype(np.int64)
    school_years = pd.DataFrame(
        {
            "school_id": school_id[s_idx],
            "school_year": np.array(YEARS)[y_idx],
            "enrollment": enrollment,
            "students_served": served,
            "tier1_students": served - tier2 - tier3,
            "tier2_students": tier2,
            "tier3_students": tier3,
            "site_coordinators": staff_units / 2,
            "volunteers": volunteers,
            "volunteer_hours": np.rint(volunteers * rng.uniform(8, 20, len(s_idx))),
        }
    )

    outcomes = _outcomes(rng, school_years, s_idx, y_idx, level, aff_idx, affiliates)
    supports = _supports(rng, school_years, n_sch, s_idx)
    partners, partnerships = _partners(rng, affiliates, spans, counts, aff_idx, k_idx, school_id, scale)
    finances = _finances(rng, affiliates, school_years, aff_idx, s_idx, y_idx)
    return Network(affiliates, schools, partners, school_years, outcomes, supports, partnerships, finances)


def _outcomes(rng, school_years, s_idx, y_idx, level, aff_idx, affiliates) -> pd.DataFrame:
    n = len(s_idx)
    senior = np.array([SENIOR_SHARE[lv] for lv in level])[s_idx]
    school_effect = rng.normal(0, 0.4, len(level))[s_idx]
    is_la = (affiliates["affiliate_id"].to_numpy()[aff_idx] == LOS_ANGELES)[s_idx]
    parts = []
    for tier in contract.OUTCOME_TIERS:
        count = school_years[f"tier{tier}_students"].to_numpy()
        eligible_by_metric = {
            "remained_in_school": count,
            "promoted": count - np.rint(count * senior).astype(np.int64),
            "graduated": np.rint(count * senior).astype(np.int64),
        }
        for metric, (lo, hi) in GOAL_SHARE.items():
            share = rng.uniform(lo, hi, n) * (1.0 if tier == 3 else 0.6)
            eligible_by_metric[metric] = np.rint(count * share).astype(np.int64)
        for metric, eligible in eligible_by_metric.items():
            parts.append(
                pd.DataFrame(
                    {
                        "row": np.arange(n),
                        "school_id": school_years["school_id"].to_numpy(),
                        "school_year": school_years["school_year"].to_numpy(),
                        "tier": tier,
                        "metric": metric,
                        "eligible": eligible,
                        "effect": school_effect
                        + (-0.3 if tier == 3 else 0.0)
                        + rng.normal(0, 0.2, n)
                        + np.where(is_la & (metric == "graduated"), 6.0, 0.0),
                    }
                )
            )
    out = pd.concat(parts, ignore_index=True)
    out = out[out["eligible"] > 0].reset_index(drop=True)
    out["met"] = 0
    year_of = out["school_year"].map({y: i for i, y in enumerate(YEARS)}).to_numpy()
    for metric, targets in RATES.items():
        for y, target in enumerate(targets):
            m = ((out["metric"] == metric) & (year_of == y)).to_numpy()
            base = np.log(target / (1 - target)) + out.loc[m, "effect"].to_numpy()
            out.loc[m, "met"] = _calibrated_met(out.loc[m, "eligible"].to_numpy(), base, target)
    return out[["school_id", "school_year", "tier", "metric", "eligible", "met"]]


def _supports(rng, school_years, n_sch, s_idx) -> pd.DataFrame:
    cats = np.array(contract.SUPPORT_CATEGORIES)
    offered = rng.random((n_sch, len(cats))) < 0.7
    tier1_cats = np.isin(cats, TIER1_SUPPORTS)
    parts = []
    for tier in (1, 2, 3):
        count = school_years[f"tier{tier}_students"].to_numpy()
        mask = offered[s_idx] & (tier1_cats if tier == 1 else True)
        rows, cols = np.nonzero(mask)
        students = np.rint(count[rows] * rng.uniform(0.15, 0.7, len(rows))).astype(np.int64)
        parts.append(
            pd.DataFrame(
                {
                    "school_id": school_years["school_id"].to_numpy()[rows],
                    "school_year": school_years["school_year"].to_numpy()[rows],
                    "tier": tier,
                    "category": cats[cols],
                    "students": students,
                    "services": np.rint(students * rng.uniform(1, 6, len(rows))).astype(np.int64),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    return out[out["students"] > 0].reset_index(drop=True)


def _partners(rng, affiliates, spans, counts, aff_idx, k_idx, school_id, scale):
    """Partners with active spans so that partners with a partnership each year match PARTNERS x scale."""
    targets = [round(p * scale) for p in PARTNERS]
    starts: list[int] = [0] * targets[0]
    ends: list[int] = []
    active = list(range(targets[0]))
    rng.shuffle(active)
    for y in range(1, N_YEARS):
        exits = max(round(0.08 * targets[y - 1]), targets[y - 1] - targets[y])
        for i in active[:exits]:
            ends.append((i, y - 1))
        active = active[exits:]
        entries = targets[y] - len(active)
        new = list(range(len(starts), len(starts) + entries))
        starts.extend([y] * entries)
        active = active + new
        rng.shuffle(active)
    end = np.full(len(starts), N_YEARS - 1)
    for i, e in ends:
        end[i] = e
    start = np.array(starts)
    n_p = len(start)

    # Home affiliate: one that holds schools through the partner's whole span, by size.
    size = counts.sum(axis=1).astype(float)
    home = np.empty(n_p, dtype=np.int64)
    for s, e in {(int(a), int(b)) for a, b in zip(start, end, strict=True)}:
        ok = (spans[:, 0] <= s) & (spans[:, 1] >= e) & (counts[:, s : e + 1].min(axis=1) > 0)
        idx = np.flatnonzero(ok)
        where = np.flatnonzero((start == s) & (end == e))
        home[where] = rng.choice(idx, len(where), p=size[idx] / size[idx].sum())
    cats = np.array(list(PARTNER_CATEGORY_SHARES))
    category = cats[rng.choice(len(cats), n_p, p=list(PARTNER_CATEGORY_SHARES.values()))]
    state = affiliates["state"].to_numpy()[home]
    by_state: dict[str, list] = {}
    for c, st, la, lo, _ in geo.us_cities():
        by_state.setdefault(st, []).append((c, la, lo))
    place = [by_state[s][int(rng.integers(0, min(15, len(by_state[s]))))] for s in state]
    words = np.array(NAME_WORDS)[rng.integers(0, len(NAME_WORDS), n_p)]
    names = [f"{p[0]} {PARTNER_SUFFIX[c][i % len(PARTNER_SUFFIX[c])]}" if i % 2 else f"{w} {PARTNER_SUFFIX[c][i % len(PARTNER_SUFFIX[c])]}"
             for i, (p, c, w) in enumerate(zip(place, category, words, strict=True))]  # fmt: skip
    partner_ids = np.char.add("P", np.char.zfill(np.arange(1, n_p + 1).astype(str), 6))
    partners = pd.DataFrame(
        {
            "partner_id": partner_ids,
            "name": names,
            "category": category,
            "state": state,
            "city": [p[0] for p in place],
            "latitude": np.round([p[1] + rng.uniform(-0.02, 0.02) for p in place], 5),
            "longitude": np.round([p[2] + rng.uniform(-0.02, 0.02) for p in place], 5),
        }
    )

    # One row per partner, school, year and support category it gave to.
    span_len = end - start + 1
    p_rep = np.repeat(np.arange(n_p), span_len)
    y_rep = np.concatenate([np.arange(s, e + 1) for s, e in zip(start, end, strict=True)])
    links = rng.choice([1, 2, 3], len(p_rep), p=[0.6, 0.3, 0.1])
    p_rep, y_rep = np.repeat(p_rep, links), np.repeat(y_rep, links)
    n_open = counts[home[p_rep], y_rep]
    k = np.floor(rng.random(len(p_rep)) * n_open).astype(np.int64)
    first_school = np.concatenate([[0], np.cumsum(counts.max(axis=1))[:-1]])
    sid = school_id[first_school[home[p_rep]] + k]
    support = np.array(contract.SUPPORT_CATEGORIES)[rng.integers(0, len(contract.SUPPORT_CATEGORIES), len(p_rep))]
    partnerships = pd.DataFrame(
        {
            "partner_id": partner_ids[p_rep],
            "school_id": sid,
            "school_year": np.array(YEARS)[y_rep],
            "category": support,
            "in_kind_usd": np.round(rng.lognormal(7.3, 1.0, len(p_rep)), -1),
            "volunteer_hours": np.rint(rng.lognormal(3.0, 1.0, len(p_rep))),
        }
    ).drop_duplicates(["partner_id", "school_id", "school_year", "category"], ignore_index=True)
    return partners, partnerships


def _finances(rng, affiliates, school_years, aff_idx, s_idx, y_idx) -> pd.DataFrame:
    served = pd.DataFrame({"a": aff_idx[s_idx], "y": y_idx, "served": school_years["students_served"].to_numpy()})
    by_aff = served.groupby(["a", "y"], as_index=False)["served"].sum()
    n = len(by_aff)
    program = by_aff["served"].to_numpy() * COST_PER_STUDENT * rng.lognormal(0, 0.25, n)
    expense = {"program": program, "management": program * rng.uniform(0.08, 0.16, n),
               "fundraising": program * rng.uniform(0.05, 0.1, n)}  # fmt: skip
    total = sum(expense.values()) * rng.uniform(0.97, 1.06, n)
    mix = rng.dirichlet(np.array(list(REVENUE_SHARES.values())) * 40, n)
    ids = affiliates["affiliate_id"].to_numpy()[by_aff["a"].to_numpy()]
    years = np.array(YEARS)[by_aff["y"].to_numpy()]
    parts = [pd.DataFrame({"affiliate_id": ids, "school_year": years, "line": "expense", "category": c,
                           "amount_usd": np.round(v, -2)}) for c, v in expense.items()]  # fmt: skip
    parts += [pd.DataFrame({"affiliate_id": ids, "school_year": years, "line": "revenue", "category": c,
                            "amount_usd": np.round(total * mix[:, j], -2)}) for j, c in enumerate(REVENUE_SHARES)]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def write_csv(network: Network, out: Path) -> dict[str, Path]:
    """Write each contract table as `<table>.csv` in the folder; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in network.tables().items():
        path = out / f"{name}.csv"
        frame.to_csv(path, index=False, lineterminator="\n")
        paths[name] = path
    return paths


def insert_network(conn: sa.Connection, network: Network, load_id: int | None,
                   progress: Callable[[float, str], None] | None = None) -> int:  # fmt: skip
    """Bulk-insert every table of the network on an open transaction; returns rows written."""
    tables = network.tables()
    total = sum(len(f) for f in tables.values())
    done = 0
    chunk = 50_000
    for name, frame in tables.items():
        table = dbm.metadata.tables[name]
        frame = frame.assign(load_id=load_id)
        if "latitude" in frame:
            frame = frame.assign(approximate_location=False)
        records = frame.to_dict("records")
        for start in range(0, len(records), chunk):
            conn.execute(table.insert(), records[start : start + chunk])
            done += len(records[start : start + chunk])
            if progress:
                progress(done / total, f"Writing {name}: {done:,} of {total:,} rows")
    if progress:
        progress(1.0, "Summing the rollups")
    rollup.refresh(conn)
    return total


def build_database(engine: sa.Engine, scale: float = 1.0, seed: int = 2024,
                   progress: Callable[[float, str], None] | None = None) -> None:  # fmt: skip
    """Generate the demo network and write it to an empty, upgraded database, in one transaction."""
    if progress:
        progress(0.0, "Generating the demo network")
    network = generate(scale=scale, seed=seed)
    with engine.begin() as conn:
        files = json.dumps([{"name": f"demo:{name}", "sha256": ""} for name in contract.TABLES])
        load_id = conn.execute(
            dbm.loads.insert().values(
                loaded_by="demo",
                loaded_at=dt.datetime.now(dt.UTC),
                files=files,
                status="loaded",
                summary=f"synthetic demo network, scale {scale:g}, seed {seed}",
            )
        ).inserted_primary_key[0]
        rows = insert_network(conn, network, load_id, progress)
        conn.execute(dbm.loads.update().where(dbm.loads.c.load_id == load_id).values(rows_added=rows))
        conn.execute(dbm.meta.insert().values(key="demo", value="true"))
    if progress:
        progress(1.0, "Demo database ready")
