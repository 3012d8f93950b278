"""Widgets of the Data page: upload and check files, confirm a load, templates, load history with undo."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from components import data
from dashboard.data import contract, ingest, templates, upload_files, users
from dashboard.data.queries import EVERYTHING, Scope
from dashboard.export import to_csv
from dashboard.formatting import markdown_text

PREVIEW_ROWS = 5


def current_user() -> str:
    """The signed-in user's name as loads record it, or 'anonymous'."""
    user = st.session_state.get("user")
    return getattr(user, "username", None) or "anonymous"


def current_scope() -> Scope:
    """The signed-in user's scope: an affiliate lead's own affiliates, or everything."""
    return st.session_state.get("scope", EVERYTHING)


def uploader() -> list:
    """The file picker: several contract tables as <table>.csv files or XLSX workbooks (a sheet per table).

    Keyed by the upload round: after a load the picker starts empty, so the files just loaded (and their Confirm
    button) do not come back."""
    return st.file_uploader(
        "Contract tables: `<table>.csv` files, or an XLSX workbook with a sheet per table",
        type=["csv", "xlsx"],
        accept_multiple_files=True,
        key=f"data_upload_{int(st.session_state.get('upload_round', 0))}",
    )


def save_uploads(files: list, folder: Path) -> list[Path]:
    """Write the uploaded files into the folder under their original names (no folders); returns the paths."""
    paths = []
    for f in files:
        path = folder / Path(f.name).name
        path.write_bytes(f.getvalue())
        paths.append(path)
    return paths


def _previews(paths: list[Path]) -> tuple[dict[str, pd.DataFrame], list[upload_files.Problem]]:
    """(label -> first rows as read (text) for each readable table, the problems refusing files unread).

    The loader's limits run before pandas opens a file: `nrows` stops neither openpyxl reading every shared
    string of a workbook nor anything else a zip bomb unpacks, so a refused file is not opened at all.
    """
    out: dict[str, pd.DataFrame] = {}
    refused: list[upload_files.Problem] = []
    for path in paths:
        if problems := upload_files.refusals(path):
            refused += problems
            continue
        try:
            if path.suffix.lower() == ".xlsx":
                sheets = pd.read_excel(path, sheet_name=None, dtype=str, nrows=PREVIEW_ROWS, engine="openpyxl")
                out.update({f"{path.name} [{name}]": frame for name, frame in sheets.items()})
            else:
                out[path.name] = pd.read_csv(path, dtype=str, nrows=PREVIEW_ROWS, keep_default_na=False)
        except Exception:  # the checks below say what is wrong with the file
            continue
    return out, refused


def _counts(counts: pd.DataFrame, caption: str) -> None:
    """templates.counts_frame under its caption, with readable headers."""
    st.caption(caption)
    st.dataframe(counts.rename(columns=templates.COUNT_LABELS), hide_index=True)


def _changes(report: ingest.LoadReport) -> None:
    """Before and after of every value the load would change, per table (the first CHANGE_SAMPLE of each)."""
    for table, changes in report.changes.items():
        changed = report.counts[table].changed
        shown = f"the first {len(changes):,} values" if len(changes) >= ingest.CHANGE_SAMPLE else "every value"
        with st.expander(f"{table}: {changed:,} changed row(s), before and after ({shown})"):
            st.dataframe(changes.rename(columns=str.capitalize), hide_index=True)


