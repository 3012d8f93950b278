"""Each page through AppTest as the heaviest role (admin: scope everything), as JSON on the last stdout line.

Per page: cold (data caches cleared, then the session reruns) and warm (cached, the session reruns again) median
run times; the SQL each run
sent, recorded by a SQLAlchemy event and replayed straight on the DBAPI (the page's floor, less the empty page);
and the size of its plotly figures' JSON. Run by `python -m dashboard bench`; lives outside dashboard/ because
it drives Streamlit, which the core never imports.

    python -m tools.page_timing <database url> <runs> pages/overview.py pages/roi.py ...
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import streamlit as st
import streamlit.logger
from streamlit.testing.v1 import AppTest

from dashboard.data import db, queries
from dashboard.tools.bench import median_ms

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 600

Statement = tuple[str, Any, bool]
_recording: list[Statement] | None = None


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _record(_conn, _cursor, statement, parameters, _context, executemany) -> None:
    if _recording is not None:
        _recording.append((statement, parameters, executemany))


def _progress(message: str) -> None:
    print(f"[page_timing {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _timed_run(at: AppTest, record: bool) -> tuple[float, list[Statement]]:
    """Run the page once; its time in ms and, when asked, the statements it sent."""
    global _recording
    _recording = [] if record else None
    try:
        started = time.perf_counter()
        at.run()
        return (time.perf_counter() - started) * 1000, _recording or []
    finally:
        _recording = None


def _reads(statements: list[Statement]) -> list[Statement]:
    """The statements that only read (a replay must not write twice)."""
    return [s for s in statements if s[0].lstrip().upper().startswith(("SELECT", "WITH"))]


def replay_ms(engine: sa.Engine, statements: list[Statement], runs: int) -> float:
    """Median ms of sending these statements straight through the DBAPI and fetching every row."""
    if not statements:
        return 0.0
    raw = engine.raw_connection()
    try:

        def once() -> None:
            cur = raw.cursor()
            for statement, parameters, many in statements:
                if many:
                    cur.executemany(statement, parameters)
                else:
                    cur.execute(statement, parameters)
                if cur.description is not None:
                    cur.fetchall()
            cur.close()

        return median_ms(once, runs)
    finally:
        raw.rollback()
        raw.close()


def _plotly_bytes(at: AppTest) -> int:
    return sum(len(e.proto.spec.encode()) for e in at.get("plotly_chart"))


def _error(at: AppTest) -> str | None:
    if not at.exception:
        return None
    exc = at.exception[0]
    where = next((line for line in reversed(exc.stack_trace) if line.strip().startswith("File ")), "")
    text = f"{exc.message} ({where.strip()})" if where else exc.message
    return " ".join(str(text).split())[:300].replace("|", "/")


def _new(script: Path) -> AppTest:
    at = AppTest.from_file(str(script), default_timeout=TIMEOUT_S)
    at.session_state["scope"] = queries.EVERYTHING  # the admin's scope: every school
    return at


def page(script: Path, runs: int, engine: sa.Engine) -> dict[str, Any]:
    """One page's figures; a page that raises gives its error instead.

    One AppTest session per page, run once before measuring: a new AppTest scans every installed package for
    components (~120 ms here), a cost of the test harness that a real server's session does not pay.
    """
    at = _new(script)
    at.run()  # imports, the engine, the harness: paid once per process by a real server too
    cold, warm, sent_cold, sent_warm, plotly = [], [], [], [], 0
    for i in range(runs):
        st.cache_data.clear()
        ms, sent = _timed_run(at, record=i == 0)
        if error := _error(at):
            return {"error": error}
        cold.append(ms)
        if i == 0:
            sent_cold, plotly = sent, _plotly_bytes(at)
        ms, sent = _timed_run(at, record=i == 0)
        warm.append(ms)
        if i == 0:
            sent_warm = sent
    reads_cold, reads_warm = _reads(sent_cold), _reads(sent_warm)
    return {
        "cold_ms": statistics.median(cold),
        "warm_ms": statistics.median(warm),
        "statements_cold": len(sent_cold),
        "statements_warm": len(sent_warm),
        "sql_cold_ms": replay_ms(engine, reads_cold, runs),
        "sql_warm_ms": replay_ms(engine, reads_warm, runs),
        "writes_not_replayed": len(sent_cold) - len(reads_cold) + len(sent_warm) - len(reads_warm),
        "plotly_bytes": plotly,
    }


def empty_page(runs: int) -> dict[str, float]:
    """Median ms of a page that only writes an empty string, measured as the pages are (cold: caches cleared)."""
    with tempfile.TemporaryDirectory(prefix="empty_page_") as tmp:
        script = Path(tmp) / "empty_page.py"
        script.write_text("import streamlit as st\n\nst.write('')\n")
        at = AppTest.from_file(str(script))
        at.run()
        cold, warm = [], []
        for _ in range(runs):
            st.cache_data.clear()
            cold.append(_timed_run(at, record=False)[0])
            warm.append(_timed_run(at, record=False)[0])
        return {"cold_ms": statistics.median(cold), "warm_ms": statistics.median(warm)}


def main(url: str, runs: int, scripts: list[str]) -> dict[str, Any]:
    streamlit.logger.set_log_level("error")  # AppTest's 'missing ScriptRunContext' warnings would bury the progress
    st.set_option("client.showErrorDetails", "full")  # a page's error named in the report, not redacted
    os.environ["DASHBOARD_DATABASE_URL"] = url
    engine = db.create_engine(url)
    out: dict[str, Any] = {"pages": {}, "empty": empty_page(runs)}
    for script in scripts:
        path = ROOT / script
        _progress(f"{script}: {runs} cold and warm runs")
        try:
            result = page(path, runs, engine)
        except Exception as exc:  # a script moved or broken by someone mid-run: said in the table, the rest measured
            result = {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}".replace("|", "/")}
        out["pages"][script] = result
        if "error" in result:
            _progress(f"{script}: error: {result['error']}")
        else:
            _progress(f"{script}: cold {result['cold_ms']:.0f} ms, warm {result['warm_ms']:.0f} ms, "
                      f"SQL {result['sql_cold_ms']:.0f} ms")  # fmt: skip
    engine.dispose()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])))
