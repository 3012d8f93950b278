"""The published cells and their one suppression pattern, decided jointly over every view the pages offer.

A *cell* is one figure a page can show: for a school year and a measure (an outcome metric, or the student counts
of `school_years`), a unit (the nation, a state, an affiliate or a school), a slice of its schools (all of them, one
school level, one locale, Title I or not, or at the nation one peer group: level x locale x Title I) and a tier (2,
3 or both for outcomes; 1, 2, 3 or all served for students). `cells` builds every one of them from the fact rows;
`decide` marks each

- ``shown``: published exactly;
- ``coded``: a rate published as a range (">=95%") because an exact one near 0 or 100% would say what every student
  did; the range always holds at least three possible counts;
- ``small``: fewer than `threshold` students (primary suppression), labelled "<10";
- ``hidden``: hidden only so that no sum of published cells gives a small one back (complementary suppression),
  labelled "hidden", since it is not fewer than 10.

The decision is made over the whole set at once, over every additive relation among the cells (the tiers sum to
both, schools to their affiliate, affiliates to their state, states to the nation, a unit's slices to the unit and
peer groups to the nation's slices), and stored with the cells (`published_cells`) in the transaction of the load
that changed them. Pages read the stored decision; `dashboard.privacy_audit` proves it with linear programs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

UNITS = ("nation", "state", "affiliate", "school")
ATTRIBUTES = ("level", "locale", "title_i")
STUDENTS = "students"  # the measure of school_years' student counts: tier 0 = served, tiers 1-3 their parts
ENROLLMENT = "enrollment"
SHOWN, CODED, SMALL, HIDDEN = "shown", "coded", "small", "hidden"

# A rate near 0 or 100% on n students is published as a range whose cut moves towards the edge as n grows, so the
# range never pins a count: at every n it holds at least three possible counts (10 -> 8-10, 20 -> 18-20,
# 40 -> 38-40, 100 -> 98-100). Bands: (smallest n, the cut as a share); from 40 on they are the Utah district
# procedure's (../shared/REFERENCE.md, section 3), below 40 coarser so that a range is never one count.
# Rates on CODE_BELOW students or more are exact (national and state figures as published).
CODING_BANDS = ((100, 0.98), (40, 0.95), (20, 0.90), (10, 0.80))
CODE_BELOW = 300

COLUMNS = ["school_year", "measure", "unit", "unit_id", "state", "affiliate_id", "slice", "tier", "size", "met"]


def coding_cut(n: int) -> float:
    """The share at or above which a rate on n students is top coded (and 1 - it, bottom coded)."""
    return next((cut for smallest, cut in CODING_BANDS if n >= smallest), 1.0)


def coded_range(n: int, met: int, below: int = CODE_BELOW) -> tuple[int, int] | None:
    """(lowest, highest) count of students a coded rate on n students stands for, or None when it is not coded
    (n of `below` or more, or a rate away from both edges). Under 10 students (a threshold set below the default)
    no range of whole percents holds three counts, so nothing is coded there."""
    if n < CODING_BANDS[-1][0] or n >= below:
        return None
    cut = coding_cut(n)
    top, bottom = math.ceil(cut * n - 1e-9), math.floor((1 - cut) * n + 1e-9)
    if met >= top:
        return top, n
    if met <= bottom:
        return 0, bottom
    return None


def coded_label(n: int, met: int) -> str:
    """'>=95%' or '<=5%' for a coded rate: the cut its range starts at."""
    cut = coding_cut(n)
    return f">={round(cut * 100)}%" if met / n >= 0.5 else f"<={round((1 - cut) * 100)}%"


def slice_name(attribute: str, value: object) -> str:
    """The slice key of one school attribute value, e.g. 'level:high', 'title_i:true'."""
    if attribute == "title_i":
        value = "true" if bool(value) else "false"
    return f"{attribute}:{value}"


def peer_name(level: str, locale: str, title_i: object) -> str:
    """The slice key of a peer group (the nation's schools of one level, locale and Title I status)."""
    return f"peer:{level}/{locale}/{'true' if bool(title_i) else 'false'}"


@dataclass(frozen=True)
class Leaves:
    """The finest published figures, school x tier, with the school's place and attributes.

    Columns: school_year, measure, school_id, tier, size (eligible students, or a count), met (0 for counts),
    state, affiliate_id, level, locale, title_i. Every cell is a sum of leaves.
    """

    frame: pd.DataFrame


def leaves(outcomes: pd.DataFrame, school_years: pd.DataFrame, schools: pd.DataFrame) -> Leaves:
    """Leaves from fact rows (outcomes, school_years) and the schools table."""
    rates = outcomes.rename(columns={"metric": "measure", "eligible": "size"})[
        ["school_year", "measure", "school_id", "tier", "size", "met"]
    ]
    tiers = {"tier1_students": 1, "tier2_students": 2, "tier3_students": 3}
    counts = school_years.melt(
        id_vars=["school_id", "school_year"], value_vars=list(tiers), var_name="tier", value_name="size"
    )
    counts["tier"] = counts["tier"].map(tiers)
    counts["measure"] = STUDENTS
    enrolled = school_years[["school_id", "school_year", "enrollment"]].rename(columns={"enrollment": "size"})
    enrolled = enrolled.assign(measure=ENROLLMENT, tier=0)
    frame = pd.concat([rates, counts.assign(met=0), enrolled.assign(met=0)], ignore_index=True)
    attrs = schools[["school_id", "state", "affiliate_id", "level", "locale", "title_i"]]
    frame = frame.merge(attrs, on="school_id", how="inner")
    frame["tier"] = frame["tier"].astype("int64")
    frame["size"] = frame["size"].astype("int64")
    frame["met"] = frame["met"].astype("int64")
    frame["title_i"] = frame["title_i"].astype(bool)
    return Leaves(frame)


def _with_total_tier(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The frame plus tier 0, the sum of the tiers, wherever a measure has more than one tier."""
    multi = frame[frame["measure"] != ENROLLMENT]
    total = multi.groupby(keys, as_index=False, sort=False)[["size", "met"]].sum().assign(tier=0)
    return pd.concat([frame, total], ignore_index=True)


def cells(leaf: Leaves) -> pd.DataFrame:
    """Every published cell (columns COLUMNS), built from the leaves; the leaves themselves are the school cells."""
    f = leaf.frame
    base = ["school_year", "measure", "tier"]
    parts = []
    school = f[[*base, "school_id", "state", "affiliate_id", "size", "met"]].rename(columns={"school_id": "unit_id"})
    school = _with_total_tier(school, ["school_year", "measure", "unit_id", "state", "affiliate_id"])
    parts.append(school.assign(unit="school", slice=""))
    f = f.assign(nation="")
    for unit, id_column, place in (
        ("affiliate", "affiliate_id", ["state", "affiliate_id"]),
        ("state", "state", ["state"]),
        ("nation", "nation", []),
    ):
        keys = list(dict.fromkeys([id_column, *place]))
        # An affiliate's slices are published too: a page could sum its schools of a slice anyway, so the sum must
        # be protected like any cell.
        slices = [("", None)] + [(a, a) for a in ATTRIBUTES]
        for name, attribute in slices:
            group = [*base, *keys, *([attribute] if attribute else [])]
            summed = f.groupby(group, as_index=False, sort=False)[["size", "met"]].sum()
            summed = _with_total_tier(summed, [c for c in group if c != "tier"])
            if attribute:
                summed["slice"] = [slice_name(attribute, v) for v in summed[attribute]]
            else:
                summed["slice"] = name
            summed["unit_id"] = summed[id_column]
            for column in ("state", "affiliate_id"):
                if column not in summed:
                    summed[column] = ""
            parts.append(summed.assign(unit=unit))
    peers = f.groupby([*base, *ATTRIBUTES], as_index=False, sort=False)[["size", "met"]].sum()
    peers = _with_total_tier(peers, ["school_year", "measure", *ATTRIBUTES])
    peers["slice"] = [peer_name(*v) for v in zip(peers["level"], peers["locale"], peers["title_i"], strict=True)]
    parts.append(peers.assign(unit="nation", unit_id="", state="", affiliate_id=""))
    out = pd.concat([p[COLUMNS] for p in parts], ignore_index=True)
    # The student tiers' sum is served; enrollment has one tier (0) of its own.
    return out.sort_values(["school_year", "measure", "unit", "unit_id", "slice", "tier"], ignore_index=True)


def is_rate(measure: pd.Series) -> np.ndarray:
    """Whether each measure is an outcome rate (eligible and met) rather than a count."""
    return ~measure.isin([STUDENTS, ENROLLMENT]).to_numpy()


KEYS = ["school_year", "measure", "unit", "unit_id", "slice", "tier"]


def relations(table: pd.DataFrame, schools: pd.DataFrame) -> pd.DataFrame:
    """Every additive relation among the cells, as long rows (relation, cell, parent): in each relation the parent
    cell equals the sum of the others. `table` is `cells`' output (row positions are the cell numbers); `schools`
    gives each school's level, locale and Title I status."""
    t = table.reset_index(drop=True)[[*KEYS, "state", "affiliate_id"]].assign(cell=np.arange(len(table)))
    links: list[pd.DataFrame] = []

    def link(children: pd.DataFrame, family: str, **parent: object) -> None:
        """Children under the parent whose key is theirs with `parent`'s columns replaced; one decomposition."""
        parent_keys = children[KEYS].assign(**parent)
        links.append(parent_keys.assign(family=family, child=children["cell"].to_numpy()))

    tiered = t[t["tier"] != 0]
    link(tiered, "tier", tier=0)
    attrs = schools[["school_id", *ATTRIBUTES]]
    school = t[t["unit"] == "school"].merge(attrs, left_on="unit_id", right_on="school_id", how="left")
    link(school, "place", unit="affiliate", unit_id=school["affiliate_id"].to_numpy())
    for attribute in ATTRIBUTES:
        names = [slice_name(attribute, v) for v in school[attribute]]
        link(school, "place", unit="affiliate", unit_id=school["affiliate_id"].to_numpy(), slice=names)
    # A peer group is the sum of its schools across the nation; no other published cell crosses all three
    # attributes, so without this relation a peer group and every other school of it give the last school back.
    peers = [peer_name(*v) for v in zip(school["level"], school["locale"], school["title_i"], strict=True)]
    link(school, "peer:schools", unit="nation", unit_id="", slice=peers)
    own = ~t["slice"].str.startswith("peer:")
    affiliate = t[(t["unit"] == "affiliate") & own]
    link(affiliate, "place", unit="state", unit_id=affiliate["state"].to_numpy())
    state = t[(t["unit"] == "state") & own]
    link(state, "place", unit="nation", unit_id="")
    sliced = t[(t["unit"] != "school") & (t["slice"] != "") & own]
    link(sliced, sliced["slice"].str.partition(":")[0].to_numpy(), slice="")
    peer = t[t["unit"].eq("nation") & ~own]
    parts = peer["slice"].str.slice(5).str.split("/", expand=True)
    for attribute, values in zip(ATTRIBUTES, (parts[0], parts[1], parts[2]), strict=True):
        link(peer, f"peer:{attribute}", slice=(attribute + ":" + values).to_numpy())
    link(peer, "peer", slice="")

    linked = pd.concat(links, ignore_index=True)
    index = pd.MultiIndex.from_frame(t[KEYS])
    position = pd.Series(t["cell"].to_numpy(), index=index)
    parent_cell = position.reindex(pd.MultiIndex.from_frame(linked[KEYS])).to_numpy()
    linked = linked.assign(parent_cell=parent_cell).dropna(subset=["parent_cell"])
    linked["relation"] = pd.factorize(pd.MultiIndex.from_frame(linked[[*KEYS, "family"]]))[0]
    children = pd.DataFrame({"relation": linked["relation"], "cell": linked["child"], "parent": False})
    parents = linked.drop_duplicates("relation")
    parents = pd.DataFrame({"relation": parents["relation"], "cell": parents["parent_cell"], "parent": True})
    out = pd.concat([parents, children], ignore_index=True).astype({"relation": "int64", "cell": "int64"})
    # A decomposition into one part says parent == child: both are then the same figure, hidden or shown together.
    return out.drop_duplicates(["relation", "cell"], ignore_index=True)


@dataclass(frozen=True)
class _Coding:
    """What a coded rate tells an attacker: cells that are coded when shown, and the range of met counts each stands
    for (lowest, highest; 0 where not codable)."""

    met: np.ndarray
    codable: np.ndarray
    top: np.ndarray
    low: np.ndarray
    high: np.ndarray
    national: np.ndarray  # the nation's own figures (no slice): published, never hidden to free coded cells


def _coding(table: pd.DataFrame) -> _Coding:
    size = table["size"].to_numpy(dtype=np.int64)
    met = table["met"].to_numpy(dtype=np.int64)
    rate = is_rate(table["measure"])
    low, high = np.zeros(len(table), dtype=np.int64), np.zeros(len(table), dtype=np.int64)
    codable = np.zeros(len(table), dtype=bool)
    for i in np.flatnonzero(rate & (size >= CODING_BANDS[-1][0]) & (size < CODE_BELOW)):
        coded = coded_range(int(size[i]), int(met[i]))
        if coded is not None:
            codable[i], (low[i], high[i]) = True, coded
    national = (table["unit"].to_numpy() == "nation") & (table["slice"].to_numpy() == "")
    return _Coding(met, codable, codable & (2 * met >= size), low, high, national)


def _pinned(suppressed: np.ndarray, hidden_per_relation: np.ndarray, children: sp.csr_matrix, parent_of: np.ndarray,
            coding: _Coding) -> np.ndarray:  # fmt: skip
    """Relations whose coded children the rest of the relation proves to be all of them (or none): nothing hidden,
    the parent exact, and what the parent leaves after its exact children equal to the coded children's highest
    counts added up (or their lowest). Each is then pinned at its edge, which is what coding hides."""
    coded = coding.codable & ~suppressed
    exact = ~suppressed & ~coded
    rest = coding.met[parent_of] - children @ (coding.met * exact)
    high = children @ (coding.high * coded)
    low = children @ (coding.low * coded)
    tops = children @ (coded & coding.top).astype(np.float64)
    bottoms = children @ (coded & ~coding.top).astype(np.float64)
    return (
        (hidden_per_relation == 0)
        & exact[parent_of]
        & (((tops > 0) & (rest == high)) | ((bottoms > 0) & (rest == low)))
    )


def _close(
    suppressed: np.ndarray,
    members: pd.DataFrame,
    incidence: sp.csr_matrix,
    size: np.ndarray,
    pickable: np.ndarray,
    small: np.ndarray,
    coding: _Coding,
) -> np.ndarray:
    """Complementary suppression: while a relation has exactly one suppressed cell, or hides only small cells under
    a parent that is not small itself, or proves its coded cells all of them (or none), hide one more of it.

    Small cells alone do not protect each other: each is known to hold fewer than the threshold, so two of them
    under a published total of 18 are 9 and 9. A relation needs a hidden cell of the threshold or more (no upper
    bound an attacker knows) among its suppressed ones. Coded cells alone do not either: under a total of 400 of
    whom 400 remained, schools reading '>=98%' remained to the last student. There the cell hidden is one whose
    count is away from that edge (an exact school where some did not remain), or, when none is, the parent (never
    the nation's own figure, which is published as it is).
    """
    rel = members["relation"].to_numpy()
    is_parent = members["parent"].to_numpy()
    parents = members[is_parent]
    relation_count = incidence.shape[0]
    parent_of = np.zeros(relation_count, dtype=np.int64)
    parent_of[parents["relation"].to_numpy()] = parents["cell"].to_numpy()
    parent_small = small[parent_of]
    kids = members[~is_parent]
    children = sp.csr_matrix(
        (np.ones(len(kids)), (kids["relation"].to_numpy(), kids["cell"].to_numpy())), shape=incidence.shape
    )
    while True:
        hidden_per_relation = incidence @ suppressed.astype(np.float64)
        slack = incidence @ (suppressed & ~small).astype(np.float64)
        lonely = (hidden_per_relation == 1) | ((slack == 0) & (hidden_per_relation > 1) & ~parent_small)
        pinned = _pinned(suppressed, hidden_per_relation, children, parent_of, coding) & ~lonely
        todo = np.flatnonzero(lonely | pinned)
        if not len(todo):
            return suppressed
        candidates = members[np.isin(rel, todo)]
        cell = candidates["cell"].to_numpy()
        keep = ~suppressed[cell] & pickable[cell]
        # In a pinned relation only a cell with room to move frees the coded ones: an exact child away from their
        # edge, or the parent (hidden last, as the sort below puts parents after children).
        in_pinned = pinned[candidates["relation"].to_numpy()]
        coded = coding.codable[cell] & ~suppressed[cell]
        away = np.where(coding.met[cell] * 2 >= size[cell], coding.met[cell] < size[cell], coding.met[cell] > 0)
        keep &= ~in_pinned | (candidates["parent"].to_numpy() & ~coding.national[cell]) | (~coded & away)
        # The nation's own figures are published as they are: hidden only when nothing else of the relation can be.
        last = (coding.national[cell] | (in_pinned & candidates["parent"].to_numpy()))[keep]
        candidates = candidates[keep]
        if candidates.empty:
            return suppressed  # every other cell of those relations is a zero count or already hidden
        # Then fewest knock-ons: a cell whose other relations already hide nothing would leave each of them with
        # one hidden cell to protect in turn. Then children before the parent, then the smallest (least information).
        knock_on = incidence.T @ (hidden_per_relation == 0).astype(np.float64)
        picked = candidates["cell"].to_numpy()
        candidates = candidates.assign(last=last, knock_on=knock_on[picked], size=size[picked]).sort_values(
            ["relation", "last", "knock_on", "parent", "size", "cell"]
        )
        suppressed[candidates.drop_duplicates("relation")["cell"].to_numpy()] = True


def _statuses(small: np.ndarray, suppressed: np.ndarray, coding: _Coding) -> np.ndarray:
    """SHOWN, CODED, SMALL or HIDDEN per cell from the primary and the whole suppression masks."""
    status = np.full(len(small), SHOWN, dtype=object)
    status[coding.codable & ~suppressed] = CODED
    status[suppressed] = HIDDEN
    status[small] = SMALL
    return status


def decide(
    table: pd.DataFrame,
    schools: pd.DataFrame,
    threshold: int,
    audit_rounds: int = 0,
    audit: Callable[..., Any] | None = None,
) -> np.ndarray:
    """The status of every cell of `table` (SHOWN, CODED, SMALL or HIDDEN), decided jointly over all relations.

    Primary: a rate on fewer than `threshold` eligible students, or a count of 1 to threshold - 1 students, is
    SMALL. Complementary: while a relation has exactly one suppressed cell, a shown cell of it (never a zero count,
    which protects nothing) is HIDDEN too. Rates near 0 or 100% that stay published are CODED. Then, given an
    `audit` (dashboard.disclosure_audit.audit_system, passed in because the audit reads this module's cells and
    relations), it looks for small cells the published ones still narrow; for each, one more cell of its relations
    is hidden, and the pass repeats on the systems that changed, up to `audit_rounds` times.
    """

    table = table.reset_index(drop=True)
    size = table["size"].to_numpy(dtype=np.int64)
    rate = is_rate(table["measure"])
    small = np.where(rate, size < threshold, (size > 0) & (size < threshold))
    members = relations(table, schools)
    rel, cell = members["relation"].to_numpy(), members["cell"].to_numpy()
    incidence = sp.csr_matrix((np.ones(len(rel)), (rel, cell)), shape=(rel.max() + 1 if len(rel) else 0, len(table)))
    pickable = np.where(rate, size >= threshold, size > 0)
    coding = _coding(table)
    suppressed = _close(small.copy(), members, incidence, size, pickable, small, coding)
    if audit_rounds <= 0 or audit is None:
        return _statuses(small, suppressed, coding)
    system = table.groupby(["school_year", "measure"], sort=False).ngroup().to_numpy()
    relation_system = system[members.drop_duplicates("relation").set_index("relation")["cell"].sort_index()]
    attrs = schools[["school_id", *ATTRIBUTES]]
    position = pd.Series(np.arange(len(table)), index=pd.MultiIndex.from_frame(table[KEYS]))
    # Hiding one more cell only loosens what an attacker knows (an exact figure becomes "at least the threshold"),
    # so a cell the audit found protected stays protected: each round checks again only the cells still exposed.
    todo: dict[int, np.ndarray | None] = {int(s): None for s in np.unique(system)}
    for _ in range(audit_rounds):
        status = _statuses(small, suppressed, coding)
        exposed: list[int] = []
        for s, only in todo.items():
            cells_of = np.flatnonzero(system == s)
            local = members[np.isin(members["relation"].to_numpy(), np.flatnonzero(relation_system == s))]
            renumber = np.full(len(table), -1)
            renumber[cells_of] = np.arange(len(cells_of))
            local = local.assign(cell=renumber[local["cell"].to_numpy()])
            checked = None if only is None else renumber[only]
            found = audit(table.iloc[cells_of].assign(status=status[cells_of]), attrs, threshold, local,
                          checked).exposed  # fmt: skip
            exposed += [int(position[f.key]) for f in found]
        if not exposed:
            break
        before = suppressed.copy()
        knock_on = incidence.T @ ((incidence @ suppressed.astype(np.float64)) == 0).astype(np.float64)
        for c in exposed:
            if status[c] == CODED:
                suppressed[c] = True
                continue
            reach = np.array([c])
            for _hop in range(4):  # its own relations first; when all of them are spent, those of their cells
                mine = members[members["relation"].isin(members.loc[members["cell"].isin(reach), "relation"])]
                options = mine[~suppressed[mine["cell"].to_numpy()] & pickable[mine["cell"].to_numpy()]]
                if not options.empty:
                    break
                reach = mine["cell"].unique()
            if options.empty:
                continue
            # Fewest knock-ons first (a partner alone in another relation makes _close hide one more there, and so
            # on); then a partner with room to absorb the small cell's whole range: the smallest with twice the
            # threshold, else the largest there is.
            picked = options["cell"].to_numpy()
            options = options.assign(knock_on=knock_on[picked], size=size[picked], cramped=size[picked] < 2 * threshold)
            options = options.assign(order=np.where(options["cramped"], -options["size"], options["size"]))
            pick = options.sort_values(["knock_on", "cramped", "order", "cell"]).iloc[0]
            suppressed[int(pick["cell"])] = True
        suppressed = _close(suppressed, members, incidence, size, pickable, small, coding)
        changed = np.unique(system[np.flatnonzero(suppressed != before)])
        still = np.asarray(exposed)
        todo = {int(s): still[system[still] == s] for s in changed if (system[still] == s).any()}
        if not todo:
            break
    return _statuses(small, suppressed, coding)
