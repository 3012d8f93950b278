"""The loader: contract CSVs validated all at once, upserted and audited in one transaction, undoable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard import contract, db, demo, ingest, queries

ROOT = Path(__file__).resolve().parents[2]
YEARS = ("2021-22", "2022-23")
CLI = (
    "import argparse,sys; from dashboard import ingest; p=argparse.ArgumentParser(); "
    "s=p.add_subparsers(dest='command', required=True); ingest.register_cli(s); "
    "a=p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"
)


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo network, restricted to two school years, as contract CSV files."""
    out = tmp_path_factory.mktemp("ingest_csv")
    network = demo.generate(scale=0.2)
    tables = {
        name: frame[frame["school_year"].isin(YEARS)] if "school_year" in frame else frame
        for name, frame in network.tables().items()
    }
    demo.write_csv(demo.Network(**tables), out)
    return out


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    """A fresh, empty SQLite database."""
    e = db.create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    db.upgrade(e)
    return e


@pytest.fixture
def loaded(engine: sa.Engine, demo_csv: Path) -> sa.Engine:
    """A database holding the demo CSVs, loaded through the loader."""
    assert ingest.load_tables(engine, [demo_csv], "tester").ok
    return engine


def counts(engine: sa.Engine) -> dict[str, int]:
    """Rows per table, for before/after comparisons."""
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (*db.CONTRACT_TABLES, db.loads, db.load_changes)
        }


def table(engine: sa.Engine, name: str) -> pd.DataFrame:
    """A whole table, sorted by its key."""
    key = list(contract.TABLES[name][0])
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(db.metadata.tables[name]), conn)
    return frame.sort_values(key, ignore_index=True)


