"""The audit of a suppression pattern, as statistical offices do it (tau-ARGUS, GaussSuppression): for every small
cell, the lowest and highest value it can take given every published cell and every additive relation.

The rule (README, "Disclosure control"): a small cell is protected when the published cells leave at least
`protection_width(threshold)` students of room in its size (5 of 0-9 at the default 10) and never pin how many of
them met the outcome to one count; a coded cell when they never prove "all of them" (or "none").

An attacker knows every shown cell exactly, a coded cell's range, that a "<10" cell holds fewer than `threshold`
students (and, for a count, at least one) and that a "hidden" one holds at least `threshold`. The unknowns are the
leaves (school x tier: eligible and met, or a count); every cell is a sum of leaves, 0 <= met <= eligible. A small
cell is *protected* when linear programs (scipy's HiGHS) find both ends of what its label allows reachable: its
students anywhere from the least (0 for a rate's eligible, 1 for a count) to threshold - 1, and for a rate its met
anywhere from 0 to threshold - 1. Published cells then say nothing about it beyond "<10". The programs are relaxed
to real numbers, which can only widen an interval by less than one student at each end. A coded cell is
*protected* when its met can still take at least two values.

Each school year and measure is one system (no relation crosses them). One program per direction first asks for
every small cell's extreme at once; only cells that solution leaves short get a program of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from dashboard import disclosure
from dashboard.disclosure import ATTRIBUTES, CODED, HIDDEN, SHOWN, SMALL

TOLERANCE = 1e-6
UNBOUNDED = 1e8  # students: more than any network holds
DEBUG = False


@dataclass
class Finding:
    """One cell an attacker can narrow: its key, what it is and the interval of each quantity."""

    key: tuple
    status: str
    size_range: tuple[float, float]
    met_range: tuple[float, float]


@dataclass
class AuditResult:
    """Cells checked and suppressed, the narrowest interval seen, and every exposed cell."""

    checked: int = 0
    small: int = 0
    hidden: int = 0
    coded: int = 0
    systems: int = 0
    programs: int = 0
    narrowest: float = float("inf")
    exposed: list[Finding] = field(default_factory=list)

    def add(self, other: AuditResult) -> None:
        for name in ("checked", "small", "hidden", "coded", "systems", "programs"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.narrowest = min(self.narrowest, other.narrowest)
        self.exposed.extend(other.exposed)


def _membership(system: pd.DataFrame, schools: pd.DataFrame) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """(cells x leaves 0/1 matrix, the leaves) for one school year and measure; `system` is its cells."""
    leaf_tier = system["tier"] != 0 if (system["tier"] != 0).any() else system["tier"] == 0
    leaves = system[(system["unit"] == "school") & leaf_tier][["unit_id", "tier", "state", "affiliate_id"]]
    leaves = leaves.merge(schools, left_on="unit_id", right_on="school_id", how="left").reset_index(drop=True)
    multi = bool((system["tier"] != 0).any())
    keys = pd.MultiIndex.from_frame(system[["unit", "unit_id", "slice", "tier"]])
    position = pd.Series(np.arange(len(system)), index=keys)
    rows, cols = [], []
    leaf_index = np.arange(len(leaves))
    tiers = [leaves["tier"].to_numpy()] + ([np.zeros(len(leaves), dtype=np.int64)] if multi else [])
    places = [
        ("school", leaves["unit_id"].to_numpy(), False),
        ("affiliate", leaves["affiliate_id"].to_numpy(), True),
        ("state", leaves["state"].to_numpy(), True),
        ("nation", np.full(len(leaves), ""), True),
    ]
    for unit, ids, sliced in places:
        slices = [np.full(len(leaves), "")]
        if sliced:
            slices += [np.array([disclosure.slice_name(a, v) for v in leaves[a]]) for a in ATTRIBUTES]
        if unit == "nation":
            peer = zip(leaves["level"], leaves["locale"], leaves["title_i"], strict=True)
            slices.append(np.array([disclosure.peer_name(*v) for v in peer]))
        for names in slices:
            for tier in tiers:
                wanted = pd.MultiIndex.from_arrays([np.full(len(leaves), unit), ids, names, tier])
                found = position.reindex(wanted).to_numpy()
                ok = ~np.isnan(found)
                rows.append(found[ok].astype(np.int64))
                cols.append(leaf_index[ok])
    r, c = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(system), len(leaves)))
    matrix.data[:] = 1.0  # a leaf reached twice through one key (tier 0 of a one-tier measure) is still one
    return matrix, leaves


def _bounds(status: np.ndarray, size: np.ndarray, met: np.ndarray, rate: bool, threshold: int):
    """Per cell: (size low, size high, met low, met high) as an attacker reads them off the page."""
    n = len(status)
    s_lo, s_hi = np.zeros(n), np.full(n, np.inf)
    m_lo, m_hi = np.zeros(n), np.full(n, np.inf)
    shown = status == SHOWN
    s_lo[shown] = s_hi[shown] = size[shown]
    m_lo[shown] = m_hi[shown] = met[shown]
    for i in np.flatnonzero(status == CODED):
        s_lo[i] = s_hi[i] = size[i]
        m_lo[i], m_hi[i] = disclosure.coded_range(int(size[i]), int(met[i]))
    small = status == SMALL
    s_lo[small] = 0 if rate else 1
    s_hi[small] = threshold - 1
    s_lo[status == HIDDEN] = threshold
    if not rate:
        m_lo[:] = m_hi[:] = 0
    return s_lo, s_hi, m_lo, m_hi


def audit_system(system: pd.DataFrame, schools: pd.DataFrame, threshold: int,
                 members: pd.DataFrame | None = None, only: np.ndarray | None = None) -> AuditResult:  # fmt: skip
    """The audit of one school year and measure: `system` holds its cells with their `status`; `members` its
    relations (disclosure.relations, numbered by position in `system`), computed when not given; `only`, when
    given, the positions of the cells to check (every small and coded cell otherwise)."""
    system = system.reset_index(drop=True)
    result = AuditResult(checked=len(system))
    status = system["status"].to_numpy()
    result.small, result.hidden = int((status == SMALL).sum()), int((status == HIDDEN).sum())
    result.coded = int((status == CODED).sum())
    # A cell of no students discloses nobody: it stays labelled '<10' but needs no protection.
    targets = np.flatnonzero(((status == SMALL) | (status == CODED)) & (system["size"].to_numpy() > 0))
    if only is not None:
        targets = np.intersect1d(targets, only)
    if not len(targets):
        return result
    result.systems = 1
    rate = bool(disclosure.is_rate(system["measure"].iloc[:1])[0])
    size, met = system["size"].to_numpy(float), system["met"].to_numpy(float)
    matrix, leaves = _membership(system, schools)
    s_lo, s_hi, m_lo, m_hi = _bounds(status, size, met, rate, threshold)

    # A leaf whose own school cell is shown is known: it leaves the program, its values move to the right side.
    leaf_cell = _leaf_cells(system, leaves)
    fixed = status[leaf_cell] == SHOWN
    known_size = np.where(fixed, size[leaf_cell], 0.0)
    known_met = np.where(fixed, met[leaf_cell], 0.0)
    free = np.flatnonzero(~fixed)
    rows = _binding_rows(system, status, matrix, fixed, targets, members, schools)
    rows = _distinct_rows(matrix, rows, free, status, targets)
    sub = matrix[rows][:, free].tocsr()
    shift_size, shift_met = matrix[rows] @ known_size, matrix[rows] @ known_met
    leaf_lo, leaf_hi = s_lo[leaf_cell[free]], s_hi[leaf_cell[free]]
    leaf_mlo, leaf_mhi = m_lo[leaf_cell[free]], m_hi[leaf_cell[free]]

    # Components: free leaves joined by a row they share; each is a program of its own.
    adjacency = (sub.T @ sub).tocsr()
    count, label = connected_components(adjacency, directed=False)
    if DEBUG:
        sizes = np.bincount(label)
        print("free", len(free), "rows", len(rows), "of", len(system), "components", count, "largest", sizes.max())
    target_rows = matrix[targets]
    ranges = {cell: [np.nan, np.nan, 0.0, 0.0] for cell in targets}
    for cell in targets:  # what the known leaves contribute to each target
        ranges[cell][2] = float((target_rows[np.flatnonzero(targets == cell)[0]] @ known_size)[0])
        ranges[cell][3] = float((target_rows[np.flatnonzero(targets == cell)[0]] @ known_met)[0])
    found = {cell: [[np.nan, np.nan], [np.nan, np.nan]] for cell in targets}
    target_free = target_rows[:, free].tocsr()
    component_of_target = np.full(len(targets), -1)
    for j in range(len(targets)):
        cols = target_free[j].indices
        component_of_target[j] = label[cols[0]] if len(cols) else -1
    for j, cell in enumerate(targets):
        if component_of_target[j] == -1:  # every leaf known: the cell is known exactly
            found[cell] = [[ranges[cell][2]] * 2, [ranges[cell][3]] * 2]
    for component in np.unique(component_of_target[component_of_target >= 0]):
        cols = np.flatnonzero(label == component)
        in_rows = np.flatnonzero(np.asarray((sub[:, cols] != 0).sum(axis=1)).ravel() > 0)
        program = _Program(sub[in_rows][:, cols], rate, s_lo[rows][in_rows] - shift_size[in_rows],
                           s_hi[rows][in_rows] - shift_size[in_rows], m_lo[rows][in_rows] - shift_met[in_rows],
                           m_hi[rows][in_rows] - shift_met[in_rows], leaf_lo[cols], leaf_hi[cols], leaf_mlo[cols],
                           leaf_mhi[cols])  # fmt: skip
        mine = np.flatnonzero(component_of_target == component)
        objectives = target_free[mine][:, cols]
        for q, quantity in enumerate(("size", "met") if rate else ("size",)):
            offset = np.array([ranges[targets[j]][2 + q] for j in mine])
            for d, sense in enumerate((1.0, -1.0)):
                wanted = np.array([_wanted_one(status[targets[j]], quantity, sense, threshold, rate, size, met,
                                               targets[j]) for j in mine])  # fmt: skip
                asked = ~np.isnan(wanted)
                if not asked.any():
                    continue
                for k, value in _extremes(program, quantity, sense, objectives, offset, wanted, result).items():
                    found[targets[mine[k]]][q][d] = value
    for cell in targets:
        size_range = tuple(found[cell][0])
        met_range = tuple(found[cell][1]) if rate else (0.0, 0.0)
        if status[cell] == SMALL:
            width = size_range[1] - size_range[0]
            ok = width >= protection_width(threshold) - TOLERANCE
            if rate:  # and how many of them met the outcome is never pinned to one count
                ok = ok and met_range[1] - met_range[0] >= 1 - TOLERANCE
        else:
            # Coding hides "all of them" (or "none"): exposed only when the published cells prove exactly that.
            width = met_range[1] - met_range[0]
            top = met[cell] >= size[cell] / 2
            ok = met_range[0] <= size[cell] - 1 + TOLERANCE if top else met_range[1] >= 1 - TOLERANCE
        result.narrowest = min(result.narrowest, width) if status[cell] == SMALL else result.narrowest
        if not ok:
            key = tuple(system.loc[cell, disclosure.KEYS])
            result.exposed.append(Finding(key, status[cell], size_range, met_range))
    return result


class _Program:
    """The linear program of one component, kept in one HiGHS instance: each new objective starts from the last
    optimal basis, so the many programs of a component cost a few simplex steps each, not a solve from scratch."""

    def __init__(self, rows, rate, s_lo, s_hi, m_lo, m_hi, v_lo, v_hi, vm_lo, vm_hi) -> None:
        k = rows.shape[1]
        zero = sp.csr_matrix(rows.shape)
        blocks = [sp.hstack([rows, zero]), sp.hstack([zero, rows])]
        lo, hi = [s_lo, m_lo], [s_hi, m_hi]
        if rate:
            blocks.append(sp.hstack([-sp.identity(k), sp.identity(k)]))  # met - eligible <= 0
            lo.append(np.full(k, -np.inf))
            hi.append(np.zeros(k))
        a = sp.vstack(blocks).tocsc()
        lower, upper = np.concatenate(lo), np.concatenate(hi)
        col_lo = np.concatenate([v_lo, vm_lo if rate else np.zeros(k)])
        col_hi = np.concatenate([v_hi, vm_hi if rate else np.zeros(k)])
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = 2 * k, a.shape[0]
        lp.col_cost_ = np.zeros(2 * k)
        # A leaf with no published upper bound can grow past any student body: cap it far above one, so that a
        # maximum is a number (a cell that reaches the cap is as unbounded as an attacker can tell).
        lp.col_lower_, lp.col_upper_ = col_lo, np.where(np.isfinite(col_hi), col_hi, UNBOUNDED)
        lp.row_lower_ = np.where(np.isfinite(lower), lower, -highspy.kHighsInf)
        lp.row_upper_ = np.where(np.isfinite(upper), upper, highspy.kHighsInf)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue(
            "presolve", "off"
        )  # a warm start needs the basis of the last solve, not a new presolve
        self.highs.setOptionValue(
            "simplex_strategy", 4
        )  # primal: the last optimum stays feasible when only the objective changes
        self.highs.passModel(lp)
        self.k = k
        self.columns = np.arange(2 * k, dtype=np.int32)

    def solve(self, quantity: str, objective: np.ndarray) -> np.ndarray | None:
        """The leaves' values of that quantity at the minimum of objective . quantity, or None when not optimal."""
        full = np.zeros(2 * self.k)
        if quantity == "size":
            full[: self.k] = objective
        else:
            full[self.k :] = objective
        self.highs.changeColsCost(len(full), self.columns, full)
        self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(self.highs.getSolution().col_value)
        return x[: self.k] if quantity == "size" else x[self.k :]