def check(engine: sa.Engine, paths: list[Path], loaded_by: str) -> ingest.LoadReport:
    """Dry-run the files with progress shown; then show previews, problems, warnings and per-table counts."""
    with st.status(f"Checking {len(paths)} file(s)…", expanded=False) as status:
        bar = st.progress(0.0, text="Reading the files")
        previews, refused = _previews(paths)
        bar.progress(0.4, text="Checking every row against the contract and the database")
        report = ingest.load_tables(engine, paths, loaded_by=loaded_by, dry_run=True, scope=current_scope())
        bar.progress(1.0, text="Checked")
        status.update(
            label="Files checked: ready to load" if report.ok else f"{report.problem_count:,} problem(s) found",
            state="complete" if report.ok else "error",
        )
    if previews or refused:
        st.subheader("Preview")
        for problem in refused:
            st.error(f"Not previewed, refused unread: {markdown_text(problem)}")
        for label, frame in previews.items():
            with st.expander(f"{markdown_text(label)}: first {min(len(frame), PREVIEW_ROWS)} rows"):
                st.dataframe(frame, hide_index=True)
    if report.problems:
        st.subheader("Problems")
        st.error(f"{report.problem_count:,} problem(s): nothing can be loaded until every one is fixed.")
        problems = templates.problems_frame(report.problems)
        if report.problem_count > len(report.problems):
            st.caption(f"The first {len(report.problems):,} are listed; {report.problem_count - len(report.problems):,} "
                       "more are only counted. Fix these and check again.")  # fmt: skip
        st.dataframe(problems, hide_index=True)
        st.download_button("Download problems (CSV)", to_csv(problems), file_name="load_problems.csv",
                           mime="text/csv", key="dl_problems")  # fmt: skip
    if report.warnings:
        st.subheader("Warnings")
        st.warning(f"{len(report.warnings):,} warning(s): these do not stop a load.")
        st.dataframe(templates.problems_frame(report.warnings), hide_index=True)
    if report.ok:
        _counts(templates.counts_frame(report), "What a load would do, per table (nothing written yet):")
        _changes(report)
    return report


def confirm(engine: sa.Engine, paths: list[Path], loaded_by: str) -> ingest.LoadReport | None:
    """The 'Confirm load' button: runs the real load and shows its summary."""
    if not st.button("Confirm load", type="primary", key="confirm_load"):
        return None
    try:
        with st.spinner("Loading…"):
            report = ingest.load_tables(engine, paths, loaded_by=loaded_by, scope=current_scope())
    except ingest.LoadError as exc:  # another load held the database
        st.error(f"The load did not run: {markdown_text(exc)}")
        return None
    if not report.ok:  # the data changed between the check and the load
        st.error("The load was refused; nothing was written:")
        st.dataframe(templates.problems_frame(report.problems), hide_index=True)
        return report
    # Nothing to clear: the load raised the data version, which every cached read (on every replica) is keyed on.
    _new_undo_round()  # the history below offers the new load first, with nothing ticked
    st.session_state["upload_round"] = int(st.session_state.get("upload_round", 0)) + 1
    st.session_state["load_done"] = (report.load_id, templates.counts_frame(report))
    st.rerun()  # the picker starts empty: the files just loaded, and their Confirm button, are gone
    return report


def review(engine: sa.Engine, paths: list[Path], loaded_by: str) -> ingest.LoadReport:
    """Check the files and, when they pass, offer to load them."""
    report = check(engine, paths, loaded_by)
    if report.ok:
        confirm(engine, paths, loaded_by)
    return report


def upload_section(engine: sa.Engine) -> None:
    """The uploader, and the check and load of whatever it holds."""
    if done := st.session_state.pop("load_done", None):
        load_id, counts = done
        st.success(f"Load {load_id:d} recorded. Every page now shows the new figures.")
        _counts(counts, "What the load did, per table:")
    scope = current_scope()
    if scope.affiliates is not None:
        st.caption(f"You can load rows of your own affiliates only ({markdown_text(', '.join(sorted(scope.affiliates)))}); a file "
                   "naming another affiliate or one of its schools is refused whole.")  # fmt: skip
    files = uploader()
    if not files:
        st.info(
            "No files chosen yet. Name each CSV after its table (for example `schools.csv`), or upload one XLSX "
            "workbook with a sheet per table. Files are checked first; nothing is written until you confirm."
        )
        return
    with tempfile.TemporaryDirectory(prefix="dashboard_upload_") as tmp:
        review(engine, save_uploads(files, Path(tmp)), current_user())