def write(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    """Write one table's CSV into a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def read(demo_csv: Path, name: str) -> pd.DataFrame:
    """One demo table as strings."""
    return pd.read_csv(demo_csv / f"{name}.csv", dtype=str, keep_default_na=False)


def test_load_matches_demo_insert(loaded: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    other = db.create_engine(f"sqlite:///{tmp_path / 'direct.sqlite3'}")
    db.upgrade(other)
    network = demo.Network(**{
        name: pd.read_csv(demo_csv / f"{name}.csv", dtype={"school_id": str, "school_year": str})
        for name in contract.TABLES
    })  # fmt: skip
    with other.begin() as conn:
        demo.insert_network(conn, network, load_id=None)
    f = queries.Filters()
    pd.testing.assert_frame_equal(queries.kpi_totals(loaded, f), queries.kpi_totals(other, f))
    pd.testing.assert_frame_equal(queries.outcome_rates(loaded, f), queries.outcome_rates(other, f))
    pd.testing.assert_frame_equal(
        queries.kpi_totals(loaded, f, level="state"), queries.kpi_totals(other, f, level="state")
    )


def test_second_load_changes_nothing(loaded: sa.Engine, demo_csv: Path) -> None:
    before = table(loaded, "outcomes")
    report = ingest.load_tables(loaded, [demo_csv], "tester")
    assert report.ok
    assert all(c.added == 0 and c.changed == 0 and c.unchanged > 0 for c in report.counts.values())
    pd.testing.assert_frame_equal(table(loaded, "outcomes"), before)


def test_correction_then_undo_restores_exactly(loaded: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    before = {name: table(loaded, name) for name in ("outcomes", "schools", "affiliates")}
    outcomes = read(demo_csv, "outcomes").head(50)
    outcomes.loc[0:4, "met"] = "0"
    schools = read(demo_csv, "schools").head(3)
    schools.loc[0, "name"] = "Renamed School"
    schools.loc[1, ["latitude", "longitude"]] = ""
    new_aff = read(demo_csv, "affiliates").head(1).assign(affiliate_id="NEW-AFF", name="New affiliate")
    new_school = schools.head(1).assign(school_id="NEW-SCHOOL", affiliate_id="NEW-AFF")
    write(tmp_path / "fix", "outcomes", outcomes)
    write(tmp_path / "fix", "schools", pd.concat([schools, new_school]))
    write(tmp_path / "fix", "affiliates", new_aff)
    write(tmp_path / "fix", "school_years", read(demo_csv, "school_years").head(1).assign(school_id="NEW-SCHOOL"))
    before["school_years"] = table(loaded, "school_years")
    report = ingest.load_tables(loaded, [tmp_path / "fix"], "fixer")
    assert report.ok, report.problems
    changed = sum(1 for m in read(demo_csv, "outcomes").head(5)["met"] if m != "0")
    assert (report.counts["outcomes"].changed, report.counts["outcomes"].unchanged) == (changed, 50 - changed)
    assert (report.counts["schools"].added, report.counts["schools"].changed) == (1, 2)
    assert report.counts["affiliates"].added == 1 and report.counts["school_years"].added == 1
    now = table(loaded, "schools").set_index("school_id")
    assert now.loc[schools.loc[0, "school_id"], "name"] == "Renamed School"
    assert bool(now.loc[schools.loc[1, "school_id"], "approximate_location"])
    assert not pd.isna(now.loc[schools.loc[1, "school_id"], "latitude"])
    ingest.undo_load(loaded, report.load_id)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(table(loaded, name), frame)
    assert "NEW-SCHOOL" not in set(table(loaded, "schools")["school_id"])
    with loaded.connect() as conn:
        status = conn.execute(sa.select(db.loads.c.status).where(db.loads.c.load_id == report.load_id)).scalar_one()
    assert status == "undone"
    with pytest.raises(ingest.LoadError):
        ingest.undo_load(loaded, report.load_id)


def test_dry_run_writes_nothing(engine: sa.Engine, demo_csv: Path) -> None:
    before = counts(engine)
    report = ingest.load_tables(engine, [demo_csv / "affiliates.csv"], "tester", dry_run=True)
    assert report.ok and report.counts["affiliates"].added > 0 and report.load_id is None
    assert counts(engine) == before


def _bad_cases(demo_csv: Path, folder: Path) -> dict[str, tuple[list[Path], str, dict]]:
    """name -> (files, expected message fragment, load_tables keyword arguments)."""
    folder.mkdir()
    sy = read(demo_csv, "school_years").head(20)
    oc = read(demo_csv, "outcomes").head(20)
    sc = read(demo_csv, "schools").head(5)
    cases: dict[str, tuple[list[Path], str, dict]] = {}

    def case(name: str, table_name: str, frame_or_bytes, fragment: str, **kw) -> None:
        sub = folder / name
        sub.mkdir()
        path = sub / f"{table_name}.csv"
        if isinstance(frame_or_bytes, bytes):
            path.write_bytes(frame_or_bytes)
        else:
            frame_or_bytes.to_csv(path, index=False)
        cases[name] = ([path], fragment, kw)

    case("empty", "schools", b"", "file is empty")
    case("header_only", "schools", b"school_id,name\n", "no data rows")
    case("binary", "schools", b"PK\x03\x04\x00\x00binary\xff\xfe", "binary file")
    case("latin1", "schools", "school_id,name\n1,Caf\xe9\n".encode("latin-1"), "UTF-8")
    case("missing_column", "outcomes", oc.drop(columns=["met"]), "required column 'met' is missing")
    case("negative", "school_years", sy.assign(volunteers="-3"), "must not be negative")
    case("met_over_eligible", "outcomes", oc.assign(met="100000"), "met must not exceed eligible")
    for bad in ("2021/22", "21-22", "2022", "2021-2023"):
        case(f"year_{bad.replace('/', '_')}", "school_years", sy.assign(school_year=bad), "like 2021-22")
    case("unknown_state", "schools", sc.assign(state="XX"), "unknown state")
    case("outside_state", "schools", sc.assign(state="AK", latitude="29.7", longitude="-95.3"), "outside the state")
    case("unknown_affiliate", "schools", sc.assign(affiliate_id="NO-SUCH"), "'NO-SUCH' is not in affiliates")
    case("unknown_school", "outcomes", oc.assign(school_id="999"), "'999' is not in schools")
    case("duplicate", "outcomes", pd.concat([oc, oc.head(1)]), "duplicate key")
    case("thousands", "school_years", sy.assign(enrollment="1,200"), "thousands separators")
    case("percent", "outcomes", oc.assign(met="95%"), "percent signs")
    case("enum", "schools", sc.assign(level="college"), "must be one of")
    case("identifier", "schools", sc.assign(school_id="bad id!"), "identifier")
    case("too_big", "schools", sc, "over the limit of 100 bytes", max_bytes=100)
    return cases


def test_bad_inputs_are_refused_and_leave_the_database_unchanged(
    loaded: sa.Engine, demo_csv: Path, tmp_path: Path
) -> None:
    before = counts(loaded)
    for name, (files, fragment, kw) in _bad_cases(demo_csv, tmp_path / "bad").items():
        report = ingest.load_tables(loaded, files, "tester", **kw)
        assert not report.ok, name
        messages = [str(p) for p in report.problems]
        assert any(fragment in m for m in messages), (name, messages[:3])
        assert all(p.file == files[0].name for p in report.problems), name
        assert counts(loaded) == before, name


def test_every_problem_is_reported_with_row_and_column(engine: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    sy = read(demo_csv, "school_years").head(4)
    sy.loc[0, "enrollment"] = "1,200"
    sy.loc[2, "school_year"] = "2021/22"
    sy.loc[3, "tier3_students"] = "-1"
    report = ingest.load_tables(engine, [write(tmp_path, "school_years", sy.assign(extra="x"))], "tester")
    found = {(p.row, p.column) for p in report.problems}
    assert {(2, "enrollment"), (4, "school_year"), (5, "tier3_students")} <= found
    assert any(w.column == "extra" for w in report.warnings)
    assert counts(engine)["loads"] == 0


def test_formula_text_is_stored_as_plain_text(loaded: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    formula = '=HYPERLINK("http://evil.example","click")'
    sc = read(demo_csv, "schools").head(1).assign(name=formula)
    report = ingest.load_tables(loaded, [write(tmp_path, "schools", sc)], "tester")
    assert report.ok and report.counts["schools"].changed == 1
    assert any("plain text" in w.message for w in report.warnings)
    assert table(loaded, "schools").set_index("school_id").loc[sc.loc[0, "school_id"], "name"] == formula


def test_school_year_long_form_is_normalised(loaded: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    sy = read(demo_csv, "school_years").head(3)
    long = sy.assign(school_year=sy["school_year"].map(lambda y: f"{y[:4]}-{int(y[:4]) + 1}"))
    report = ingest.load_tables(loaded, [write(tmp_path, "school_years", long)], "tester")
    assert report.ok and report.counts["school_years"].unchanged == 3


def test_cli_loads_and_reports_problems(demo_csv: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    files = [str(demo_csv / f"{t}.csv") for t in ("affiliates", "schools")]
    ok = subprocess.run(
        [sys.executable, "-c", CLI, "load", *files, "--as", "cli-user", "--database-url", url],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "affiliates" in ok.stdout and "added" in ok.stdout and "schools" in ok.stdout
    bad = write(tmp_path / "bad", "outcomes", read(demo_csv, "outcomes").head(2).assign(school_id="NOPE"))
    fail = subprocess.run(
        [sys.executable, "-c", CLI, "load", str(bad), "--database-url", url],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert fail.returncode == 1
    assert fail.stdout.count("'NOPE' is not in schools") == 2
    dry = subprocess.run(
        [sys.executable, "-c", CLI, "load", files[0], "--dry-run", "--database-url", url],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert dry.returncode == 0 and "dry run" in dry.stdout and "unchanged" in dry.stdout


def test_xlsx_workbook_with_a_sheet_per_table(loaded: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    path = tmp_path / "network.xlsx"
    with pd.ExcelWriter(path) as xl:
        read(demo_csv, "affiliates").to_excel(xl, sheet_name="affiliates", index=False)
        read(demo_csv, "outcomes").head(30).to_excel(xl, sheet_name="outcomes", index=False)
    report = ingest.load_tables(loaded, [path], "tester")
    assert report.ok, report.problems[:3]
    assert report.counts["outcomes"].unchanged == 30 and report.counts["outcomes"].added == 0
    assert report.counts["affiliates"].changed == 0


def test_undo_refused_while_a_later_load_changed_the_same_rows(
    loaded: sa.Engine, demo_csv: Path, tmp_path: Path
) -> None:
    oc = read(demo_csv, "outcomes").head(2)
    before = table(loaded, "outcomes")
    first = ingest.load_tables(loaded, [write(tmp_path / "a", "outcomes", oc.assign(met="0"))], "tester")
    second = ingest.load_tables(loaded, [write(tmp_path / "b", "outcomes", oc.assign(met="1"))], "tester")
    assert first.counts["outcomes"].changed == 2 and second.counts["outcomes"].changed == 2
    with pytest.raises(ingest.LoadError, match="undo those first"):
        ingest.undo_load(loaded, first.load_id)
    ingest.undo_load(loaded, second.load_id)
    ingest.undo_load(loaded, first.load_id)
    pd.testing.assert_frame_equal(table(loaded, "outcomes"), before)
