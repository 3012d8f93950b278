"""The Data page's templates: every contract table and column in the CSVs and the workbook; problem and history frames."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from openpyxl import load_workbook

from dashboard.data import contract, db, ingest, migrate, templates, upload_files


def test_a_header_only_csv_per_contract_table() -> None:
    files = templates.csv_templates()
    assert set(files) == {f"{t}.csv" for t in contract.TABLES}
    for table in contract.TABLES:
        frame = pd.read_csv(io.BytesIO(files[f"{table}.csv"]), dtype=str)
        assert tuple(frame.columns) == contract.columns(table)
        assert frame.empty


def test_workbook_has_a_sheet_per_table_and_a_columns_guide() -> None:
    wb = load_workbook(io.BytesIO(templates.xlsx_template()), read_only=True)
    assert wb.sheetnames == [*contract.TABLES, "columns"]
    for table in contract.TABLES:
        rows = list(wb[table].iter_rows(values_only=True))
        assert rows == [contract.columns(table)]
    guide = pd.read_excel(io.BytesIO(templates.xlsx_template()), sheet_name="columns", dtype=str)
    expected = {(t, c) for t in contract.TABLES for c in contract.columns(t)}
    assert set(zip(guide["table"], guide["column"], strict=True)) == expected
    assert len(guide) == len(expected)
    assert guide["kind"].notna().all()
    kinds = guide.set_index(["table", "column"])
    assert "TX" in kinds.loc[("schools", "state"), "kind"]
    assert "graduated" in kinds.loc[("outcomes", "metric"), "allowed_values"]
    assert "expense: program" in kinds.loc[("finances", "category"), "allowed_values"]
    assert "schools" in kinds.loc[("outcomes", "school_id"), "references"]


def test_the_filled_in_templates_load(tmp_path, sqlite_engine) -> None:
    """A CSV template filled with one row passes the loader's checks."""
    (tmp_path / "affiliates.csv").write_bytes(
        templates.empty_csv("affiliates") + b"NEW-1,New affiliate,affiliate,TX,Austin,,\n"
    )
    report = ingest.load_tables(sqlite_engine, [tmp_path / "affiliates.csv"], loaded_by="t", dry_run=True)
    assert report.ok, report.problems
    assert report.counts["affiliates"].added == 1


def test_problems_frame() -> None:
    problems = [
        upload_files.Problem("schools.csv", 3, "state", "ZZ", "unknown state"),
        upload_files.Problem("x.csv", None, None, None, "file name must be a contract table"),
    ]
    frame = templates.problems_frame(problems)
    assert list(frame.columns) == ["file", "row", "column", "value", "message"]
    assert frame["row"].tolist()[0] == 3 and pd.isna(frame["row"].tolist()[1])
    assert templates.problems_frame([]).empty


def test_load_history_newest_first(tmp_path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'h.sqlite3'}")
    migrate.upgrade(engine)
    assert templates.load_history(engine).empty
    folder = tmp_path / "in"
    folder.mkdir()
    for n in (1, 2):
        (folder / "affiliates.csv").write_text(
            f"affiliate_id,name,kind,state,city,latitude,longitude\nA{n},A,affiliate,TX,Austin,30.3,-97.7\n"
        )
        assert ingest.load_tables(engine, [folder / "affiliates.csv"], loaded_by=f"user{n}").ok
    history = templates.load_history(engine)
    assert list(history.columns) == templates.HISTORY_COLUMNS
    assert history["loaded_by"].tolist() == ["user2", "user1"]
    assert (history["status"] == "loaded").all()
    assert history["rows_added"].tolist() == [1, 1]


@pytest.mark.parametrize("table", list(contract.TABLES))
def test_every_column_is_explained(table) -> None:
    guide = templates.column_guide()
    assert guide.loc[guide["table"] == table, "column"].tolist() == list(contract.columns(table))


