"""Benchmark: pages against their floor, our SQL against the naive read-everything baseline and DuckDB, the map,
the plotly figures, loading and the app's memory, at each scale.

Prints one markdown section per scale and writes them to docs/benchmarks.md. Figures, not pass/fail: these
machines are shared and noisy, so medians of several runs are reported, each beside the issue's target for it
(met / not met). Streamlit is driven from tools/ (page_timing, app_memory) in subprocesses, since dashboard/
never imports it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dashboard import access, config
from dashboard.data import contract, db, migrate, queries, rollup
from dashboard.data.queries import Filters
from dashboard.tools import bench_load, demo

ROOT = config.ROOT
PAGES = tuple(p.script for p in access.PAGES)
CHUNK = 100_000
SECTIONS = ("Build", "Queries", "Pages", "Map", "Briefs", "Loading", "Memory")

# The issue's targets: the 1x set applies below ~3x, the 10x set above.
WARM_MS_1X, COLD_MS_1X, FLOOR_RATIO_1X = 300.0, 1000.0, 1.5
COLD_MS_10X, NAIVE_RATIO_10X, DUCKDB_RATIO_10X = 2000.0, 10.0, 3.0
MAP_HTML_BYTES, MARKERS_S = 3_000_000, 3.0
MAP_HTML_BYTES_10X, MAP_MARKERS_S_1X, MAP_MARKERS_S_10X = 5_000_000, 1.5, 3.0
LOAD_RATIO = 0.5
RSS_BYTES_10X = 1 << 30


def progress(message: str) -> None:
    """One line on stderr, so a long run is not silent."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def verdict(ok: bool, target: str) -> str:
    """'met (target)' or 'not met (target)': the figure beside the target, never a test."""
    return f"{'met' if ok else '**not met**'} ({target})"


def tier(scale: float) -> str:
    """Which of the issue's target sets applies at this scale: '1x' or '10x'."""
    return "10x" if scale >= 3 else "1x"


def _index_sql(cur: Any, dialect: str, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the table's secondary indexes, those a bulk load may drop and rebuild."""
    if dialect == "sqlite":
        cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                    (table,))  # fmt: skip
    else:
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
            " AND i.tablename = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (table,),
        )
    return [(name, sql) for name, sql in cur.fetchall()]


