"""The loader: contract CSVs validated all at once, upserted and audited in one transaction, undoable."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard.data import contract, db, ingest, migrate, queries, rollup, upload_files
from dashboard.tools import demo
from tests.conftest import POSTGRES_URL, postgres_or_skip

ROOT = Path(__file__).resolve().parents[3]
YEARS = ("2021-22", "2022-23")
CLI = (
    "import argparse,sys; from dashboard.data import ingest; p=argparse.ArgumentParser(); "
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


@contextlib.contextmanager
def fresh_database(kind: str, folder: Path, name: str = "x") -> Iterator[sa.Engine]:
    """An empty database with the schema: a SQLite file in the folder, or a throwaway PostgreSQL database."""
    if kind == "sqlite":
        engine = db.create_engine(f"sqlite:///{folder / f'{name}.sqlite3'}")
        migrate.upgrade(engine)
        yield engine
        engine.dispose()
        return
    postgres_or_skip()
    with migrate.throwaway_postgres(POSTGRES_URL, "dashboard_ingest") as engine:
        yield engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A fresh, empty database: each test that takes it runs on SQLite and on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as e:
        yield e


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
    with fresh_database(loaded.dialect.name, tmp_path, "direct") as other:
        _compare_with_direct_insert(loaded, other, demo_csv)


def _compare_with_direct_insert(loaded: sa.Engine, other: sa.Engine, demo_csv: Path) -> None:
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
    case("latin1_named", "schools", "school_id,name\n1,Caf\xe9\n".encode("latin-1"), "Latin-1")
    broken_utf16 = "school_id,name\n1,x\n".encode("utf-16") + b"\x00\xd8"  # a lone surrogate
    case("broken_utf16", "schools", broken_utf16, "not valid UTF-16")
    case("semicolons", "outcomes", oc.to_csv(index=False, sep=";").encode(), "separated by semicolons")
    case("tabs", "outcomes", oc.to_csv(index=False, sep="\t").encode(), "separated by tabs")
    twice = oc.copy()
    twice.columns = [*oc.columns[:-1], "eligible"]  # met's column is headed eligible too
    case("duplicate_column", "outcomes", twice, "column 'eligible' appears twice")
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


def test_undo_refused_while_a_later_load_changed_rows_it_added(
    loaded: sa.Engine, demo_csv: Path, tmp_path: Path
) -> None:
    before = {name: table(loaded, name) for name in ("schools", "outcomes")}
    school = read(demo_csv, "schools").head(1).assign(school_id="ADDED-1")
    oc = read(demo_csv, "outcomes")
    oc = oc[oc["school_id"] == oc["school_id"].iloc[0]].assign(school_id="ADDED-1")
    folder = tmp_path / "a"
    write(folder, "schools", school)
    write(folder, "outcomes", oc)
    first = ingest.load_tables(loaded, [folder], "tester")
    assert first.ok and (first.counts["schools"].added, first.counts["outcomes"].added) == (1, len(oc))
    with loaded.connect() as conn:
        recorded = conn.execute(sa.select(sa.func.count()).where(db.load_changes.c.load_id == first.load_id))
        assert recorded.scalar_one() == 2  # one row per table that gained rows, not one per row
    bigger = oc.head(2).assign(eligible=lambda f: (f["eligible"].astype(int) + 1000).astype(str))
    second = ingest.load_tables(loaded, [write(tmp_path / "b", "outcomes", bigger)], "tester")
    assert second.counts["outcomes"].changed == 2
    with pytest.raises(ingest.LoadError, match=rf"load\(s\) {second.load_id}; undo those first"):
        ingest.undo_load(loaded, first.load_id)
    assert ingest.undo_load(loaded, second.load_id) == {"outcomes": 2}
    assert ingest.undo_load(loaded, first.load_id) == {"outcomes": len(oc), "schools": 1}
    for name, frame in before.items():
        pd.testing.assert_frame_equal(table(loaded, name), frame)
    assert_rollups_are_a_full_refresh(loaded)


def test_a_load_recorded_one_row_per_added_row_is_still_undone(
    loaded: sa.Engine, demo_csv: Path, tmp_path: Path
) -> None:
    """Loads recorded before ADDED kept one load_changes row per added row, holding the row's key."""
    before = table(loaded, "outcomes")
    oc = read(demo_csv, "outcomes")
    rows = oc[oc["school_year"] == YEARS[0]].head(5).assign(school_year="2020-21")
    report = ingest.load_tables(loaded, [write(tmp_path, "outcomes", rows)], "tester")
    assert report.ok and report.counts["outcomes"].added == 5
    keys = [
        json.dumps({"school_id": r.school_id, "school_year": r.school_year, "tier": int(r.tier), "metric": r.metric})
        for r in rows.itertuples()
    ]
    lc = db.load_changes
    with loaded.begin() as conn:  # the old record, and rows no longer findable by their load_id
        conn.execute(lc.delete().where(lc.c.load_id == report.load_id))
        conn.execute(lc.insert(), [{"load_id": report.load_id, "table_name": "outcomes", "row_key": k} for k in keys])
        conn.execute(db.outcomes.update().where(db.outcomes.c.load_id == report.load_id).values(load_id=None))
    assert ingest.undo_load(loaded, report.load_id) == {"outcomes": 5}
    pd.testing.assert_frame_equal(table(loaded, "outcomes"), before)
    assert_rollups_are_a_full_refresh(loaded)


