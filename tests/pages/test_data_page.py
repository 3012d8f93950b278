"""The Data page through AppTest: templates, load history with undo, and the check-then-load flow on files."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.data import contract, db, migrate, upload_files
from dashboard.formatting import markdown_text
from dashboard.tools import demo
from tests.hostile_workbooks import MEGABYTES, SECONDS, shared_strings_bomb, with_cell, workbook

ROOT = Path(__file__).resolve().parents[2]
AFFILIATES_HEADER = "affiliate_id,name,kind,state,city,latitude,longitude\n"


@pytest.fixture(scope="module")
def network() -> demo.Network:
    return demo.generate(scale=0.2)


@pytest.fixture
def engine(tmp_path: Path, network: demo.Network, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """A fresh SQLite database holding the demo network, recorded as load 1 by 'demo' (as the app builds it)."""
    eng = db.create_engine(f"sqlite:///{tmp_path / 'data_page.sqlite3'}")
    migrate.upgrade(eng)
    with eng.begin() as conn:
        load_id = conn.execute(
            db.loads.insert().values(
                loaded_by="demo",
                loaded_at=dt.datetime.now(dt.UTC),
                files=json.dumps([{"name": f"demo:{t}", "sha256": ""} for t in contract.TABLES]),
                status="loaded",
                summary="synthetic demo network",
            )
        ).inserted_primary_key[0]
        rows = demo.insert_network(conn, network, load_id=load_id)
        conn.execute(db.loads.update().where(db.loads.c.load_id == load_id).values(rows_added=rows))
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", eng.url.render_as_string(hide_password=False))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield eng
    st.cache_data.clear()
    st.cache_resource.clear()
    eng.dispose()


# The Data page's check of one workbook in a fresh process, after a normal workbook warmed it up (imports, engine);
# prints the seconds and the growth of peak memory of the second check, and what it put on the screen.
MEASURE = """
import json, resource, sys, time
from streamlit.testing.v1 import AppTest
resource.setrlimit(resource.RLIMIT_AS, (4 * 1024**3, 4 * 1024**3))  # a runaway read dies here, not the machine
SCRIPT = "from pathlib import Path\\nfrom components import data, upload\\n" \\
         "upload.review(data.engine_or_stop(), [Path({path!r})], 'tester')\\n"
AppTest.from_string(SCRIPT.format(path=sys.argv[1]), default_timeout=120).run()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
at = AppTest.from_string(SCRIPT.format(path=sys.argv[2]), default_timeout=120).run()
seconds = time.perf_counter() - start
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"seconds": seconds, "mb": grown, "exceptions": [e.value for e in at.exception],
                  "errors": [e.value for e in at.error], "expanders": [e.label for e in at.expander]}))