def _tuples(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Rows as tuples of native Python values; SQLite stores a NaN as NULL, so missing values need no pass."""
    return list(zip(*(frame[c].tolist() for c in frame.columns), strict=True))


def _csv(frame: pd.DataFrame, table: sa.Table) -> str:
    """Rows as CSV for COPY: missing values empty (NULL), whole numbers in integer columns without a '.0'."""
    ints = {c: "Int64" for c in frame.columns if frame[c].dtype.kind == "f" and table.c[c].type.python_type is int}
    return frame.astype(ints).to_csv(index=False, header=False, lineterminator="\n")


@dataclass(frozen=True)
class Build:
    """What one build took: seconds in all, rows written, and of those seconds the joint suppression pass
    (published cells built and decided) with the number of cells it decided."""

    seconds: float
    rows: int
    cells_seconds: float
    cells: int


def build(engine: sa.Engine, network: demo.Network, scale: float) -> Build:
    """Replace the contract tables' rows with the network's, marked as the demo, by the backend's fastest path.

    One transaction: secondary indexes dropped, rows written (executemany on SQLite, COPY on PostgreSQL; foreign-key
    checks off for the build where the account may turn them off, and fsync off on SQLite), indexes rebuilt,
    rollups summed, published cells built and their suppression decided.
    """
    started = time.perf_counter()
    tables = network.tables()
    total = sum(len(f) for f in tables.values())
    dialect = engine.dialect.name
    names = [t.name for t in db.CONTRACT_TABLES] + [db.outcome_rollup.name, db.school_year_rollup.name]
    with engine.begin() as conn:
        cur = conn.connection.dbapi_connection.cursor()
        if dialect == "sqlite":
            cur.execute("PRAGMA foreign_keys=OFF")  # before the transaction begins; the data is generated whole
            cur.execute("PRAGMA synchronous=OFF")
            for name in reversed(names):
                cur.execute(f"DELETE FROM {name}")
        else:
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if cur.fetchone()[0]:
                cur.execute("SET LOCAL session_replication_role = replica")  # foreign-key triggers off, as above
            cur.execute(f"TRUNCATE {', '.join(names)}")
        load_id = conn.execute(
            db.loads.insert().values(
                loaded_by="bench", loaded_at=dt.datetime.now(dt.UTC), status="loaded",
                files=json.dumps([{"name": f"demo:{n}", "sha256": ""} for n in contract.TABLES]),
                summary=f"synthetic demo network, scale {scale:g} (benchmark)",
            )
        ).inserted_primary_key[0]  # fmt: skip
        done, last = 0, time.perf_counter()
        for name, frame in tables.items():
            indexes = _index_sql(cur, dialect, name)
            for index, _ in indexes:
                cur.execute(f'DROP INDEX "{index}"')
            frame = frame.assign(load_id=load_id)
            if "latitude" in frame:
                frame = frame.assign(approximate_location=False)
            columns = [c for c in frame.columns if c in db.metadata.tables[name].c]
            for start in range(0, len(frame), CHUNK):
                part = frame[columns].iloc[start : start + CHUNK]
                if dialect == "sqlite":
                    marks = ", ".join("?" for _ in columns)
                    cur.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", _tuples(part))
                else:
                    with cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
                        copy.write(_csv(part, db.metadata.tables[name]))
                done += len(part)
                if time.perf_counter() - last > 10:
                    progress(f"{dialect}: {done:,} of {total:,} rows written ({name})")
                    last = time.perf_counter()
            if indexes:
                progress(f"{dialect}: {name} written, rebuilding {len(indexes)} index(es)")
            for _, sql in indexes:
                cur.execute(sql)
        progress(f"{dialect}: {total:,} rows written in {time.perf_counter() - started:.0f} s; summing the rollups")
        rollup.refresh_sums(conn, None)
        progress(f"{dialect}: rollups summed; building and deciding the published cells")
        cells_started = time.perf_counter()
        rollup.refresh_published_cells(conn, None)
        cells_seconds = time.perf_counter() - cells_started
        cells = conn.execute(sa.select(sa.func.count()).select_from(db.published_cells)).scalar_one()
        conn.execute(db.loads.update().where(db.loads.c.load_id == load_id).values(rows_added=total))
        conn.execute(db.meta.delete().where(db.meta.c.key == "demo"))
        conn.execute(db.meta.insert().values(key="demo", value="true"))
    if dialect == "sqlite":
        engine.dispose()  # the build's connection had foreign keys off
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    return Build(time.perf_counter() - started, total, cells_seconds, cells)


def _ours(engine: sa.Engine, year: str) -> dict[str, Callable[[], object]]:
    return {
        "overview": lambda: (
            queries.kpi_totals(engine, Filters()),
            queries.partners_by_year(engine, Filters()),
            queries.kpi_totals(engine, Filters(school_years=(year,)), level="state"),
            queries.outcome_rates(engine, Filters(school_years=(year,)), by_tier=False),
        ),
        "outcomes (state drill)": lambda: queries.outcome_rates(
            engine, Filters(school_years=(year,), states=("TX",)), level="affiliate"
        ),
    }


def _naive(engine: sa.Engine, year: str) -> dict[str, Callable[[], object]]:
    """What many dashboards do: read whole tables, then filter and group in pandas."""

    def overview() -> object:
        with engine.connect() as conn:
            sy = pd.read_sql(sa.select(db.school_years), conn)
            sch = pd.read_sql(sa.select(db.schools), conn)
            ps = pd.read_sql(sa.select(db.partnerships), conn)
            out = pd.read_sql(sa.select(db.outcomes), conn)
        m = sy.merge(sch, on="school_id")
        return (
            m.groupby("school_year")[["students_served", "tier3_students", "volunteers"]].sum(),
            ps.groupby("school_year")["partner_id"].nunique(),
            m[m["school_year"] == year].groupby("state")["students_served"].sum(),
            out[out["school_year"] == year].groupby("metric")[["met", "eligible"]].sum(),
        )

    def outcomes() -> object:
        with engine.connect() as conn:
            out = pd.read_sql(sa.select(db.outcomes), conn)
            sch = pd.read_sql(sa.select(db.schools), conn)
        m = out.merge(sch, on="school_id")
        m = m[(m["school_year"] == year) & (m["state"] == "TX")]
        return m.groupby(["affiliate_id", "school_year", "tier", "metric"])[["eligible", "met"]].sum()

    return {"overview": overview, "outcomes (state drill)": outcomes}


def _duckdb(network: demo.Network, year: str) -> dict[str, Callable[[], object]]:
    import duckdb

    con = duckdb.connect()
    for name, frame in network.tables().items():
        con.register(name, frame)

    def overview() -> object:
        return (
            con.execute(
                "SELECT school_year, sum(students_served), sum(tier3_students), sum(volunteers) FROM school_years"
                " GROUP BY 1"
            ).fetchall(),
            con.execute("SELECT school_year, count(DISTINCT partner_id) FROM partnerships GROUP BY 1").fetchall(),
            con.execute(
                "SELECT s.state, sum(y.students_served) FROM school_years y JOIN schools s USING (school_id)"
                " WHERE y.school_year = ? GROUP BY 1",
                [year],
            ).fetchall(),
            con.execute(
                "SELECT metric, sum(met), sum(eligible) FROM outcomes WHERE school_year = ? GROUP BY 1", [year]
            ).fetchall(),
        )

    def outcomes() -> object:
        return con.execute(
            "SELECT s.affiliate_id, o.tier, o.metric, sum(o.eligible), sum(o.met) FROM outcomes o"
            " JOIN schools s USING (school_id) WHERE o.school_year = ? AND s.state = 'TX' GROUP BY 1, 2, 3",
            [year],
        ).fetchall()

    return {"overview": overview, "outcomes (state drill)": outcomes}


def query_lines(backends: list[tuple[str, sa.Engine]], network: demo.Network, year: str, runs: int,
                scale: float) -> list[str]:  # fmt: skip
    """The query table: ours, naive and DuckDB medians and their ratios, with the 10x targets."""
    lines = [
        "| backend | query set | ours (ms) | naive read + pandas (ms) | naive / ours | DuckDB (ms) | ours / DuckDB "
        "| target |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    duck = _duckdb(network, year)
    for name, engine in backends:
        ours, naive = _ours(engine, year), _naive(engine, year)
        for key in ours:
            progress(f"queries: {name} {key}")
            t_ours = median_ms(ours[key], runs)
            t_naive = median_ms(naive[key], max(1, runs // 2))
            t_duck = median_ms(duck[key], runs)
            target = "–"
            if tier(scale) == "10x":
                target = "; ".join((
                    verdict(t_naive / t_ours >= NAIVE_RATIO_10X, f"naive / ours ≥ {NAIVE_RATIO_10X:g}"),
                    verdict(t_ours / t_duck <= DUCKDB_RATIO_10X, f"ours / DuckDB ≤ {DUCKDB_RATIO_10X:g}"),
                ))  # fmt: skip
            lines.append(
                f"| {name} | {key} | {t_ours:.1f} | {t_naive:.1f} | {t_naive / t_ours:.2f}x | {t_duck:.1f} |"
                f" {t_ours / t_duck:.2f}x | {target} |"
            )
    return lines


def _page_runs(url: str, runs: int) -> dict[str, Any]:
    """Per page, through AppTest in a subprocess (tools/page_timing.py): cold and warm medians, SQL floor, plotly."""
    done = subprocess.run(
        [sys.executable, "-m", "tools.page_timing", url, str(runs), *PAGES],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def page_lines(name: str, url: str, runs: int, scale: float) -> list[str]:
    """The page table of one backend: cold and warm medians, the floor (the page's SQL replayed on the DBAPI plus
    an empty page), page / floor, plotly JSON size, and the targets of the scale."""
    try:
        result = _page_runs(url, runs)
    except (subprocess.CalledProcessError, ValueError, IndexError) as exc:
        return [f"Pages on {name}: not measured, tools/page_timing failed ({type(exc).__name__}; see stderr)."]
    empty = result["empty"]
    lines = [
        f"Pages on {name}, as an admin (scope: everything), median of {runs} runs. Floor = the SQL the page sent, "
        f"replayed directly on the DBAPI, plus an empty Streamlit page ({empty['cold_ms']:.1f} ms cold, "
        f"{empty['warm_ms']:.1f} ms warm).",
        "",
        "| page | cold (ms) | warm (ms) | SQL statements cold / warm | floor cold (ms) | page / floor cold "
        "| floor warm (ms) | page / floor warm | plotly JSON (KB) | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for script in PAGES:
        r = result["pages"][script]
        if r.get("error"):
            lines.append(f"| {script} | error: {r['error']} | | | | | | | | |")
            continue
        floor_cold = r["sql_cold_ms"] + empty["cold_ms"]
        floor_warm = r["sql_warm_ms"] + empty["warm_ms"]
        checks = []
        if tier(scale) == "1x" and name == "SQLite":
            checks = [
                verdict(r["cold_ms"] < COLD_MS_1X, f"cold < {COLD_MS_1X:g} ms"),
                verdict(r["warm_ms"] < WARM_MS_1X, f"warm < {WARM_MS_1X:g} ms"),
                verdict(r["cold_ms"] / floor_cold < FLOOR_RATIO_1X, f"page / floor < {FLOOR_RATIO_1X:g}"),
            ]
        elif tier(scale) == "10x":
            checks = [verdict(r["cold_ms"] < COLD_MS_10X, f"cold < {COLD_MS_10X:g} ms")]
        lines.append(
            f"| {script} | {r['cold_ms']:.1f} | {r['warm_ms']:.1f} | {r['statements_cold']} / {r['statements_warm']}"
            f" | {floor_cold:.1f} | {r['cold_ms'] / floor_cold:.2f}x | {floor_warm:.1f}"
            f" | {r['warm_ms'] / floor_warm:.2f}x | {r['plotly_bytes'] / 1000:.1f} | {'; '.join(checks) or '–'} |"
        )
    return lines


def map_markers_visible_s(html: str, runs: int = 3) -> float | None:
    """Median seconds from opening the map's HTML (vendored assets, file URLs) in headless Chromium to its first
    school and partner clusters on screen; None when Playwright or Chromium is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    chromium = os.environ.get("BROWSER_PATH") or shutil.which("chromium")
    if not chromium:
        return None
    times = []
    with tempfile.TemporaryDirectory(prefix="bench_map_") as tmp, sync_playwright() as p:
        page_file = Path(tmp) / "map.html"
        page_file.write_text(html)
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            started = time.perf_counter()
            page.goto(page_file.as_uri(), wait_until="commit")
            for layer in ("school", "partner"):
                page.locator(f".map-cluster-{layer}").first.wait_for(state="visible", timeout=120_000)
            times.append(time.perf_counter() - started)
            page.close()
        browser.close()
    return statistics.median(times)


def map_lines(engine: sa.Engine, year: str, scale: float) -> list[str]:
    """HTML size, build time and time to markers in Chromium of the folium map with every layer, built as the Map
    page builds it for the national view."""
    from dashboard.views import (
        map as map_view,  # folium is imported only when the map is measured, not on every CLI command
    )

    view = Filters()
    started = time.perf_counter()
    frame = map_view.places(
        queries.map_schools(engine, view, queries.EVERYTHING, year),
        queries.map_affiliates(engine, view, queries.EVERYTHING, year),
        queries.map_partners(engine, view, queries.EVERYTHING, year),
    )
    totals = map_view.state_totals(queries.kpi_totals(engine, view.with_years(year), queries.EVERYTHING, "state"))
    queried = time.perf_counter()
    html = map_view.render_html(map_view.build_map(frame, totals, year, map_view.MapSettings()))
    built = time.perf_counter()
    size = len(html.encode())
    layers = frame["layer"].value_counts()
    points = map_view.draws_points(layers.get("school", 0), layers.get("partner", 0))
    progress("map: time to markers in Chromium")
    local = map_view.MapSettings(asset_base=map_view.STATIC.as_uri() + "/")
    markers = map_markers_visible_s(map_view.render_html(map_view.build_map(frame, totals, year, local)))
    at_1x = tier(scale) == "1x"
    size_target = (verdict(size < MAP_HTML_BYTES, "< 3 MB at 1x") if at_1x
                   else verdict(size < MAP_HTML_BYTES_10X, "< 5 MB at 10x"))  # fmt: skip
    if markers is None:
        markers_cells = "not measured (no Playwright or Chromium) | –"
    else:
        limit = MAP_MARKERS_S_1X if at_1x else MAP_MARKERS_S_10X
        markers_cells = f"{markers:.2f} | {verdict(markers < limit, f'< {limit:g} s at {tier(scale)}')}"
    drawn = "every layer" if points else f"states and affiliates (over {map_view.MAX_PLACES:,} places)"
    return [
        "| map (SQLite, the whole network) | figure | target |",
        "| --- | ---: | --- |",
        f"| places: affiliates / schools / partners | {layers.get('affiliate', 0):,} / {layers.get('school', 0):,}"
        f" / {layers.get('partner', 0):,} | – |",
        f"| queries + places (ms) | {(queried - started) * 1000:.0f} | – |",
        f"| build + render HTML, every layer (ms) | {(built - queried) * 1000:.0f} | – |",
        f"| HTML size, every layer (MB) | {size / 1e6:.2f} | {size_target} |",
        f"| the page's national view draws | {drawn} | – |",
        f"| Chromium: open to school and partner clusters on screen, median of 3 (s) | {markers_cells} |",
    ]


def load_lines(backends: list[tuple[str, str]], scale: float) -> list[str]:
    """Rows per second of a full-year load through the loader against a raw bulk insert (dashboard/bench_load)."""
    lines = [f"Median of {bench_load.LOAD_RUNS} runs of each, alternating, each into a new empty database.", "",
             "| backend | " + " | ".join(("school year", "rows", "loader (s)", "loader rows/s", "raw insert (s)",
                                         "raw rows/s", "loader / raw", "target")) + " |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for name, url in backends:
        progress(f"loading: {name}")
        try:
            r = bench_load.load_rate(url, scale)
        except Exception as exc:  # one backend's failure is said in its row; the rest of the run still prints
            lines.append(f"| {name} | error: {type(exc).__name__}: {exc} | | | | | | | |")
            continue
        ratio = r["load_rows_per_s"] / r["raw_rows_per_s"]
        lines.append(
            f"| {name} | {r['school_year']} | {r['rows']:,} | {r['load_s']:.2f} | {r['load_rows_per_s']:,} |"
            f" {r['raw_s']:.2f} | {r['raw_rows_per_s']:,} | {ratio:.2f} |"
            f" {verdict(ratio >= LOAD_RATIO, 'loader ≥ 50% of raw')} |"
        )
    return lines


def memory_lines(url: str, scale: float) -> list[str]:
    """Peak resident memory of `streamlit run app.py` while a browser clicks through every page (tools/app_memory)."""
    done = subprocess.run([sys.executable, "-m", "tools.app_memory", url], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        return [f"Memory: not measured (tools/app_memory exited with {done.returncode}; see stderr)."]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    if r.get("error"):
        return [f"Memory: not measured ({r['error']})."]
    rss_target = "–"
    if tier(scale) == "10x":
        rss_target = verdict(r["peak_rss_bytes"] < RSS_BYTES_10X, "< 1 GB at 10x")
    markers = r.get("markers_visible_s")
    lines = [
        "| app process (SQLite, admin clicking through every page) | figure | target |",
        "| --- | ---: | --- |",
        f"| pages visited | {', '.join(r['visited'])} | – |",
        f"| pages showing an exception | {', '.join(r.get('exceptions', [])) or 'none'} | – |",
        f"| resident after start (MB) | {r['start_rss_bytes'] / 2**20:.0f} | – |",
        f"| resident at the end (MB) | {r['end_rss_bytes'] / 2**20:.0f} | – |",
        f"| peak resident, VmHWM (MB) | {r['peak_rss_bytes'] / 2**20:.0f} | {rss_target} |",
    ]
    if markers is None:
        lines.append("| map markers visible after navigation (s) | not seen | – |")
    else:
        lines.append(f"| map markers visible after navigation (s) | {markers:.2f} |"
                     f" {verdict(markers <= MARKERS_S, '≤ 3 s at 1x') if tier(scale) == '1x' else '–'} |")  # fmt: skip
    for page, ms in r.get("page_ms", {}).items():
        lines.append(f"| browser: {page} ready after click (ms) | {ms:.0f} | – |")
    return lines


def brief_lines(engine: sa.Engine, year: str, runs: int, scale: float) -> list[str]:
    """Time (figures read, the trend chart drawn, the page laid out) and size of one brief, PDF and PowerPoint, for
    the nation, the state and the affiliate with the most schools and that affiliate's largest school; and the first
    PDF of a process, which starts Chromium for the chart."""
    from dashboard.briefs import content, pdf, slides

    counts = queries.read_frame(
        engine, sa.select(db.schools.c.state, db.schools.c.affiliate_id, db.schools.c.school_id)
    )
    state, affiliate = counts["state"].mode()[0], counts["affiliate_id"].mode()[0]
    served = queries.affiliate_school_list(engine, affiliate, year)
    school = str(served.sort_values("students_served", ascending=False)["school_id"].iloc[0])
    places = [("nation", content.Place()), (state, content.Place(state=state)),
              (affiliate, content.Place(affiliate=affiliate)), (f"a school of {affiliate}", content.Place(school=school))]  # fmt: skip
    started = time.perf_counter()
    pdf.render(content.build(engine, places[0][1], year))
    first = (time.perf_counter() - started) * 1000
    at_1x = tier(scale) == "1x"
    lines = ["| brief (SQLite) | PDF (ms) | PDF (KB) | PowerPoint (ms) | PowerPoint (KB) | target |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for name, place in places:
        sizes, times = {}, {}
        for kind, module in (("pdf", pdf), ("pptx", slides)):
            times[kind] = median_ms(lambda m=module, p=place: m.render(content.build(engine, p, year)), runs)
            sizes[kind] = len(module.render(content.build(engine, place, year))) / 1024
        ok = max(times.values()) < 3000 and max(sizes.values()) < 1024
        lines.append(f"| {name} | {times['pdf']:.0f} | {sizes['pdf']:.0f} | {times['pptx']:.0f} | {sizes['pptx']:.0f}"
                     f" | {verdict(ok, '< 3 s and < 1 MB at 1x') if at_1x else '–'} |")  # fmt: skip
    lines += ["", f"The first PDF of a process took {first:,.0f} ms: it starts the Chromium that draws the trend chart"
              " (kept for the next ones). Medians above are of warm runs."]  # fmt: skip
    return lines


def run_scale(scale: float, runs: int, database_url: str | None, skip: frozenset[str] = frozenset()) -> str:
    """Build the network at one scale, measure, and return the markdown section."""
    started = time.perf_counter()
    progress(f"scale {scale:g}: generating the network")
    network = demo.generate(scale=scale)
    year = demo.YEARS[-1]
    rows = sum(len(f) for f in network.tables().values())
    lines = [f"## Scale {scale:g}: {len(network.schools):,} schools, {rows:,} rows", "",
             f"Targets shown are the issue's {tier(scale)} targets.", "", "### Build", ""]  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="bench_"))
    try:
        sqlite = db.create_engine(f"sqlite:///{tmp / 'bench.sqlite3'}")
        migrate.upgrade(sqlite)
        built = build(sqlite, network, scale)
        lines.append(f"- SQLite: {built.seconds:.1f} s for {rows:,} rows ({rows / built.seconds:,.0f} rows/s;"
                     " executemany in one transaction, indexes rebuilt after, rollups summed), of which"
                     f" {built.cells_seconds:.1f} s the joint suppression pass over {built.cells:,} published cells.")  # fmt: skip
        backends: list[tuple[str, sa.Engine]] = [("SQLite", sqlite)]
        if database_url:
            pg = db.create_engine(database_url)
            migrate.upgrade(pg)
            built = build(pg, network, scale)
            lines.append(f"- PostgreSQL: {built.seconds:.1f} s for {rows:,} rows ({rows / built.seconds:,.0f} rows/s;"
                         " COPY in one transaction, indexes rebuilt after, rollups summed), of which"
                         f" {built.cells_seconds:.1f} s the joint suppression pass over {built.cells:,} published cells.")  # fmt: skip
            backends.append(("PostgreSQL", pg))
        urls = [(name, engine.url.render_as_string(hide_password=False)) for name, engine in backends]

        lines += ["", "### Queries", ""]
        if "queries" in skip:
            lines.append("skipped (--skip queries).")
        else:
            lines += query_lines(backends, network, year, runs, scale)
        del network  # the pages, loader and app below are measured without the generated frames in memory

        lines += ["", "### Pages", ""]
        for name, url in urls:
            if "pages" in skip:
                lines.append("skipped (--skip pages).")
                break
            progress(f"pages: {name}")
            lines += [*page_lines(name, url, runs, scale), ""]

        lines += ["", "### Map", ""]
        lines += ["skipped (--skip map)."] if "map" in skip else map_lines(sqlite, year, scale)

        lines += ["", "### Briefs", ""]
        lines += ["skipped (--skip briefs)."] if "briefs" in skip else brief_lines(sqlite, year, runs, scale)

        lines += ["", "### Loading", ""]
        lines += ["skipped (--skip load)."] if "load" in skip else load_lines(urls, scale)

        lines += ["", "### Memory", ""]
        if "memory" in skip:
            lines.append("skipped (--skip memory).")
        else:
            progress("memory: streamlit run app.py and a browser")
            lines += memory_lines(urls[0][1], scale)
        for _, engine in backends:
            engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines += ["", f"Scale {scale:g} measured in {time.perf_counter() - started:.0f} s end to end."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry for `python -m dashboard bench`."""
    parser = argparse.ArgumentParser(prog="python -m dashboard bench")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench command's options."""
    parser.add_argument("--scale", type=float, nargs="+", default=[1.0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions; medians are reported")
    parser.add_argument(
        "--database-url", default=None, help="also measure on this PostgreSQL (its tables are replaced)"
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--skip", nargs="*", default=[], choices=["queries", "pages", "map", "briefs", "load", "memory"],
                        help="parts not to measure (their sections say so)")  # fmt: skip
    parser.add_argument("--users", type=int, nargs="+", default=None,
                        help="measure only simultaneous users, e.g. --users 1 5 10 25 (its own section of --out)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2,
                        help="with --users: replicas behind nginx for the second arrangement (0: skip it)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Measure each scale, print each section as it is done and write them all to --out."""
    if args.users:
        from dashboard.tools import bench_users

        for scale in args.scale:
            with tempfile.TemporaryDirectory(prefix="bench_users_") as tmp:
                engine = db.create_engine(f"sqlite:///{Path(tmp) / 'users.sqlite3'}")
                migrate.upgrade(engine)
                progress(f"users: building the demo network at scale {scale:g}")
                build(engine, demo.generate(scale=scale), scale)
                url = engine.url.render_as_string(hide_password=False)
                engine.dispose()
                text = bench_users.section(url, scale, args.users, args.workers)
            print(text, flush=True)
            bench_users.write(Path(args.out), text)
        return 0
    command = f"python -m dashboard bench --scale {' '.join(f'{s:g}' for s in args.scale)} --runs {args.runs}"
    if args.database_url:
        command += " --database-url <PostgreSQL URL>"
    header = (
        f"# Benchmarks\n\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}."
        f" Command: `{command}`.\n\n"
    )
    sections = []
    for scale in args.scale:
        section = run_scale(scale, args.runs, args.database_url, frozenset(args.skip))
        print(section, flush=True)
        sections.append(section)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(header + "\n".join(sections))
    return 0