def template_downloads() -> None:
    """A header-only CSV per contract table and the XLSX workbook with a 'columns' sheet."""
    st.download_button("XLSX workbook (a sheet per table, plus a 'columns' guide)", templates.xlsx_template(),
                       file_name="contract_template.xlsx", key="dl_template_xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip
    cols = st.columns(4)
    for i, (name, body) in enumerate(templates.csv_templates().items()):
        cols[i % 4].download_button(name, body, file_name=name, mime="text/csv", key=f"dl_template_{name}")
    with st.expander("What each column holds"):
        st.dataframe(templates.column_guide(), hide_index=True)
    st.caption(f"Tables load in this order, so references resolve: {', '.join(contract.TABLES)}.")


def current_rows_download(engine: sa.Engine, years: list[str]) -> None:
    """The rows in the user's scope as they stand, for one school year, as a workbook to edit and upload again."""
    if not years:
        return
    scope = current_scope()
    year = st.selectbox("School year of the rows", list(reversed(years)), key="current_rows_year")
    whose = "your affiliates'" if scope.affiliates is not None else "the whole network's"
    name = f"current_rows_{year}.xlsx"
    user = current_user()

    def make() -> bytes:
        body = templates.rows_xlsx(templates.current_rows(engine, scope, year))
        users.audit(engine, user, users.DOWNLOADED, name)
        return body

    st.download_button(f"Current rows, {year} (XLSX)", make, file_name=name, key="dl_current_rows", on_click="ignore",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip
    st.caption(f"{whose.capitalize()} rows of {year} (and the affiliates, schools and partners they name), under the "
               "template's headers. Change what needs changing, upload the file, and the check lists every value "
               "before and after; rows left as they are load as unchanged."
               + ("" if scope.affiliates is not None else " The whole network's file holds some 130,000 rows a year at "
                  "the demo's size and takes about 20 seconds to make."))  # fmt: skip


def _undo_round() -> int:
    """The undo form's round: its widgets are keyed by it, so after a load or an undo the form starts afresh (newest
    load chosen, nothing ticked or typed) instead of keeping what the browser last held."""
    return int(st.session_state.get("undo_round", 0))


def _new_undo_round() -> None:
    st.session_state["undo_round"] = _undo_round() + 1


def load_history(engine: sa.Engine) -> None:
    """Every load, newest first, with an undo for a load still in place: the newest is offered first; a load that
    holds more than a school year's rows, or the initial build, asks for its id to be typed."""
    if message := st.session_state.pop("undo_message", None):
        st.success(message)
    everything = templates.load_history(engine)
    history = everything
    scope = current_scope()
    if scope.affiliates is not None:
        history = history[history["loaded_by"] == current_user()]
        st.caption("Your own loads; an admin sees and can undo every load.")
    if history.empty:
        st.info("No loads are recorded yet: the first confirmed upload will appear here.")
        return
    st.dataframe(templates.history_for_people(history), hide_index=True)
    undoable = history.loc[history["status"] == "loaded", "load_id"].tolist()
    if not undoable:
        st.caption("Every load has been undone.")
        return
    round_ = _undo_round()
    load_id = st.selectbox("Load to undo", undoable, index=0, key=f"undo_load_id_{round_}",
                           help="Deletes the rows the load added and restores the rows it changed.")  # fmt: skip
    why = templates.undo_needs_typed_id(everything, data.largest_year_rows(engine)).get(int(load_id))
    if why:
        typed = st.text_input(f"{why} Type {load_id} to undo it.", key=f"undo_typed_{round_}_{load_id}")
        sure = typed.strip() == str(load_id)
    else:
        sure = st.checkbox(f"Yes, undo load {load_id}", key=f"undo_confirm_{round_}_{load_id}")
    if st.button("Undo", key="undo_load", disabled=not sure):
        try:
            touched = ingest.undo_load(engine, int(load_id), by=current_user(), scope=scope)
        except ingest.LoadError as exc:
            st.error(f"Load {load_id} was not undone: {markdown_text(exc)}")
            return
        _new_undo_round()  # the next undo asks again, from the newest load still in place
        st.session_state["undo_message"] = (
            f"Load {load_id} undone ({sum(touched.values()):,} row(s) restored or removed)."
        )
        st.rerun()