def _extremes(program: _Program, quantity: str, sense: float, objectives: sp.csr_matrix, offset: np.ndarray,
              wanted: np.ndarray, result: AuditResult) -> dict[int, float]:  # fmt: skip
    """Per asked target (row of `objectives` whose `wanted` is not NaN): a value it can take that meets `wanted`,
    or, when none does, its extreme in this direction (NaN when the program has no optimum).

    One program first asks for every open target's extreme at once, and again for those still open while that
    finds any; then each open target gets a program of its own. Every solution is checked against every target
    still open: a vertex found for one often takes others to their ends too, so most need no program of their own.
    """
    values: dict[int, float] = {}
    open_ = np.flatnonzero(~np.isnan(wanted))
    joint = True
    while len(open_):
        objective = objectives[open_].sum(axis=0) if joint else objectives[open_[:1]].toarray()
        x = program.solve(quantity, sense * np.asarray(objective).ravel())
        result.programs += 1
        if x is None:
            if not joint:
                values[int(open_[0])] = np.nan
                open_ = open_[1:]
            joint = False
            continue
        reached = objectives[open_] @ x + offset[open_]
        done = np.array([_meets(v, w, sense) for v, w in zip(reached, wanted[open_], strict=True)])
        if not joint:  # the first target's own program: what it reached is its extreme, met or not
            done[0] = True
        for k in np.flatnonzero(done):
            values[int(open_[k])] = float(reached[k])
        joint = joint and done.any()
        open_ = open_[~done]
    return values