"""


def _labels(at: AppTest, kind: str) -> list[str]:
    return [el.proto.label for el in at.get(kind)]


def _review_script(paths: list[str], user: str) -> None:
    """What the page runs on uploaded files, driven with paths (AppTest can't drive st.file_uploader)."""
    from pathlib import Path

    from components import data, upload

    upload.review(data.engine_or_stop(), [Path(p) for p in paths], user)


def _review(paths: list[Path]) -> AppTest:
    return AppTest.from_function(_review_script, kwargs={"paths": [str(p) for p in paths], "user": "tester"},
                                 default_timeout=60)  # fmt: skip


def _review_then_history_script(paths: list[str], user: str) -> None:
    """The page's upload section on `paths`, then its load history below it, in one run as the page draws them."""
    from pathlib import Path

    from components import data, upload

    engine = data.engine_or_stop()
    upload.review(engine, [Path(p) for p in paths], user)
    upload.load_history(engine)


def _loads(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(sa.select(db.loads.c.load_id, db.loads.c.loaded_by, db.loads.c.status)).all()


def test_page_renders_templates_and_history(engine: sa.Engine) -> None:
    at = AppTest.from_file(str(ROOT / "app_pages" / "data.py"), default_timeout=60).run()
    assert not at.exception
    downloads = _labels(at, "download_button")
    assert {f"{t}.csv" for t in contract.TABLES} <= set(downloads)
    assert any("XLSX" in label for label in downloads)
    assert any("No files chosen yet" in i.value for i in at.info)
    history = at.dataframe[-1].value
    assert history["Load"].tolist() == [1]  # headers a person reads, not column names
    assert history.iloc[0]["Loaded by"] == "demo" and history.iloc[0]["Status"] == "in place"
    assert at.selectbox(key="undo_load_id_0").options == ["1"]
    # Load 1 is the initial build, the whole network: its undo asks for the id typed, not a box ticked.
    assert not [c for c in at.checkbox if str(c.key).startswith("undo_confirm")]
    assert at.button(key="undo_load").disabled
    at.text_input(key="undo_typed_0_1").input("2").run()
    assert at.button(key="undo_load").disabled
    at.text_input(key="undo_typed_0_1").input("1").run()
    assert not at.button(key="undo_load").disabled
    assert _loads(engine) == [(1, "demo", "loaded")]  # typing alone undoes nothing


def test_bad_file_lists_problems_and_offers_no_load(engine: sa.Engine, tmp_path: Path) -> None:
    bad = tmp_path / "affiliates.csv"
    bad.write_text(AFFILIATES_HEADER + "NEW-1,New,affiliate,ZZ,Austin,,\nNEW 2,New,club,TX,Austin,1,2\n")
    at = _review([bad]).run()
    assert not at.exception
    assert at.error and "problem(s)" in at.error[0].value
    problems = at.dataframe[-1].value
    assert list(problems.columns) == ["file", "row", "column", "value", "message"]
    assert {("state", "ZZ"), ("affiliate_id", "NEW 2"), ("kind", "club")} <= set(
        zip(problems["column"], problems["value"], strict=True)
    )
    assert "Download problems (CSV)" in _labels(at, "download_button")
    assert not [b for b in at.button if b.key == "confirm_load"]
    assert _loads(engine) == [(1, "demo", "loaded")]


def test_good_file_is_counted_then_loaded_then_undone(engine: sa.Engine, tmp_path: Path) -> None:
    good = tmp_path / "affiliates.csv"
    good.write_text(AFFILIATES_HEADER + "NEW-1,New affiliate,affiliate,TX,Austin,30.27,-97.74\n")
    at = AppTest.from_function(_review_then_history_script, kwargs={"paths": [str(good)], "user": "tester"},
                               default_timeout=60).run()  # fmt: skip
    assert not at.exception and not at.error
    counts = next(d.value for d in at.dataframe if "Rows unchanged" in d.value.columns)
    assert counts.to_dict("records") == [{"Table": "affiliates", "Rows added": 1, "Rows changed": 0,
                                          "Rows unchanged": 0}]  # fmt: skip
    assert _loads(engine) == [(1, "demo", "loaded")]  # a check writes nothing

    at.button(key="confirm_load").click().run()
    assert not at.exception
    assert _loads(engine) == [(1, "demo", "loaded"), (2, "tester", "loaded")]
    # Right after the load, the undo form offers that load, not the initial build, with nothing ticked.
    offered = [b for b in at.selectbox if str(b.key).startswith("undo_load_id")]
    assert [b.value for b in offered] == [2]
    assert all(not c.value for c in at.checkbox if str(c.key).startswith("undo_confirm"))

    page = AppTest.from_file(str(ROOT / "app_pages" / "data.py"), default_timeout=60).run()
    assert page.dataframe[-1].value["Load"].tolist() == [2, 1]
    assert page.selectbox(key="undo_load_id_0").value == 2  # the newest load still in place
    assert page.button(key="undo_load").disabled  # undo needs its confirmation ticked first
    page.checkbox(key="undo_confirm_0_2").check().run()
    page.button(key="undo_load").click().run()
    assert not page.exception
    assert any("Load 2 undone" in s.value for s in page.success)
    assert _loads(engine)[-1] == (2, "tester", "undone")
    # After the undo the form starts afresh: the initial build is all that is left, asking for its id, nothing
    # ticked or typed, and the button off.
    assert page.selectbox(key="undo_load_id_1").value == 1
    assert all(not c.value for c in page.checkbox if str(c.key).startswith("undo_confirm"))
    assert page.text_input(key="undo_typed_1_1").value == ""
    assert page.button(key="undo_load").disabled
    with engine.connect() as conn:
        assert not conn.execute(sa.select(db.affiliates).where(db.affiliates.c.affiliate_id == "NEW-1")).first()


def _shared_strings_bomb(path: Path) -> Path:
    return shared_strings_bomb(path, 128)


def _far_cell(path: Path) -> Path:
    return with_cell(path, "XFD1048576", "A1:XFD1048576")


@pytest.mark.parametrize("hostile", [_shared_strings_bomb, _far_cell], ids=["shared_strings_bomb", "XFD1048576"])
def test_a_hostile_workbook_is_refused_before_any_preview_reads_it(
    engine: sa.Engine, small_csv: Path, tmp_path: Path, hostile: Callable[[Path], Path]
) -> None:
    plain = workbook(small_csv, tmp_path / "plain.xlsx")
    path = hostile(workbook(small_csv, tmp_path / "network.xlsx"))
    assert path.stat().st_size < 500_000
    try:
        done = subprocess.run([sys.executable, "-c", MEASURE, str(plain), str(path)], cwd=ROOT, capture_output=True,
                              text=True, timeout=180)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"{path.name}: no answer within 180 s")
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{path.name}: {found['seconds']:.2f} s, {found['mb']:.0f} MB")
    assert found["seconds"] < SECONDS and found["mb"] < MEGABYTES, found
    assert not found["exceptions"], found
    assert not [label for label in found["expanders"] if "network" in label], found  # no preview of it
    refused = upload_files.refusals(path)
    assert refused and all(p.file.startswith("network.xlsx") for p in refused)
    assert [e for e in found["errors"] if e.startswith("Not previewed")] == [
        f"Not previewed, refused unread: {markdown_text(p)}" for p in refused
    ], found
    assert "problem(s)" in found["errors"][-1], found  # the dry run refuses it too, from the same metadata


@pytest.mark.parametrize("page", ["overview", "outcomes", "map", "profile", "schools", "partners", "roi"])
def test_every_page_says_how_current_its_data_is(engine: sa.Engine, page: str) -> None:
    with engine.begin() as conn:  # a second load, undone: the newest load still in place is load 1
        conn.execute(db.loads.insert().values(loaded_by="x", loaded_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
                                              files="[]", status="undone"))  # fmt: skip
        loads = pd.read_sql_table("loads", conn)
    newest = loads[loads["status"] == "loaded"].sort_values("load_id").iloc[-1]
    when = pd.Timestamp(newest["loaded_at"])
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    expected = (
        f"Data as of {when.day} {when.strftime('%B %Y, %H:%M')} UTC (load {newest['load_id']}, the newest in place)."
    )
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=60).run()
    assert not at.exception
    assert expected in [c.value for c in at.caption], [c.value for c in at.caption][:4]