def rollups(engine: sa.Engine, full: bool = False) -> dict[str, pd.DataFrame]:
    """Every rollup table sorted by its key; with full, as a full refresh leaves them (then rolled back)."""
    out = {}
    with engine.connect() as conn:
        if full:
            rollup.refresh(conn)
        for t in rollup.ROLLUPS:
            key = [c.name for c in t.primary_key.columns]
            out[t.name] = pd.read_sql(sa.select(t), conn).sort_values(key, ignore_index=True)
        conn.rollback()
    return out


def assert_rollups_are_a_full_refresh(engine: sa.Engine) -> None:
    kept, full = rollups(engine), rollups(engine, full=True)
    for name, frame in full.items():
        pd.testing.assert_frame_equal(kept[name], frame, obj=name)


def assert_undo_restores(engine: sa.Engine, load_id: int, before: dict[str, pd.DataFrame]) -> None:
    """Undo the load: the rollups are a full refresh again, and equal to what they were before it."""
    ingest.undo_load(engine, load_id)
    assert_rollups_are_a_full_refresh(engine)
    for name, frame in rollups(engine).items():
        pd.testing.assert_frame_equal(frame, before[name], obj=name)


def test_rollups_after_a_load_and_its_undo_equal_a_full_refresh(
    loaded: sa.Engine, demo_csv: Path, tmp_path: Path
) -> None:
    before = rollups(loaded)
    first, last = YEARS
    oc, sy, ps = (read(demo_csv, name) for name in ("outcomes", "school_years", "partnerships"))
    new_year = sy[sy["school_year"] == last].assign(school_year="2020-21")  # a year the database does not hold
    fix = tmp_path / "fix"
    write(fix, "outcomes", oc[oc["school_year"] == last].assign(met="0"))
    write(fix, "partnerships", ps[ps["school_year"] == last].head(40).assign(in_kind_usd="1234.5"))
    write(fix, "school_years", new_year)
    report = ingest.load_tables(loaded, [fix], "tester")
    assert report.ok and report.counts["school_years"].added == len(new_year)
    assert report.counts["outcomes"].changed > 0 and report.counts["partnerships"].changed > 0
    after = rollups(loaded)
    assert_rollups_are_a_full_refresh(loaded)
    o, years = after["outcome_rollup"], after["school_year_rollup"]
    assert (o.loc[o["school_year"] == last, "met"] == 0).all()
    untouched = before["outcome_rollup"]
    pd.testing.assert_frame_equal(o[o["school_year"] == first], untouched[untouched["school_year"] == first])
    added = years[years["school_year"] == "2020-21"]
    assert added["schools"].sum() == len(new_year)
    assert added["students_served"].sum() == new_year["students_served"].astype(int).sum()

    assert_undo_restores(loaded, report.load_id, before)