def protection_width(threshold: int) -> int:
    """How wide a small cell's interval must stay, in students: half the threshold, rounded up (5 of 0-9 at 10)."""
    return math.ceil(threshold / 2)


def _distinct_rows(
    matrix: sp.csr_matrix, rows: np.ndarray, free: np.ndarray, status: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """`rows` less those summing the same leaves as an earlier one (a slice that holds every school of its unit, an
    affiliate alone in its state): one figure published twice binds once. A small or hidden duplicate of a shown
    cell cannot exist (the duplicate relation hides both), so the first row's bounds are the figure's bounds."""
    full = matrix[rows].tocsr()
    seen: dict[bytes, int] = {}
    keep = []
    for i, row in enumerate(rows):
        start, end = full.indptr[i], full.indptr[i + 1]
        key = full.indices[start:end].tobytes()
        if key in seen:
            continue
        seen[key] = row
        keep.append(row)
    return np.asarray(keep, dtype=np.int64)


def _leaf_cells(system: pd.DataFrame, leaves: pd.DataFrame) -> np.ndarray:
    """The position in `system` of each leaf's own school cell."""
    keys = pd.MultiIndex.from_frame(system[["unit", "unit_id", "tier"]])
    position = pd.Series(np.arange(len(system)), index=keys)
    position = position[system["slice"].to_numpy() == ""]
    wanted = pd.MultiIndex.from_arrays([np.full(len(leaves), "school"), leaves["unit_id"], leaves["tier"]])
    return position.reindex(wanted).to_numpy().astype(np.int64)


def _binding_rows(system, status, matrix, fixed, targets, members, schools) -> np.ndarray:
    """Cells whose row can bind: not every leaf known, and not a shown (or coded) sum of shown cells only, whose row
    the children's rows already imply. Targets always keep theirs."""
    free_leaves = np.asarray(matrix[:, np.flatnonzero(~fixed)].sum(axis=1)).ravel() > 0
    if members is None:
        members = disclosure.relations(system, schools)
    children = members[~members["parent"]]
    open_child = status[children["cell"].to_numpy()] != SHOWN
    relation_open = pd.Series(open_child).groupby(children["relation"].to_numpy()).any()
    closed = relation_open.index[~relation_open.to_numpy()]
    parents = members[members["parent"] & members["relation"].isin(closed)]["cell"].to_numpy()
    implied = np.zeros(len(system), dtype=bool)
    implied[parents] = np.isin(status[parents], [SHOWN, CODED])
    keep = free_leaves & ~implied
    keep[targets] = True
    return np.flatnonzero(keep)


def _wanted_one(status: str, quantity: str, sense: float, threshold: int, rate: bool, size: np.ndarray,
                met: np.ndarray, cell: int) -> float:  # fmt: skip
    """The value a target must reach in this direction (+1 the lowest, -1 the highest) to be protected, or NaN
    when that end does not matter: a top-coded cell must be able to fall below all, a bottom-coded one above none."""
    if status == SMALL:
        floor = 0 if (rate or quantity == "met") else 1
        return floor if sense > 0 else threshold - 1
    if quantity != "met":
        return np.nan
    top = met[cell] >= size[cell] / 2
    if top:
        return size[cell] - 1 if sense > 0 else np.nan
    return 1.0 if sense < 0 else np.nan


def _meets(value: float, wanted: float, sense: float) -> bool:
    if np.isnan(value):
        return False
    return value <= wanted + TOLERANCE if sense > 0 else value >= wanted - TOLERANCE


def audit(table: pd.DataFrame, schools: pd.DataFrame, threshold: int, years: list[str] | None = None
          ) -> AuditResult:  # fmt: skip
    """The audit of every school year (or `years`) and measure of `table` (cells with their `status`)."""
    total = AuditResult()
    chosen = table if years is None else table[table["school_year"].isin(years)]
    attrs = schools[["school_id", *ATTRIBUTES]]
    for _, system in chosen.groupby(["school_year", "measure"], sort=True):
        total.add(audit_system(system, attrs, threshold))
    return total


def read_network(engine, years: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(outcomes, school_years, schools) from the database, narrowed to `years` when given."""
    import sqlalchemy as sa

    from dashboard.data.db import outcomes, school_years, schools
    from dashboard.data.queries import read_frame

    def of(table: sa.Table) -> sa.Select:
        stmt = sa.select(*table.c)
        return stmt.where(table.c.school_year.in_(years)) if years else stmt

    o = read_frame(engine, of(outcomes))[["school_id", "school_year", "tier", "metric", "eligible", "met"]]
    sy = read_frame(engine, of(school_years))
    s = read_frame(engine, sa.select(schools.c.school_id, schools.c.state, schools.c.affiliate_id, schools.c.level,
                                     schools.c.locale, schools.c.title_i))  # fmt: skip
    return o, sy, s


def cmd_audit(args) -> int:
    """`python -m dashboard privacy audit`: decide the pattern for the database's cells and audit it."""
    import time

    from dashboard import config
    from dashboard.data import db

    engine = db.create_engine(args.database_url)
    db.check_connection(engine)
    threshold = int(config.get("suppression_threshold"))
    started = time.perf_counter()
    outcomes, school_years, schools = read_network(engine, args.year or None)
    if schools.empty or school_years.empty:
        print("no data to audit")
        return 0
    table = disclosure.cells(disclosure.leaves(outcomes, school_years, schools))
    decided = time.perf_counter()
    table["status"] = disclosure.decide(table, schools, threshold, audit_rounds=args.rounds, audit=audit_system)
    deciding = time.perf_counter() - decided
    result = audit(table, schools, threshold)
    school = table[table["unit"] == "school"]
    shown = school["status"].isin([SHOWN, CODED]).mean() if len(school) else 1.0
    print(f"cells checked        {result.checked:,}")
    print(f"suppressed           {result.small:,} small (<{threshold}), {result.hidden:,} hidden to protect them")
    print(f"coded                {result.coded:,}")
    print(f"school cells shown   {shown:.1%}")
    print(f"linear programs      {result.programs:,} over {result.systems} school-year x measure systems")
    narrowest = "none suppressed" if result.narrowest == float("inf") else f"{result.narrowest:.2f} students"
    print(f"narrowest interval   {narrowest} (protected at {protection_width(threshold)} or wider)")
    print(f"exposed cells        {len(result.exposed):,}")
    for finding in result.exposed[:20]:
        print(f"  {finding.key} {finding.status}: students {finding.size_range[0]:.1f}-{finding.size_range[1]:.1f},"
              f" met {finding.met_range[0]:.1f}-{finding.met_range[1]:.1f}")  # fmt: skip
    print(f"decided in {deciding:.1f} s, {time.perf_counter() - started:.1f} s in all")
    return 1 if result.exposed else 0


def register_cli(subparsers) -> None:
    """`privacy audit [--year Y]... [--rounds N] [--database-url URL]`."""
    p = subparsers.add_parser("privacy", help="disclosure control: audit the suppression pattern")
    p.add_argument("action", choices=["audit"], help="audit: every small cell's interval, by linear programs")
    p.add_argument("--year", action="append", help="a school year to audit (repeatable); default every year")
    p.add_argument("--rounds", type=int, default=30, help="rounds of the audit-driven pass when deciding")
    p.add_argument("--database-url", default=None)
    p.set_defaults(func=cmd_audit)