def test_largest_year_rows_counts_the_busiest_year_from_the_raw_tables(sqlite_engine) -> None:
    with sqlite_engine.connect() as conn:
        frames = {t: pd.read_sql_table(t, conn) for t in templates.YEAR_TABLES}
    per_year = pd.concat([f["school_year"] for f in frames.values()]).value_counts()
    assert templates.largest_year_rows(sqlite_engine) == int(per_year.max()) > 0


def test_undo_asks_for_the_id_of_the_initial_build_and_of_any_load_bigger_than_a_year() -> None:
    history = pd.DataFrame(
        {
            "load_id": [5, 4, 3, 2, 1],
            "rows_added": [10, 1_000, 400, 1, 989_710],
            "rows_changed": [0, 200, 0, None, 0],
            "status": ["loaded", "loaded", "loaded", "undone", "loaded"],
        }
    )
    # 1,200 rows against a year of 1,000: typed; 400 and 10: ticked; an undone load is not offered at all.
    asked = templates.undo_needs_typed_id(history, year_rows=1_000)
    assert set(asked) == {1, 4}
    assert "initial build" in asked[1]
    assert "1,200 rows" in asked[4] and "(1,000)" in asked[4]
    assert set(templates.undo_needs_typed_id(history, year_rows=5_000)) == {1}
    assert templates.undo_needs_typed_id(history.iloc[:0], year_rows=1_000) == {}


def test_a_leads_current_rows_are_its_own_and_load_back_unchanged(tmp_path, sqlite_engine, raw) -> None:
    from dashboard.data.queries import Scope

    year = raw["school_years"]["school_year"].max()
    affiliate = raw["schools"]["affiliate_id"].value_counts().index[0]
    scope = Scope(frozenset({affiliate}))
    frames = templates.current_rows(sqlite_engine, scope, year)
    mine = raw["schools"].loc[raw["schools"]["affiliate_id"] == affiliate, "school_id"]
    assert set(frames["schools"]["school_id"]) == set(mine)
    assert set(frames["affiliates"]["affiliate_id"]) == {affiliate}
    expected = raw["outcomes"][(raw["outcomes"]["school_year"] == year) & raw["outcomes"]["school_id"].isin(mine)]
    assert len(frames["outcomes"]) == len(expected) > 0
    assert set(frames["school_years"]["school_year"]) == {year}
    for table, frame in frames.items():
        assert tuple(frame.columns) == contract.columns(table)
    path = tmp_path / "current.xlsx"
    path.write_bytes(templates.rows_xlsx(frames))
    assert load_workbook(path, read_only=True).sheetnames == list(contract.TABLES)
    report = ingest.load_tables(sqlite_engine, [path], loaded_by="lead", dry_run=True, scope=scope)
    assert report.ok, report.summary_lines()
    assert all(c.added == 0 and c.changed == 0 for c in report.counts.values()), report.summary_lines()
    assert sum(c.unchanged for c in report.counts.values()) == sum(len(f) for f in frames.values())


def test_an_edited_value_is_listed_before_and_after(tmp_path, sqlite_engine, raw) -> None:
    from dashboard.data.queries import Scope

    year = raw["school_years"]["school_year"].max()
    affiliate = raw["schools"]["affiliate_id"].value_counts().index[0]
    scope = Scope(frozenset({affiliate}))
    frames = templates.current_rows(sqlite_engine, scope, year)
    years = frames["school_years"]
    before = int(years.loc[0, "volunteers"])
    years.loc[0, "volunteers"] = before + 7
    path = tmp_path / "edited.xlsx"
    path.write_bytes(templates.rows_xlsx({"school_years": years}))
    report = ingest.load_tables(sqlite_engine, [path], loaded_by="lead", dry_run=True, scope=scope)
    assert report.ok and report.counts["school_years"].changed == 1
    assert report.changes["school_years"].to_dict("records") == [{
        "row": f"school_id {years.loc[0, 'school_id']} · school_year {year}", "column": "volunteers",
        "before": str(before), "after": str(before + 7)}]  # fmt: skip