def test_rollups_follow_a_school_moved_to_another_affiliate_and_back(
    loaded: sa.Engine, demo_csv: Path, tmp_path: Path
) -> None:
    before = rollups(loaded)
    schools = read(demo_csv, "schools")
    state = schools["state"].value_counts().index[0]
    here = schools[schools["state"] == state]
    one, other = here["affiliate_id"].drop_duplicates().head(2)
    moved = here[here["affiliate_id"] == one].head(1).assign(affiliate_id=other)
    report = ingest.load_tables(loaded, [write(tmp_path, "schools", moved)], "tester")
    assert report.ok and report.counts["schools"].changed == 1
    assert_rollups_are_a_full_refresh(loaded)
    sy = read(demo_csv, "school_years")
    school = moved["school_id"].iloc[0]
    served = sy.loc[sy["school_id"] == school].set_index("school_year")["students_served"].astype(int)
    r = rollups(loaded)["school_year_rollup"]
    gained = r[r["affiliate_id"] == other].set_index("school_year")["students_served"]
    had = before["school_year_rollup"]
    had = had[had["affiliate_id"] == other].set_index("school_year")["students_served"]
    assert (gained - had).dropna().to_dict() == served.to_dict()
    assert_undo_restores(loaded, report.load_id, before)


def test_rollups_follow_a_partner_given_another_category_and_back(
    loaded: sa.Engine, demo_csv: Path, tmp_path: Path
) -> None:
    before = rollups(loaded)
    partners, ps = read(demo_csv, "partners"), read(demo_csv, "partnerships")
    busiest = ps["partner_id"].value_counts().index[0]  # in every year it serves
    partner = partners[partners["partner_id"] == busiest]
    other = sorted(set(partners["category"]) - set(partner["category"]))[0]
    report = ingest.load_tables(loaded, [write(tmp_path, "partners", partner.assign(category=other))], "tester")
    assert report.ok and report.counts["partners"].changed == 1
    assert_rollups_are_a_full_refresh(loaded)  # every year it serves is counted under its new category
    c = rollups(loaded)["partner_category_rollup"]
    gained = c[(c["partner_category"] == other) & (c["support_category"] == "")].set_index("school_year")["partners"]
    had = before["partner_category_rollup"]
    had = had[(had["partner_category"] == other) & (had["support_category"] == "")].set_index("school_year")
    served = ps.loc[ps["partner_id"] == busiest, "school_year"].unique()
    assert ((gained - had["partners"]).reindex(served) == 1).all()
    assert_undo_restores(loaded, report.load_id, before)


def test_numbers_are_read_in_every_form_the_contract_allows() -> None:
    written = pd.Series(["5.", ".5", "1e3", "-0.0", "007", "12.000", None, "1E-2", "1e999"])
    read_as = ingest._numbers(written).tolist()
    assert read_as[:6] == [5.0, 0.5, 1000.0, 0.0, 7.0, 12.0] and pd.isna(read_as[6])
    assert read_as[7:] == [0.01, float("inf")]
    assert ingest._numbers(pd.Series(["9007199254740993", "1"])).tolist() == [2**53 + 1, 1]  # past exact floats


