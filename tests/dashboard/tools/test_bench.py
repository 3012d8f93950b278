"""The benchmark at a tiny scale: every section is there, every page is listed, and the ratios it prints are the
ratios of the figures it prints. The fast build leaves the same database the demo build leaves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from dashboard import access
from dashboard.data import db, migrate
from dashboard.tools import bench, demo

SCALE = 0.1  # the smallest the generator allows is about 0.06 (one school per affiliate)


def _tables(markdown: str) -> list[list[dict[str, str]]]:
    """Every markdown table as a list of rows keyed by header."""
    tables, header, rows = [], None, []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not set("".join(cells)) <= set("-: "):
                rows.append(dict(zip(header, cells, strict=False)))
        elif header is not None:
            tables.append(rows)
            header, rows = None, []
    return tables


def _number(text: str) -> float:
    return float(text.rstrip("x").replace(",", ""))


def _assert_ratio(ratio: str, top: str, bottom: str) -> None:
    """`ratio` (2 decimals) is top / bottom (each printed to 1 decimal), allowing only for the rounding."""
    a, b, r = _number(top), _number(bottom), _number(ratio)
    low = (a - 0.05) / (b + 0.05) - 0.005
    high = (a + 0.05) / (b - 0.05) + 0.005 if b > 0.05 else float("inf")
    assert low <= r <= high, (ratio, top, bottom)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("bench") / "benchmarks.md"
    assert bench.main(["--scale", str(SCALE), "--runs", "1", "--out", str(out)]) == 0
    return out.read_text()


def test_every_section_is_written(report: str) -> None:
    assert f"## Scale {SCALE:g}:" in report
    for section in bench.SECTIONS:
        assert f"\n### {section}\n" in report, section
    assert "skipped" not in report


def test_every_page_is_listed_and_measured(report: str) -> None:
    pages = {row["page"]: row for table in _tables(report) for row in table if "page" in row}
    for spec in access.PAGES:
        assert spec.script in pages, spec.script
        row = pages[spec.script]
        assert _number(row["cold (ms)"]) > 0 and _number(row["warm (ms)"]) > 0, row


def test_page_ratios_are_computed_from_the_printed_figures(report: str) -> None:
    rows = [row for table in _tables(report) for row in table if "page / floor cold" in row]
    measured = [row for row in rows if row["floor cold (ms)"]]
    assert measured
    for row in measured:
        _assert_ratio(row["page / floor cold"], row["cold (ms)"], row["floor cold (ms)"])
        _assert_ratio(row["page / floor warm"], row["warm (ms)"], row["floor warm (ms)"])


def test_query_ratios_are_computed_from_the_printed_figures(report: str) -> None:
    rows = [row for table in _tables(report) for row in table if "naive / ours" in row]
    assert {row["query set"] for row in rows} == {"overview", "outcomes (state drill)"}
    for row in rows:
        _assert_ratio(row["naive / ours"], row["naive read + pandas (ms)"], row["ours (ms)"])
        _assert_ratio(row["ours / DuckDB"], row["ours (ms)"], row["DuckDB (ms)"])


def test_targets_are_printed_beside_the_figures(report: str) -> None:
    pages = [row for table in _tables(report) for row in table if "page / floor cold" in row and row["target"]]
    assert pages and all(re.search(r"(met|\*\*not met\*\*) \(cold < 1000 ms\)", row["target"]) for row in pages)
    assert re.search(r"HTML size, every layer \(MB\) \| [\d.]+ \| (\*\*not met\*\*|met) \(< 3 MB at 1x\)", report)


def test_the_fast_build_leaves_what_the_demo_build_leaves(tmp_path: Path) -> None:
    network = demo.generate(scale=SCALE)
    fast = db.create_engine(f"sqlite:///{tmp_path / 'fast.sqlite3'}")
    migrate.upgrade(fast)
    indexes = sa.inspect(fast).get_indexes("outcomes")
    rows = bench.build(fast, network, SCALE).rows
    assert rows == sum(len(f) for f in network.tables().values())
    assert db.is_demo(fast)
    assert sa.inspect(fast).get_indexes("outcomes") == indexes
    with fast.connect() as conn:
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar_one() == 1
        for name, frame in network.tables().items():
            assert conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one() == len(frame), name
        rolled = conn.execute(sa.text("SELECT sum(met), sum(eligible) FROM outcome_rollup")).one()
        assert tuple(rolled) == (network.outcomes["met"].sum(), network.outcomes["eligible"].sum())
        served = conn.execute(sa.text("SELECT sum(students_served) FROM school_year_rollup")).scalar_one()
        assert served == network.school_years["students_served"].sum()