class _Uploaded:
    """What st.file_uploader hands back: a name and the bytes."""

    def __init__(self, path: Path) -> None:
        self.name, self._body = path.name, path.read_bytes()

    def getvalue(self) -> bytes:
        return self._body


def _upload_section_script(paths: list[str]) -> None:
    """The page's upload section, with a picker that holds `paths` until its key changes, as a new widget would."""
    from pathlib import Path

    import streamlit as st

    from components import data, upload
    from tests.pages.test_data_page import _Uploaded

    def picker() -> list:
        return [_Uploaded(Path(p)) for p in paths] if int(st.session_state.get("upload_round", 0)) == 0 else []

    upload.uploader = picker
    upload.upload_section(data.engine_or_stop())


def test_after_a_load_the_picker_starts_empty_and_no_confirm_is_left(engine: sa.Engine, tmp_path: Path) -> None:
    good = tmp_path / "affiliates.csv"
    good.write_text(AFFILIATES_HEADER + "NEW-1,New affiliate,affiliate,TX,Austin,30.27,-97.74\n")
    at = AppTest.from_function(_upload_section_script, kwargs={"paths": [str(good)]}, default_timeout=60).run()
    assert [b.key for b in at.button] == ["confirm_load"]
    at.button(key="confirm_load").click().run()
    assert not at.exception
    assert any("Load 2 recorded" in s.value for s in at.success)
    assert not [b for b in at.button if b.key == "confirm_load"]  # the loaded files are gone, and their button
    assert any("No files chosen yet" in i.value for i in at.info)
    counts = next(d.value for d in at.dataframe if "Rows added" in d.value.columns)
    assert counts["Rows added"].tolist() == [1]
    at.run()
    assert not at.success  # said once, not on every later run


def test_the_review_shows_each_changed_value_before_and_after(engine: sa.Engine, tmp_path: Path) -> None:
    with engine.connect() as conn:
        first = conn.execute(sa.select(db.affiliates).order_by(db.affiliates.c.affiliate_id).limit(2)).all()
    edited = tmp_path / "affiliates.csv"
    cities = ["Renamed City", first[1].city]
    lines = [f"{r.affiliate_id},{r.name},{r.kind},{r.state},{city},{r.latitude if r.latitude is not None else ''},"
             f"{r.longitude if r.longitude is not None else ''}" for r, city in zip(first, cities, strict=True)]  # fmt: skip
    edited.write_text(AFFILIATES_HEADER + "\n".join(lines) + "\n")
    at = _review([edited]).run()
    assert not at.exception and not at.error
    expander = next(e for e in at.expander if e.label.startswith("affiliates: 1 changed row"))
    changes = expander.dataframe[0].value
    assert changes.to_dict("records") == [{"Row": f"affiliate_id {first[0].affiliate_id}", "Column": "city",
                                           "Before": first[0].city, "After": "Renamed City"}]  # fmt: skip
    assert _loads(engine) == [(1, "demo", "loaded")]