def test_utf8_bom_and_utf16_text_are_read_correctly(loaded: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    sy = read(demo_csv, "school_years").head(5)
    text = sy.to_csv(index=False)
    before = counts(loaded)
    for name, data in {
        "bom": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "utf16": text.encode("utf-16"),  # with a BOM, as Excel's 'Unicode text' writes it
        "utf16le": text.encode("utf-16-le"),  # no BOM
        "utf16be": text.encode("utf-16-be"),
    }.items():
        (tmp_path / name).mkdir()
        path = tmp_path / name / "school_years.csv"
        path.write_bytes(data)
        report = ingest.load_tables(loaded, [path], "tester")
        assert report.ok, (name, report.problems[:3])
        assert report.counts["school_years"].unchanged == 5, name
    assert counts(loaded)["school_years"] == before["school_years"]


def test_unknown_extra_column_is_warned_and_ignored(loaded: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    sy = read(demo_csv, "school_years").head(3).assign(notes="keep me out")
    report = ingest.load_tables(loaded, [write(tmp_path, "school_years", sy)], "tester")
    assert report.ok and report.counts["school_years"].unchanged == 3
    assert [w.column for w in report.warnings] == ["notes"] and "ignored" in report.warnings[0].message


def test_a_200_mb_file_is_refused_before_it_is_read(
    loaded: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "schools.csv"
    with path.open("wb") as f:  # sparse: 200 MB on paper, nothing on disk
        f.truncate(200 * 1024 * 1024)

    def never(self: Path) -> bytes:
        raise AssertionError(f"{self} was read whole")

    monkeypatch.setattr(Path, "read_bytes", never)
    before = counts(loaded)
    report = ingest.load_tables(loaded, [path], "tester")
    assert not report.ok
    limit = upload_files.default_max_bytes()
    assert f"209,715,200 bytes, over the limit of {limit:,} bytes ({limit / 1024**2:.1f} MB)" in str(report.problems[0])
    assert counts(loaded) == before


def _workbook(demo_csv: Path, path: Path, tweak) -> Path:
    """A workbook with an outcomes sheet (first 10 demo rows, numbers as numbers), changed by tweak(workbook)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "outcomes"
    oc = read(demo_csv, "outcomes").head(10)
    ws.append(list(oc.columns))
    for row in oc.itertuples(index=False):
        ws.append(
            [int(v) if v.isdigit() and c not in ("school_id",) else v for c, v in zip(oc.columns, row, strict=True)]
        )
    tweak(wb)
    wb.save(path)
    return path


def test_xlsx_formulas_merged_cells_and_hidden_sheets_are_refused(
    loaded: sa.Engine, demo_csv: Path, tmp_path: Path
) -> None:
    def formula(wb) -> None:
        wb["outcomes"]["E3"] = "=E2+1"  # eligible of the second row

    def merged(wb) -> None:
        wb["outcomes"].merge_cells("A2:A4")

    def hidden(wb) -> None:
        extra = wb.create_sheet("schools")
        extra.append(["school_id", "name"])
        extra.sheet_state = "hidden"

    def very_hidden(wb) -> None:
        wb.create_sheet("affiliates").sheet_state = "veryHidden"

    cases = {
        "formula": (formula, "cell E3 holds a formula", (3, "eligible")),
        "merged": (merged, "cells A2:A4 are merged", (2, "school_id")),
        "hidden": (hidden, "sheet is hidden", (None, None)),
        "very_hidden": (very_hidden, "sheet is veryHidden", (None, None)),
    }
    assert read(demo_csv, "outcomes").columns[4] == "eligible"
    before = counts(loaded)
    for name, (tweak, fragment, where) in cases.items():
        path = _workbook(demo_csv, tmp_path / f"{name}.xlsx", tweak)
        report = ingest.load_tables(loaded, [path], "tester")
        assert not report.ok, name
        hits = [p for p in report.problems if fragment in p.message]
        assert hits and (hits[0].row, hits[0].column) == where, (name, [str(p) for p in report.problems])
        assert all(p.file.startswith(path.name) for p in report.problems)
        assert counts(loaded) == before, name
    plain = _workbook(demo_csv, tmp_path / "plain.xlsx", lambda wb: None)
    report = ingest.load_tables(loaded, [plain], "tester")
    assert report.ok and report.counts["outcomes"].unchanged == 10, report.problems[:3]


def test_filled_template_workbook_loads_skipping_guide_and_empty_sheets(
    loaded: sa.Engine, demo_csv: Path, tmp_path: Path
) -> None:
    import openpyxl

    from dashboard.data import templates

    path = tmp_path / "template.xlsx"
    path.write_bytes(templates.xlsx_template())
    wb = openpyxl.load_workbook(path)
    for row in read(demo_csv, "affiliates").head(4).itertuples(index=False):
        wb["affiliates"].append(list(row))
    wb.save(path)
    report = ingest.load_tables(loaded, [path], "tester")
    assert report.ok, [str(p) for p in report.problems[:3]]
    assert report.counts == {"affiliates": ingest.TableCounts(0, 0, 4)}
    assert any("column guide" in w.message for w in report.warnings)


def _two_affiliates(demo_csv: Path) -> tuple[str, str, pd.DataFrame]:
    """(an affiliate, another one, the schools table), both affiliates having schools."""
    schools = read(demo_csv, "schools")
    first, second = schools["affiliate_id"].drop_duplicates().head(2)
    return first, second, schools


def test_affiliate_lead_loads_only_its_own_rows(loaded: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    mine, other, schools = _two_affiliates(demo_csv)
    lead = queries.Scope(frozenset({mine}))
    owner = dict(zip(schools["school_id"], schools["affiliate_id"], strict=True))
    oc = read(demo_csv, "outcomes")
    oc = pd.concat([oc[oc["school_id"].map(owner) == mine].head(6), oc[oc["school_id"].map(owner) == other].head(3)])
    oc = oc.sample(frac=1, random_state=1).reset_index(drop=True).assign(met="0")
    theirs = [i + 2 for i, s in enumerate(oc["school_id"]) if owner[s] == other]
    before = {t: table(loaded, t) for t in ("outcomes", "schools", "affiliates", "finances")}
    before_counts = counts(loaded)

    refused = ingest.load_tables(loaded, [write(tmp_path / "mixed", "outcomes", oc)], "lead", scope=lead)
    assert not refused.ok
    assert sorted(p.row for p in refused.problems) == theirs
    assert {p.column for p in refused.problems} == {"school_id"}
    assert all("another affiliate" in p.message and mine in p.message for p in refused.problems)

    moved = schools[schools["affiliate_id"] == mine].head(1).assign(affiliate_id=other)
    claimed = schools[schools["affiliate_id"] == other].head(1).assign(affiliate_id=mine)
    aff = read(demo_csv, "affiliates")
    fin = read(demo_csv, "finances")
    new_school = schools.head(1).assign(school_id="LEAD-NEW", affiliate_id=other)
    sy = read(demo_csv, "school_years").head(1).assign(school_id="LEAD-NEW")
    cases = {
        "moved": ([write(tmp_path / "moved", "schools", moved)], [(2, "affiliate_id")]),
        "claimed": ([write(tmp_path / "claimed", "schools", claimed)], [(2, "school_id")]),
        "affiliate": ([write(tmp_path / "aff", "affiliates", aff[aff["affiliate_id"] == other])], [(2, "affiliate_id")]),
        "finances": ([write(tmp_path / "fin", "finances", fin[fin["affiliate_id"] == other].head(2))],
                     [(2, "affiliate_id"), (3, "affiliate_id")]),
        "new_school": ([write(tmp_path / "new", "schools", new_school), write(tmp_path / "new", "school_years", sy)],
                       [(2, "affiliate_id"), (2, "school_id")]),
    }  # fmt: skip
    for name, (files, where) in cases.items():
        report = ingest.load_tables(loaded, files, "lead", scope=lead)
        assert not report.ok, name
        assert sorted((p.row, p.column) for p in report.problems) == sorted(where), (name, report.problems)
        assert counts(loaded) == before_counts, name
    for name, frame in before.items():
        pd.testing.assert_frame_equal(table(loaded, name), frame)

    own = oc[oc["school_id"].map(owner) == mine]
    ok = ingest.load_tables(loaded, [write(tmp_path / "own", "outcomes", own)], "lead", scope=lead)
    assert ok.ok, ok.problems
    assert ok.counts["outcomes"].added == 0 and ok.counts["outcomes"].changed + ok.counts["outcomes"].unchanged == 6
    everything = ingest.load_tables(loaded, [write(tmp_path / "mixed2", "outcomes", oc)], "admin")
    assert everything.ok


def test_affiliate_lead_may_add_partners_but_not_change_them(loaded: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    mine, _, _ = _two_affiliates(demo_csv)
    lead = queries.Scope(frozenset({mine}))
    partners = read(demo_csv, "partners").head(2)
    renamed = partners.assign(name=["Renamed partner", partners.loc[1, "name"]])
    refused = ingest.load_tables(loaded, [write(tmp_path / "a", "partners", renamed)], "lead", scope=lead)
    assert [(p.row, p.column) for p in refused.problems] == [(2, "partner_id")]
    assert "only an admin may change" in refused.problems[0].message
    new = pd.concat([partners, partners.head(1).assign(partner_id="LEAD-PARTNER")])
    report = ingest.load_tables(loaded, [write(tmp_path / "b", "partners", new)], "lead", scope=lead)
    assert report.ok and (report.counts["partners"].added, report.counts["partners"].unchanged) == (1, 2)


def test_affiliate_lead_undoes_only_its_own_loads(loaded: sa.Engine, demo_csv: Path, tmp_path: Path) -> None:
    mine, _, schools = _two_affiliates(demo_csv)
    lead = queries.Scope(frozenset({mine}))
    ids = set(schools.loc[schools["affiliate_id"] == mine, "school_id"])
    oc = read(demo_csv, "outcomes")
    oc = oc[oc["school_id"].isin(ids)].head(3).assign(met="0")
    before = table(loaded, "outcomes")
    admin = ingest.load_tables(loaded, [write(tmp_path / "a", "outcomes", oc)], "admin")
    with pytest.raises(ingest.LoadError, match="may undo only its own loads"):
        ingest.undo_load(loaded, admin.load_id, by="lead", scope=lead)
    ingest.undo_load(loaded, admin.load_id)
    own = ingest.load_tables(loaded, [write(tmp_path / "b", "outcomes", oc)], "lead", scope=lead)
    ingest.undo_load(loaded, own.load_id, by="lead", scope=lead)
    pd.testing.assert_frame_equal(table(loaded, "outcomes"), before)


def test_cli_load_as_an_affiliate_lead_is_limited_to_its_affiliates(
    demo_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard.data import users

    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = db.create_engine(url)
    migrate.upgrade(engine)
    assert ingest.load_tables(engine, [demo_csv / "affiliates.csv", demo_csv / "schools.csv"], "admin").ok
    mine, other, schools = _two_affiliates(demo_csv)
    users.add_user(engine, "lead1", "Lead", "lead@example.org", "long-enough-pass", "affiliate_lead", [mine])
    sy = read(demo_csv, "school_years")
    sy = sy[sy["school_id"].isin(schools.loc[schools["affiliate_id"].isin([mine, other]), "school_id"])]
    run = [sys.executable, "-c", CLI, "load", str(write(tmp_path / "sy", "school_years", sy)), "--database-url", url]
    refused = subprocess.run([*run, "--as", "lead1"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1, refused.stdout
    n_other = int(sy["school_id"].isin(schools.loc[schools["affiliate_id"] == other, "school_id"]).sum())
    assert refused.stdout.count("belongs to another affiliate") == n_other > 0
    assert counts(engine)["school_years"] == 0
    admin = subprocess.run([*run, "--as", "someone-else"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert admin.returncode == 0, admin.stdout
    assert counts(engine)["school_years"] == len(sy)


KILL = """
import sys, time
from pathlib import Path
from dashboard.data import db, ingest
write = ingest._write
def then_wait(conn, table, *args):
    write(conn, table, *args)
    print("wrote", table, flush=True)
    if table == "outcomes":  # the last table of the load: wait, transaction open, to be killed
        time.sleep(300)
ingest._write = then_wait
ingest.load_tables(db.create_engine(sys.argv[1]), [Path(p) for p in sys.argv[2:]], "doomed")
"""


def checksum(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    """Rows and a SHA-256 of every row, per table (contract tables, loads and load_changes)."""
    import hashlib

    out = {}
    with engine.connect() as conn:
        for t in (*db.CONTRACT_TABLES, db.loads, db.load_changes):
            rows = conn.execute(sa.select(t).order_by(*t.primary_key.columns)).all()
            out[t.name] = (len(rows), hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest())
    return out


def test_a_load_killed_mid_transaction_leaves_the_database_unchanged(
    loaded: sa.Engine, demo_csv: Path, tmp_path: Path
) -> None:
    schools = read(demo_csv, "schools")
    new_schools = schools.head(20).assign(school_id=[f"KILL-{i}" for i in range(20)])
    fix = tmp_path / "fix"
    write(fix, "schools", pd.concat([schools.head(30).assign(name="Changed"), new_schools]))
    write(fix, "outcomes", read(demo_csv, "outcomes").assign(met="0"))
    before = checksum(loaded)
    url = loaded.url.render_as_string(hide_password=False)
    proc = subprocess.Popen([sys.executable, "-c", KILL, url, str(fix)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        written = [proc.stdout.readline().strip() for _ in range(2)]
        assert written == ["wrote schools", "wrote outcomes"], proc.stderr.read() if proc.poll() is not None else ""
        with loaded.connect() as conn:  # the rows are written, uncommitted, when the process dies
            if loaded.dialect.name == "postgresql":
                states = conn.execute(sa.text("SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                                              "AND pid <> pg_backend_pid()")).scalars().all()  # fmt: skip
                assert "idle in transaction" in states
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert checksum(loaded) == before
    report = ingest.load_tables(loaded, [fix], "after")  # no lock or journal left behind
    assert report.ok and report.counts["schools"].added == 20


def test_two_loads_at_once_are_serialised(engine: sa.Engine, demo_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [demo_csv / f"{t}.csv" for t in ("affiliates", "schools", "school_years", "outcomes")]
    both_checking = threading.Barrier(2)
    check = ingest._check_foreign_keys

    def meet_then_check(*args) -> None:
        # unserialised, both loads get here together and diff against the same rows; serialised, the first
        # waits here in vain while the second waits for it
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checking.wait(timeout=3)
        check(*args)

    monkeypatch.setattr(ingest, "_check_foreign_keys", meet_then_check)
    results: dict[str, object] = {}

    def load(name: str) -> None:
        try:
            results[name] = ingest.load_tables(engine, files, name)
        except Exception as exc:  # kept for the assertion below, which names it
            results[name] = exc

    threads = [threading.Thread(target=load, args=(name,)) for name in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    busy = [r for r in results.values() if isinstance(r, ingest.LoadError) and "another load" in str(r)]
    reports = [r for r in results.values() if isinstance(r, ingest.LoadReport) and r.ok]
    assert len(busy) + len(reports) == 2, results
    assert reports and sum(r.counts["outcomes"].added for r in reports) == len(read(demo_csv, "outcomes"))
    assert counts(engine)["outcomes"] == len(read(demo_csv, "outcomes")) and counts(engine)["loads"] == len(reports)
    assert_rollups_are_a_full_refresh(engine)


def test_a_load_or_undo_while_another_holds_the_database_is_told_to_try_again(
    loaded: sa.Engine, demo_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHBOARD_LOAD_WAIT_SECONDS", "1")
    before = checksum(loaded)
    with loaded.connect() as other:  # another load, in the middle of its transaction
        if loaded.dialect.name == "postgresql":
            other.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ingest.LOCK_KEY})
        else:
            other.exec_driver_sql("BEGIN IMMEDIATE")
        with pytest.raises(ingest.LoadError, match=r"another load or undo is running .* then try again"):
            ingest.load_tables(loaded, [demo_csv / "affiliates.csv"], "second")
        with pytest.raises(ingest.LoadError, match="another load or undo is running"):
            ingest.undo_load(loaded, 1)
        assert ingest.load_tables(loaded, [demo_csv / "affiliates.csv"], "checker", dry_run=True).ok  # reads go on
        other.rollback()
    assert checksum(loaded) == before
    assert ingest.load_tables(loaded, [demo_csv / "affiliates.csv"], "after").ok
